"""Who may see what: every view needs a login unless marked public; data is per account."""
from flask import Flask, abort, current_app, redirect, request, url_for
from flask_login import current_user

from ota.extensions import db, login_manager


def public(view):
    """Mark a view as reachable without logging in (login page, device downloads, static)."""
    view.ota_public = True
    return view


def account_id() -> int:
    """Return the logged-in user's account id."""
    return current_user.account_id


def owned_or_404(model, ident, account_attr: str = "account_id"):
    """Load a row of the current account by primary key, or 404: never someone else's data."""
    row = db.session.get(model, ident)
    if row is None or getattr(row, account_attr) != current_user.account_id:
        abort(404)
    return row


def _require_login():
    """Send anonymous users to the login page before any non-public view runs."""
    if request.endpoint is None or request.endpoint == "static":
        return None
    view = current_app.view_functions.get(request.endpoint)
    if view is None or getattr(view, "ota_public", False) or current_user.is_authenticated:
        return None
    if request.headers.get("HX-Request"):
        # htmx follows a plain redirect into the swapped element; send the whole page instead.
        return "", 401, {"HX-Redirect": url_for("auth.login", next=request.full_path.rstrip("?"))}
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def init_app(app: Flask) -> None:
    """Bind Flask-Login and the login requirement."""
    from ota.models import User

    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(user_id: str):
        return db.session.get(User, int(user_id))

    app.before_request(_require_login)

