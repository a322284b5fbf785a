"""Views of the firmware blueprint."""
from flask import render_template

from ota.blueprints.firmware import bp


@bp.get("/firmware")
def index():
    """List the account's firmware (固件列表)."""
    return render_template("firmware/index.html")
