"""Drill: restart Mosquitto while a fleet downloads: the gateway resubscribes, downloads resume with Range, the task completes."""
import time

import pytest

from ota.devicechannel.simulator import Timing
from ota.extensions import db, get_redis
from ota.models import Device, DeviceUpgrade
from ota.services import tasks
from ota.services.health import GATEWAY_HEARTBEAT_KEY
from tests.devicechannel_fixtures import fleet, http_server  # noqa: F401  (fixtures)
from tests.drill_fixtures import FleetThread, stack, until  # noqa: F401  (fixture)

TIMING = Timing(download=5.0, burn=0.5, reboot=0.3, report_every=0.5)


def statuses(task_id: int) -> dict[str, int]:
    rows = db.session.execute(db.select(DeviceUpgrade.status, db.func.count()).where(
        DeviceUpgrade.task_id == task_id).group_by(DeviceUpgrade.status)).all()
    return dict(rows)


@pytest.mark.slow
def test_broker_restart_mid_download(stack, fleet, http_server):
    fw = fleet.firmware("1.2.0", data=bytes(range(256)) * 800)  # 200 KiB
    devs = fleet.devices(8)
    dropped = {d.name for d in devs[:4]}  # these lose their download link halfway and resume it
    # Pushes carry the in-test download server's URL, which logs every Range header.
    stack.env["PUBLIC_BASE_URL"] = stack.app.config["PUBLIC_BASE_URL"]
    stack.start("gateway")
    stack.start("worker")
    stack.wait_gateway()
    sims = FleetThread(fleet.code, devs, stack.mqtt_url, TIMING, faults={n: "drop" for n in dropped})
    until(lambda: all(s.phase == "online" for s in sims.sims), 15, "the devices to come online")

    t = tasks.save_task(fw, None, method="version", versions=["1.0.0"], scope="all")
    until(lambda: statuses(t.id).get("upgrading", 0) == len(devs), 20, "every device downloading")

    stack.stop_broker()  # mid-download: the drops at half-way happen while the broker is gone
    down_at = time.monotonic()
    until(lambda: "lost the broker" in stack.log("gateway"), 10, "the gateway to notice")
    time.sleep(max(0.0, 2.0 - (time.monotonic() - down_at)))
    stack.start_broker()

    until(lambda: stack.log("gateway").count("subscribing to") >= 2, 20, "the gateway to resubscribe")
    get_redis().delete(GATEWAY_HEARTBEAT_KEY)
    until(lambda: get_redis().exists(GATEWAY_HEARTBEAT_KEY), 10, "the heartbeat after the restart")
    sims.join(40)
    until(lambda: statuses(t.id) == {"succeeded": len(devs)}, 15, f"every record succeeded ({statuses(t.id)})")

    versions = dict(db.session.execute(db.select(Device.name, Device.version).where(
        Device.id.in_([d.id for d in devs]))).all())
    assert set(versions.values()) == {"1.2.0"}, versions
    for s in sims.sims:
        if s.name in dropped:
            assert s.resumed == 1 and s.ranges[-1] == f"bytes={fw.size // 2}-{fw.size}", (s.name, s.ranges)
    resumed = [r for r in http_server.ranges if r == f"bytes={fw.size // 2}-{fw.size}"]
    assert len(resumed) == len(dropped), http_server.ranges
    assert stack.procs["gateway"].poll() is None and stack.procs["worker"].poll() is None
