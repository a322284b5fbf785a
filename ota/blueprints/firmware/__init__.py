"""The firmware blueprint."""
from flask import Blueprint

from ota.services import uploads

bp = Blueprint("firmware", __name__)
# The add-firmware fallback form streams its file part straight into storage while Werkzeug
# parses it; that needs the app's request class to carry the stream factory (composed, not replaced).
bp.record_once(lambda state: uploads.install(state.app))

from ota.blueprints.firmware import upload_views, views  # noqa: E402,F401  (registers the routes)
from ota.blueprints.firmware import monitoring  # noqa: E402,F401  (the detail page's monitoring sections)
