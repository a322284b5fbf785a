"""Error pages: the right status with a clear message, as a page or an htmx fragment."""
from flask import Flask, current_app, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from ota.web import wants_fragment


def body_too_large() -> bool:
    """Return whether a 413 is for the whole body (MAX_CONTENT_LENGTH), not for one form field or part count."""
    length, limit = request.content_length, current_app.config.get("MAX_CONTENT_LENGTH")
    return length is None or limit is None or length > limit


def field_too_large_message() -> str:
    """Say that a form field was too long (MAX_FORM_MEMORY_SIZE), which is not the file's size limit."""
    return _("A form field is longer than %(mb)s MB, or the form has too many fields; nothing was saved.",
             mb=f"{current_app.config['MAX_FORM_MEMORY_SIZE'] / (1024 * 1024):g}")


def _render(status: int, message: str):
    template = "errors/_message.html" if wants_fragment() else "errors/page.html"
    return render_template(template, status=status, message=message), status


def init_app(app: Flask) -> None:
    """Register handlers for HTTP errors and CSRF failures."""

    @app.errorhandler(CSRFError)
    def csrf_error(e):
        return _render(400, _("The form has expired or was not sent from this console. Reload the page and try again."))

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        messages = {
            403: _("You do not have access to this page."),
            404: _("Not found, or not in your account."),
            405: _("This action is not allowed here."),
            413: _("The upload is larger than the 1024 MB limit.") if body_too_large() else field_too_large_message(),
        }
        return _render(e.code or 500, messages.get(e.code, e.description))
