"""The simulated fleet upgrading through the real gateway, broker and HTTP downloads, every fault injected."""
import pytest

from ota.devicechannel.simulator import SimDevice, Timing, assign_faults, run_fleet
from ota.extensions import db
from ota.models import Device, DeviceUpgrade
from tests.devicechannel_fixtures import *  # noqa: F401,F403

FAST = Timing(download=1.0, burn=0.6, reboot=0.3, stall=1.0, report_every=0.25)


@pytest.mark.slow
def test_a_fleet_with_every_fault(app, fleet, gateway, http_server, mqtt_url):
    fw = fleet.firmware("1.2.0", data=bytes(range(256)) * 800)  # 200 KiB
    devs = fleet.devices(12)
    ups = {u.device_id: u.id for u in fleet.upgrade(devs, fw)}
    sims = [SimDevice(fleet.code, d.name, d.secret, "1.0.0") for d in devs]
    assign_faults(sims, {"md5-mismatch": 1, "stall": 1, "drop": 1, "burn-fail": 1, "offline": 1, "rollback": 1},
                  seed=7)
    result = run_fleet(sims, mqtt_url, FAST, exit_when_done=True, duration=40)
    assert result.seconds < 40, result.phases()

    by_name = {d.name: d for d in devs}
    rows = {s.fault: fresh(DeviceUpgrade, ups[by_name[s.name].id]) for s in sims if s.fault}
    versions = {s.name: fresh(Device, by_name[s.name].id).version for s in sims}
    for s in sims:
        row = fresh(DeviceUpgrade, ups[by_name[s.name].id])
        if s.fault in (None, "drop"):
            assert row.status == "succeeded", (s.name, s.fault, row.status, row.error_detail)
            assert row.percent == 100 and row.finished_at
    # Back on the old version after "done": the upgrade did not take, and the record says so.
    assert (rows["rollback"].status, rows["rollback"].error_code, rows["rollback"].error_detail) == (
        "failed", "rollback", "1.0.0")
    assert (rows["md5-mismatch"].status, rows["md5-mismatch"].error_detail) == ("failed", "-4")
    assert (rows["stall"].status, rows["stall"].error_detail) == ("failed", "-1")
    assert (rows["burn-fail"].status, rows["burn-fail"].error_detail) == ("failed", "-5")
    assert rows["burn-fail"].stage == "burning"
    assert rows["offline"].status == "pushed"
    for s in sims:
        expected = "1.2.0" if s.fault in (None, "drop") else ("1.0.0" if s.fault != "offline" else "1.0.0")
        assert versions[s.name] == expected, (s.name, s.fault)
    dropped = next(s for s in sims if s.fault == "drop")
    assert dropped.resumed == 1 and dropped.ranges[0] == f"bytes=0-{fw.size}"
    assert dropped.ranges[1] == f"bytes={fw.size // 2}-{fw.size}"
    assert f"bytes={fw.size // 2}-{fw.size}" in http_server.ranges
    db.session.rollback()
