"""Login, logout and the language switch."""
from flask import Blueprint

bp = Blueprint("auth", __name__)

from ota.blueprints.auth import views  # noqa: E402,F401  (registers the routes)
