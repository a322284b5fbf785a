"""WebSocket feeds: server to browser only; authorise, then stream (ota.services.live)."""
from urllib.parse import urlsplit

from flask import request, url_for
from flask_login import current_user

from ota.access import public
from ota.blueprints.live import bp
from ota.blueprints.live.feeds import FirmwareFeed, TaskFeed
from ota.extensions import db, sock
from ota.models import Firmware, UpgradeTask
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


def _owner_or_refuse(ws, model, ident: int) -> int | None:
    """Return the account id when the user's account owns the row, else close with 1008."""
    account_id = _account_or_refuse(ws)
    if account_id is None:
        return None
    row = db.session.get(model, ident)
    if row is None or row.account_id != account_id:
        _refuse(ws, "not found")
        return None
    return account_id


# Public for the login check only: an anonymous socket must get 1008, not a redirect.
@sock.route("/ws/firmware/<int:firmware_id>", bp=bp)
@public
def firmware_feed(ws, firmware_id: int):
    """Stream the firmware detail page's statistics and its current tab."""
    account_id = _owner_or_refuse(ws, Firmware, firmware_id)
    if account_id is not None:
        stream(ws, FirmwareFeed(firmware_id, account_id, request.args))


@sock.route("/ws/tasks/<int:task_id>", bp=bp)
@public
def task_feed(ws, task_id: int):
    """Stream a task page's status, counters and the rows of its filter (status, q, page)."""
    account_id = _owner_or_refuse(ws, UpgradeTask, task_id)
    if account_id is not None:
        stream(ws, TaskFeed(task_id, account_id, request.args))


@bp.app_context_processor
def _live_urls():
    def live_task_url(task_id: int, status=None, q=None, page=1) -> str:
        """Return the task feed's path for a filter (a path: the browser picks ws or wss)."""
        args = {k: v for k, v in {"status": status, "q": q, "page": page if page and page > 1 else None}.items() if v}
        return urlsplit(url_for("live.task_feed", task_id=task_id, **args))._replace(scheme="", netloc="").geturl()

    return {"live_task_url": live_task_url}
