"""WebSocket feeds: server to browser only; authorise, then stream (ota.services.live)."""
from urllib.parse import urlsplit

from flask import request
from flask_login import current_user

from ota.access import public
from ota.blueprints.live import bp
from ota.blueprints.live.feeds import FirmwareFeed
from ota.extensions import db, sock
from ota.models import Firmware
from ota.services.live import POLICY_VIOLATION, stream


def _refuse(ws, why: str) -> None:
    db.session.remove()
    ws.close(reason=POLICY_VIOLATION, message=why)


def _same_origin() -> bool:
    """Refuse sockets opened by other sites' pages (browsers send Origin on every handshake)."""
    origin = request.headers.get("Origin")
    return origin is None or urlsplit(origin).netloc == request.host


def _account_or_refuse(ws) -> int | None:
    """Return the logged-in user's account id, or close the socket with 1008 and return None."""
    if not _same_origin():
        _refuse(ws, "cross-origin")
        return None
    if not current_user.is_authenticated:
        _refuse(ws, "login required")
        return None
    return current_user.account_id


# Public for the login check only: an anonymous socket must get 1008, not a redirect.
@sock.route("/ws/firmware/<int:firmware_id>", bp=bp)
@public
def firmware_feed(ws, firmware_id: int):
    """Stream the firmware detail page's statistics and its current tab."""
    account_id = _account_or_refuse(ws)
    if account_id is None:
        return
    firmware = db.session.get(Firmware, firmware_id)
    if firmware is None or firmware.account_id != account_id:
        _refuse(ws, "not found")
        return
    stream(ws, FirmwareFeed(firmware_id, account_id, request.args))
