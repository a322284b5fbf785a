"""The live blueprint."""
from flask import Blueprint

bp = Blueprint("live", __name__)

from ota.blueprints.live import views  # noqa: E402,F401  (registers the routes)
