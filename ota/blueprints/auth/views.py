"""Views of the auth blueprint."""
from urllib.parse import urlsplit

from flask import current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_user, logout_user

from ota.access import public
from ota.blueprints.auth import bp
from ota.blueprints.auth.forms import LoginForm
from ota.extensions import db
from ota.models import User


def _safe_next(target: str | None) -> str:
    """Return target when it is a path on this site, else the home page (no open redirects)."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("firmware.index")


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    """Show the login form; sign the user in."""
    form = LoginForm()
    if form.validate_on_submit():
        user = db.session.execute(
            db.select(User).filter_by(username=form.username.data.strip())
        ).scalar_one_or_none()
        if user and user.check_password(form.password.data):
            login_user(user, remember=form.remember.data)
            return redirect(_safe_next(request.args.get("next")), code=303)
        form.password.errors.append(_("Wrong username or password."))
    status = 422 if form.errors else 200
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
def logout():
    """Sign the user out."""
    logout_user()
    return redirect(url_for("auth.login"), code=303)


@bp.post("/lang/<code>")
@public
def set_language(code: str):
    """Remember the chosen language and go back to the page the user was on."""
    if code in current_app.config["LANGUAGES"]:
        session["lang"] = code
    return redirect(_safe_next(request.form.get("next")), code=303)


@bp.get("/")
def home():
    """Open the firmware list, the console's landing page."""
    return redirect(url_for("firmware.index"))
