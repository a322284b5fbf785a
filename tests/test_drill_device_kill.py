"""Drill: SIGKILL a device mid-download; after the task's timeout the record is 升级失败 升级超时, and 重试 upgrades it."""
import os
import re
import signal
import subprocess
import sys

import pytest
from sqlalchemy import update

from ota.extensions import db
from ota.models import Device, DeviceUpgrade, UpgradeTask
from ota.services import tasks
from tests.devicechannel_fixtures import fleet  # noqa: F401  (fixture)
from tests.drill_fixtures import ROOT, stack, until  # noqa: F401  (fixture)

TIMEOUT = 3  # seconds without progress; the form's minimum is 60, set here on the saved task


def _sim(stack, code: str, download_seconds: float) -> subprocess.Popen:
    """Run the product's one device with `flask ota simulate`, in a process of its own."""
    out = open(stack.logs / "device.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "ota", "simulate", "--product", code, "--devices", "1",
         "--download-seconds", str(download_seconds), "--burn-seconds", "0.5", "--reboot-seconds", "0.3",
         "--ramp-seconds", "0", "--exit-when-done"],
        cwd=ROOT, env={**os.environ, **stack.env}, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    out.close()
    stack.procs[f"device-{proc.pid}"] = proc
    return proc


@pytest.mark.slow
def test_device_killed_mid_download_times_out_then_retry_succeeds(stack, fleet):
    fw = fleet.firmware("1.2.0", data=bytes(range(256)) * 800)
    dev = fleet.devices(1)[0]
    stack.start("web")
    stack.start("gateway")
    stack.start("worker")
    stack.wait_gateway()
    browser = stack.login(fleet.account_id)

    device = _sim(stack, fleet.code, download_seconds=30)
    until(lambda: db.session.get(Device, dev.id).last_seen_at, 15, "the device to report its version")
    t = tasks.save_task(fw, None, method="version", versions=["1.0.0"], scope="all", timeout=60)
    db.session.execute(update(UpgradeTask).where(UpgradeTask.id == t.id).values(timeout_seconds=TIMEOUT))
    db.session.commit()
    up = until(lambda: db.session.execute(db.select(DeviceUpgrade).where(
        DeviceUpgrade.task_id == t.id, DeviceUpgrade.status == "upgrading", DeviceUpgrade.percent > 0)).scalar(),
        20, "the device downloading")
    stack.kill_proc(device, signal.SIGKILL)  # the device loses power mid-download

    until(lambda: (lambda u: u.status == "failed" and u)(db.session.get(DeviceUpgrade, up.id)), TIMEOUT + 10,
          "the sweeper to time the record out")
    assert db.session.get(DeviceUpgrade, up.id).error_code == "timeout"
    page = browser.get(f"{stack.base}/tasks/{t.id}", timeout=10).text
    row = re.search(rf'<tr id="du-{up.id}".*?</tr>', page, re.S).group(0)
    assert "升级失败" in row and "升级超时" in row and "重试" in row

    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    r = browser.post(f"{stack.base}/upgrades/{up.id}/retry", headers={"X-CSRFToken": token},
                     data={"next": f"/tasks/{t.id}"}, allow_redirects=False, timeout=10)
    assert r.status_code == 303, r.text[-1000:]
    # The device comes back (powered on again) and upgrades on the re-sent push.
    _sim(stack, fleet.code, download_seconds=1)
    final = until(lambda: (lambda u: u.status == "succeeded" and u)(db.session.get(DeviceUpgrade, up.id)), 30,
                  "the retried upgrade to succeed")
    assert final.retry_count == 1
    until(lambda: db.session.get(Device, dev.id).version == "1.2.0", 10, "the device to report 1.2.0 after its reboot")
    row = re.search(rf'<tr id="du-{up.id}".*?</tr>', browser.get(f"{stack.base}/tasks/{t.id}").text, re.S).group(0)
    assert "升级成功" in row
