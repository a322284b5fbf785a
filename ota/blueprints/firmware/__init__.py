"""The firmware blueprint."""
from flask import Blueprint

bp = Blueprint("firmware", __name__)

from ota.blueprints.firmware import views  # noqa: E402,F401  (registers the routes)
from ota.blueprints.firmware import monitoring  # noqa: E402,F401  (the detail page's monitoring sections)
