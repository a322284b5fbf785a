"""The downloads blueprint."""
from flask import Blueprint

bp = Blueprint("downloads", __name__)

from ota.blueprints.downloads import views  # noqa: E402,F401  (registers the routes)
