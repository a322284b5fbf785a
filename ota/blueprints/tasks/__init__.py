"""The tasks blueprint: the upgrade form (固件升级), the device picker, task details and record actions."""
from flask import Blueprint

bp = Blueprint("tasks", __name__)

from ota.blueprints.tasks import actions, create_views, detail_views, picker_views  # noqa: E402,F401
