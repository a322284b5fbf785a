"""Drill: SIGKILL the web process while a WebSocket client watches a task; after a restart the feed's snapshot is right."""
import re
import time

import pytest
import websocket

from ota.extensions import db
from ota.models import DeviceUpgrade, UpgradeStatus
from tests.devicechannel_fixtures import FakeDevice, fleet  # noqa: F401  (fixture)
from tests.drill_fixtures import stack, until  # noqa: F401  (fixture)
from tests.live_fixtures import cookie_header
from tests.test_live import connect, recv_burst

LABELS = {"pending": "待推送", "pushed": "已推送", "upgrading": "升级中", "succeeded": "升级成功", "failed": "升级失败"}


def reconnect(base: str, path: str, cookie: str, timeout: float = 20) -> websocket.WebSocket:
    """Connect again and again after an abnormal close, as htmx-ext-ws does, until the server answers."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return connect(base, path, cookie)
        except (OSError, websocket.WebSocketException):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def rows(frames: str) -> dict[int, str]:
    """Return {device-upgrade id: the row's HTML} of every <tr id="du-N"> in the frames."""
    return {int(m.group(1)): m.group(0) for m in re.finditer(r'<tr id="du-(\d+)".*?</tr>', frames, re.S)}


def assert_matches_db(frames: str, task_id: int) -> None:
    """Every record of the task is in the frames with its status (and percent) as the database has it."""
    got = rows(frames)
    db.session.rollback()
    for u in db.session.execute(db.select(DeviceUpgrade).where(DeviceUpgrade.task_id == task_id)).scalars():
        assert u.id in got, f"row du-{u.id} missing"
        assert LABELS[u.status] in got[u.id], (u.id, u.status, got[u.id])
        if u.status == UpgradeStatus.UPGRADING:
            assert f"{u.percent}%" in got[u.id], (u.id, u.percent, got[u.id])


@pytest.mark.slow
def test_web_restart_while_a_client_watches(stack, fleet):
    fw = fleet.firmware("1.2.0")
    devs = fleet.devices(4)
    ups = fleet.upgrade(devs, fw, UpgradeStatus.PUSHED)
    task_id = ups[0].task_id
    stack.start("gateway")
    stack.start("web")
    stack.wait_gateway()
    cookie = cookie_header(stack.login(fleet.account_id))
    path = f"/ws/tasks/{task_id}"
    devices = [FakeDevice(stack.mqtt_url, fleet.code, d.name) for d in devs]
    try:
        ws = connect(stack.base, path, cookie)
        assert_matches_db(recv_burst(ws), task_id)
        devices[0].progress("downloading", "1.2.0", percent="30")
        assert "30%" in rows(recv_burst(ws))[ups[0].id]

        stack.kill("web")
        with pytest.raises((websocket.WebSocketException, OSError)):
            ws.recv()  # the socket dies with the process
        # What happens while the web is down reaches the database, not the (gone) browser socket.
        devices[0].progress("downloading", "1.2.0", percent="70")
        devices[1].progress("done", "1.2.0")
        devices[2].progress("fail", "1.2.0", code="-4")
        until(lambda: db.session.get(DeviceUpgrade, ups[2].id).status == "failed", 10, "the reports applied")
        until(lambda: db.session.get(DeviceUpgrade, ups[0].id).percent == 70, 10, "the 70% report applied")

        stack.start("web")
        ws = reconnect(stack.base, path, cookie)
        snapshot = recv_burst(ws)
        assert_matches_db(snapshot, task_id)
        assert "70%" in rows(snapshot)[ups[0].id] and "MD5 校验失败" in rows(snapshot)[ups[2].id]
        # And the feed is live again after the reconnect.
        devices[3].progress("downloading", "1.2.0", percent="55")
        assert "55%" in rows(recv_burst(ws))[ups[3].id]
        ws.close()
    finally:
        for d in devices:
            d.close()
