"""The production server: gunicorn's gthread worker serves a real WebSocket session (snapshot, events, pings)."""
import socket
import time

import pytest
import requests

from ota.services import events
from tests.live_fixtures import cookie_header, http_login, seeded  # noqa: F401  (fixture)
from tests.test_live import connect, recv_burst, set_progress, upgrade_ids

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def gunicorn(run_process):
    """`gunicorn -k gthread --threads 8 app:app` on a free port, with the session's services."""
    port = free_port()
    run_process("-m", "gunicorn", "-k", "gthread", "--workers", "2", "--threads", "8",
                "-b", f"127.0.0.1:{port}", "app:app")
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            requests.get(f"{base}/login", timeout=5)
            return base
        except requests.RequestException:  # listening before the workers have booted
            if time.monotonic() > deadline:
                pytest.fail("gunicorn did not start")
            time.sleep(0.2)


def test_a_websocket_session_works_under_gunicorn_threads(gunicorn, seeded):
    fw = seeded["firmware"]
    t1, _ = seeded["tasks"]
    cookie = cookie_header(http_login(gunicorn))
    ws = connect(gunicorn, f"/ws/tasks/{t1.id}", cookie)
    snap = recv_burst(ws)
    assert snap.count('<tr id="du-') == 10 and f'id="task-{t1.id}-counters"' in snap
    target = upgrade_ids(t1)[1]
    set_progress(target, 64)
    events.publish_upgrades([(t1.id, fw.id, target)])
    msg = recv_burst(ws)
    assert f'<tr id="du-{target}" hx-swap-oob="true">' in msg and "64%" in msg
    # A second socket on the same gunicorn (any worker, any thread) gets the same events.
    other = connect(gunicorn, f"/ws/firmware/{fw.id}?tab=devices", cookie)
    assert f'id="fwdu-{target}"' in recv_burst(other)
    other.close()
    ws.close()
