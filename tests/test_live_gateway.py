"""End to end: a device's MQTT reports, through the real gateway and Redis, reach an open socket."""
import pytest

from ota.extensions import db
from ota.models import UpgradeStatus, User
from tests.devicechannel_fixtures import *  # noqa: F401,F403  (fleet, gateway, mqtt_device)
from tests.live_fixtures import cookie_header, http_login, live_server  # noqa: F401  (fixture)
from tests.test_live import connect, recv_burst

pytestmark = pytest.mark.slow


def login_fleet(base, fleet):
    username = db.session.execute(db.select(User.username).filter_by(account_id=fleet.account_id)).scalar_one()
    return cookie_header(http_login(base, username))


def recv_until(ws, needle: str, limit: int = 20) -> str:
    """Read messages until one contains needle (progress may arrive split over flushes)."""
    for _ in range(limit):
        msg = recv_burst(ws, 0.3)
        if needle in msg:
            return msg
    pytest.fail(f"{needle!r} never arrived")


def test_firmware_feed_streams_a_devices_reports_from_the_gateway(live_server, fleet, gateway, mqtt_device):
    fw = fleet.firmware("1.2.0")
    dev = fleet.devices(1)[0]
    (up,) = fleet.upgrade([dev], fw, UpgradeStatus.PUSHED)
    ws = connect(live_server, f"/ws/firmware/{fw.id}?tab=devices", login_fleet(live_server, fleet))
    snapshot = recv_burst(ws)
    assert f'id="fwdu-{up.id}"' in snapshot and "badge-pushed" in snapshot

    device = mqtt_device(fleet.code, dev.name)
    device.progress("downloading", "1.2.0", percent="37")
    row = recv_until(ws, "37%")
    assert f'<tr id="fwdu-{up.id}" hx-swap-oob="true">' in row and "badge-upgrading" in row
    device.progress("done", "1.2.0")
    done = recv_until(ws, "badge-succeeded")
    assert f'id="fwdu-{up.id}"' in done
    assert '<div class="num">1</div><div class="label">升级成功</div>' in done  # the counters agree
    ws.close()
