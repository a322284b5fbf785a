"""The devices blueprint."""
from flask import Blueprint

bp = Blueprint("devices", __name__)

from ota.blueprints.devices import views  # noqa: E402,F401  (registers the routes)
