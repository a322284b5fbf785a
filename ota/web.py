"""Request and template helpers every blueprint shares."""
from flask import Flask, request
from flask_babel import format_datetime, get_locale
from flask_login import current_user

from ota.models import TaskStatus, UpgradeStatus
from ota.services.health import service_problems


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
    """Register filters, globals and the Vary header."""
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
