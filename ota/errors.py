"""Error pages: the right status with a clear message, as a page or an htmx fragment."""
from flask import Flask, render_template
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from ota.web import wants_fragment


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
            413: _("The upload is larger than the 1024 MB limit."),
        }
        return _render(e.code or 500, messages.get(e.code, e.description))
