"""Simplified Chinese (default) and English: locale choice and catalog compilation."""
import os
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, current_app, has_request_context, session

from flask_babel import refresh
from flask_babel.speaklater import LazyString

from ota.extensions import babel

SOURCE_DIR = Path(__file__).parent / "translations"


def select_locale() -> str:
    """Use the language the user chose, else Chinese (the console's language; English is a switch)."""
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # CLI, jobs, the gateway: messages in the default language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    chosen = session.get("lang")
    return chosen if chosen in languages else current_app.config["BABEL_DEFAULT_LOCALE"]


def compile_catalogs(target: Path) -> None:
    """Compile every .po under ota/translations into target when the .mo is missing or older.

    Compiled at start-up so a clean checkout never serves a stale or missing catalog.
    """
    for po in SOURCE_DIR.glob("*/LC_MESSAGES/*.po"):
        mo = target / po.relative_to(SOURCE_DIR).with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        mo.parent.mkdir(parents=True, exist_ok=True)
        with po.open("rb") as f:
            catalog = read_po(f)
        tmp = mo.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as f:
            write_mo(f, catalog)
        os.replace(tmp, mo)  # atomic, for processes starting together


def escape_lazy_strings() -> None:
    """Make Jinja escape lazy_gettext() strings like any str (Flask-Babel marks them safe HTML).

    LazyString.__html__ returns str(self), so `_l("… %(value)s", value=user_data)` reached pages
    unescaped (a CSV cell or product name as live HTML). No msgid carries markup, so nothing
    relies on it; without __html__ markupsafe escapes str(lazy).
    """
    if "__html__" in LazyString.__dict__:
        del LazyString.__html__


def init_app(app: Flask) -> None:
    """Compile the catalogs and bind Flask-Babel."""
    escape_lazy_strings()
    target = Path(app.instance_path) / "translations"
    compile_catalogs(target)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(target)
    babel.init_app(app, locale_selector=select_locale)
    # Flask-Babel caches the locale on the app context, which an outer context (tests, CLI)
    # shares across requests; choose afresh for each request.
    app.before_request(refresh)
