"""The live feed: a real WebSocket client against a real threaded server, events through real Redis."""
import re
import struct
import threading
import time

import pytest
import websocket
from sqlalchemy import update
from werkzeug.serving import make_server

from ota import create_app
from ota.extensions import db
from ota.models import DeviceUpgrade, UpgradeStatus
from ota.services import events
from tests.live_fixtures import cookie_header, http_login, live_server, seeded  # noqa: F401  (fixtures)


def ws_url(base: str, path: str) -> str:
    return base.replace("http://", "ws://") + path


def connect(base: str, path: str, cookie: str | None = None, **kw) -> websocket.WebSocket:
    headers = [f"Cookie: {cookie}"] if cookie else []
    return websocket.create_connection(ws_url(base, path), header=headers, timeout=10, **kw)


def close_code(ws) -> int:
    """Read frames until the server's close frame; return its status code."""
    while True:
        opcode, data = ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005
        if opcode in (websocket.ABNF.OPCODE_PING,):
            continue


def parseable(frame: str) -> str:
    """Check a frame the way htmx parses it: rows outside a table must come alone (see live._send)."""
    first = re.search(r"<([a-z]+)", frame)
    if first and "<table" not in frame and ("<tr" in frame or "<tbody" in frame):
        assert first.group(1) in ("tr", "tbody"), f"table rows after a <{first.group(1)}> are dropped"
    return frame


def recv_burst(ws, quiet: float = 0.4) -> str:
    """Read one flush: its first message and those that follow within `quiet` seconds, joined."""
    parts = [parseable(ws.recv())]
    ws.settimeout(quiet)
    try:
        while True:
            parts.append(parseable(ws.recv()))
    except websocket.WebSocketTimeoutException:
        pass
    finally:
        ws.settimeout(10)
    return "\n".join(parts)


def set_progress(upgrade_id: int, percent: int, status=UpgradeStatus.UPGRADING, stage="downloading"):
    db.session.execute(update(DeviceUpgrade).where(DeviceUpgrade.id == upgrade_id)
                       .values(status=status, stage=stage, percent=percent))
    db.session.commit()


def upgrade_ids(task):
    return [u.id for u in db.session.execute(
        db.select(DeviceUpgrade).where(DeviceUpgrade.task_id == task.id).order_by(DeviceUpgrade.id)).scalars()]


def test_anonymous_socket_is_refused_with_policy_violation(live_server, seeded):
    ws = connect(live_server, f"/ws/firmware/{seeded['firmware'].id}")
    assert close_code(ws) == 1008


def test_another_accounts_socket_is_refused(live_server, seeded, make_user):
    make_user("mallory")
    cookie = cookie_header(http_login(live_server, "mallory"))
    ws = connect(live_server, f"/ws/firmware/{seeded['firmware'].id}", cookie)
    assert close_code(ws) == 1008
    ws = connect(live_server, "/ws/firmware/999999", cookie)
    assert close_code(ws) == 1008


def test_a_socket_from_another_site_is_refused(live_server, seeded):
    cookie = cookie_header(http_login(live_server))
    ws = connect(live_server, f"/ws/firmware/{seeded['firmware'].id}", cookie, origin="http://evil.example")
    assert close_code(ws) == 1008


def test_firmware_feed_sends_a_snapshot_then_the_changed_rows(live_server, seeded):
    fw = seeded["firmware"]
    t1, _t2 = seeded["tasks"]
    cookie = cookie_header(http_login(live_server))
    ws = connect(live_server, f"/ws/firmware/{fw.id}?tab=devices", cookie)
    snapshot = recv_burst(ws)
    assert 'id="service-banner" hx-swap-oob="true"' in snapshot
    assert f'id="fw-{fw.id}-stats" class="stats" hx-swap-oob="true"' in snapshot
    assert f'id="fw-{fw.id}-records" hx-swap-oob="true"' in snapshot
    assert snapshot.count('<tr id="fwdu-') == 13

    target = upgrade_ids(t1)[0]  # pending in the seed
    set_progress(target, 37)
    events.publish_upgrades([(t1.id, fw.id, target)])
    update_ = recv_burst(ws)
    assert f'<tr id="fwdu-{target}" hx-swap-oob="true">' in update_
    assert update_.count("<tr ") == 1 and "37%" in update_
    assert f'id="fw-{fw.id}-stats"' in update_  # counters come with every flush
    ws.close()


