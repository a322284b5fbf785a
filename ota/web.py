"""Request and template helpers every blueprint shares."""
import unicodedata

from flask import Flask, abort, current_app, request
from flask_babel import format_datetime, get_locale
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.routing import IntegerConverter

from ota.models import TaskStatus, UpgradeStatus
from ota.services.health import service_problems


# The largest id a table holds (PostgreSQL integer). A larger number in a URL overflowed the
# database driver (a 500: OverflowError on SQLite past 2**63, NumericValueOutOfRange on PostgreSQL).
ID_MAX = 2**31 - 1


def _at_most(limit: int) -> str:
    """Return a regex of the numbers 1..limit written without leading zeros."""
    s, n = str(limit), len(str(limit))
    alts = [rf"[1-9]\d{{0,{n - 2}}}"] if n > 1 else []  # every shorter number
    for i, digit in enumerate(s):  # same length: limit's first i digits, then a smaller digit
        low, rest = (1 if i == 0 else 0), n - i - 1
        if int(digit) > low:
            alts.append(f"{s[:i]}[{low}-{int(digit) - 1}]" + (rf"\d{{{rest}}}" if rest else ""))
    return "(?:" + "|".join([*alts, s]) + ")"


class IdConverter(IntegerConverter):
    """The `<int:...>` converter of every route: only 1..ID_MAX match, so any other number is a 404.

    The bound is in the regex: Werkzeug converts values only after choosing a rule, so a
    to_python refusal would be a 405 (or, on a socket route, a 400) where another method matched.
    """

    regex = _at_most(ID_MAX)

    def __init__(self, map, fixed_digits=0, min=1, max=ID_MAX, signed=False):
        super().__init__(map, fixed_digits, min, max, signed)


def bounded_int(value, default=None):
    """Return value as an id-sized int (1..ID_MAX), or default when it is absent, not a number, or outside."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return number if 1 <= number <= ID_MAX else default


def page_arg(args=None) -> int:
    """Return ?page= clamped to 1..ID_MAX (1 when absent or not a number): a huge page is just past the end."""
    value = (request.args if args is None else args).get("page")
    try:
        return min(max(int(value), 1), ID_MAX)
    except (TypeError, ValueError):
        return 1


def form_in_query(view):
    """Mark a view that binds its query string to a form: the form, not a 400, reports bad characters."""
    view.ota_form_in_query = True
    return view


def _refuse_control_characters() -> None:
    """Refuse a query string or URL part holding a control character (NUL fails a PostgreSQL query).

    Refused rather than stripped: such a value comes from a broken link or tampering, and a
    search for something other than what was asked would mislead.
    """
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    values = [v for v in (request.view_args or {}).values() if isinstance(v, str)]
    if not getattr(view, "ota_form_in_query", False):
        values += [*request.args.keys(), *(v for vs in request.args.listvalues() for v in vs)]
    if any(unicodedata.category(ch) == "Cc" for v in values for ch in v):
        abort(400, description=_("The address contains a control character (such as NUL). Remove it and try again."))


def wants_fragment() -> bool:
    """Return whether htmx asked for a fragment (not a boosted page, not a history restore)."""
    h = request.headers
    return bool(h.get("HX-Request")) and not h.get("HX-Boosted") and not h.get("HX-History-Restore-Request")


def filesize(n: int | None) -> str:
    """Format a byte count the way the console shows sizes (1,024-based)."""
    if n is None:
        return "—"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.2f} {unit}"
        size /= 1024
    return f"{n} B"


def when(value) -> str:
    """Format a stored UTC time in the display time zone, or a dash."""
    return format_datetime(value, "yyyy-MM-dd HH:mm:ss") if value else "—"


def _vary(response):
    """Say that pages differ by HX-Request, so caches never serve a fragment as a page."""
    response.vary.add("HX-Request")
    return response


def init_app(app: Flask) -> None:
    """Register the id converter (before any blueprint adds a route), filters, globals and the Vary header."""
    app.url_map.converters["int"] = IdConverter
    app.before_request(_refuse_control_characters)
    app.jinja_env.filters["filesize"] = filesize
    app.jinja_env.filters["when"] = when
    app.after_request(_vary)

    @app.context_processor
    def globals_():
        return {
            "TaskStatus": TaskStatus,
            "UpgradeStatus": UpgradeStatus,
            "current_locale": str(get_locale()),
            "languages": app.config["LANGUAGES"],
            "wants_fragment": wants_fragment,
            "service_problems": service_problems() if current_user.is_authenticated else [],
        }
