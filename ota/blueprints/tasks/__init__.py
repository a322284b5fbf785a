"""The tasks blueprint."""
from flask import Blueprint

bp = Blueprint("tasks", __name__)

from ota.blueprints.tasks import views  # noqa: E402,F401  (registers the routes)