def test_reports_within_the_window_are_coalesced_into_one_row(live_server, seeded):
    fw = seeded["firmware"]
    t1, _ = seeded["tasks"]
    cookie = cookie_header(http_login(live_server))
    ws = connect(live_server, f"/ws/firmware/{fw.id}?tab=devices", cookie)
    recv_burst(ws)
    target = upgrade_ids(t1)[0]
    for p in (10, 20, 30, 40, 50):
        set_progress(target, p)
        events.publish_upgrades([(t1.id, fw.id, target)])
    frames = [recv_burst(ws)]
    ws.settimeout(0.6)
    try:
        while True:
            frames.append(ws.recv())
    except websocket.WebSocketTimeoutException:
        pass
    ws.close()
    with_row = [f for f in frames if f'id="fwdu-{target}"' in f]
    # Five reports inside one 200 ms window make one row (two if a slow machine splits the window).
    assert 1 <= sum(f.count(f'id="fwdu-{target}"') for f in with_row) <= 2, frames
    assert "50%" in with_row[-1]


def test_a_row_leaving_the_filter_resends_the_table_as_a_reload_would(live_server, seeded):
    fw = seeded["firmware"]
    t1, _ = seeded["tasks"]
    cookie = cookie_header(http_login(live_server))
    ws = connect(live_server, f"/ws/firmware/{fw.id}?tab=devices&status=pending", cookie)
    assert recv_burst(ws).count('<tr id="fwdu-') == 2
    target = upgrade_ids(t1)[0]
    set_progress(target, 5)
    events.publish_upgrades([(t1.id, fw.id, target)])
    msg = recv_burst(ws)
    assert f'id="fw-{fw.id}-records" hx-swap-oob="true"' in msg
    assert msg.count('<tr id="fwdu-') == 1 and f'id="fwdu-{target}"' not in msg
    ws.close()


def test_task_tab_receives_a_new_task_row(live_server, seeded):
    from tests.live_fixtures import seed_devices, seed_task

    fw = seeded["firmware"]
    cookie = cookie_header(http_login(live_server))
    ws = connect(live_server, f"/ws/firmware/{fw.id}", cookie)
    assert recv_burst(ws).count('<tr id="fwtask-') == 2
    task = seed_task(fw, seed_devices(seeded["product"], 1, "new"), [UpgradeStatus.PENDING], status="not_started")
    events.publish_task(task.id, fw.id)
    msg = recv_burst(ws)
    assert f'<tr id="fwtask-{task.id}"' in msg and msg.count('<tr id="fwtask-') == 3
    ws.close()


@pytest.fixture
def server_without_redis(_app, live_server, service_env):
    """A second web process on the same database whose Redis is down (a closed port)."""
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": service_env["DATABASE_URL"],
                      "REDIS_URL": "redis://127.0.0.1:1/0", "SECRET_KEY": service_env["SECRET_KEY"]})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_without_redis_the_socket_shows_the_banner_and_closes_to_reconnect(seeded, server_without_redis):
    base = server_without_redis
    cookie = cookie_header(http_login(base))
    page = __import__("requests").get(f"{base}/firmware/{seeded['firmware'].id}/monitoring",
                                      headers={"Cookie": cookie, "HX-Request": "true"})
    assert page.status_code == 200 and 'id="fwtask-' in page.text  # still rendered from the database
    ws = connect(base, f"/ws/firmware/{seeded['firmware'].id}", cookie)
    banner = ws.recv()
    assert 'id="service-banner" hx-swap-oob="true"' in banner and "Redis" in banner
    assert close_code(ws) == 1013  # "try again later": htmx-ext-ws reconnects after it


def test_the_server_sends_keepalive_pings(live_server, seeded, app, monkeypatch):
    monkeypatch.setitem(app.config, "SOCK_SERVER_OPTIONS", {"ping_interval": 0.5})  # 25 s in production
    cookie = cookie_header(http_login(live_server))
    ws = connect(live_server, f"/ws/firmware/{seeded['firmware'].id}", cookie)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        opcode, _data = ws.recv_data(control_frame=True)  # answers pings with pongs
        if opcode == websocket.ABNF.OPCODE_PING:
            break
    else:
        pytest.fail("no ping within 5 s")
    ws.close()
