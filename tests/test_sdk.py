"""Tencent's real device SDK (tencent-iot-device 1.0.0, in .venv-sdk) upgrading through our gateway and downloads.

The gateway is the real `python worker.py gateway` process; downloads are served by the app over
real HTTP (werkzeug in a thread); the device is ota/devicechannel/sdk_device.py in its own process.
"""
import json
import os
import subprocess
import sys

import pytest
import redis

from ota.devicechannel import mqtt
from ota.models import Device, DeviceUpgrade
from ota.runtime import services
from ota.services.health import GATEWAY_HEARTBEAT_KEY
from tests.conftest import ROOT
from tests.devicechannel_fixtures import *  # noqa: F401,F403

SDK_PYTHON = ROOT / ".venv-sdk" / "bin" / "python"
SIZE = 300_000

pytestmark = [pytest.mark.sdk, pytest.mark.slow]


@pytest.fixture
def sdk_python():
    if not SDK_PYTHON.exists():
        if os.environ.get("CI"):
            pytest.fail("the Tencent SDK venv is missing: run `make sdk-venv`")
        pytest.skip("the Tencent SDK venv is missing: run `make sdk-venv`")
    return SDK_PYTHON


@pytest.fixture
def sdk_setup(app, fleet, http_server, service_env, tmp_path, sdk_python):
    """A pushed upgrade 1.0.0 -> 1.2.0 for one device, the real gateway process, the device's info file."""
    fw = fleet.firmware("1.2.0", data=os.urandom(SIZE))
    dev = fleet.devices(1, prefix="sdkcam")[0]
    up = fleet.upgrade([dev], fw)[0]
    info = tmp_path / "device_info.json"
    info.write_text(json.dumps({
        "auth_mode": "KEY", "productId": fleet.code, "productSecret": "", "deviceName": dev.name,
        "key_deviceinfo": {"deviceSecret": dev.secret},
        "cert_deviceinfo": {"devCaFile": "", "devCertFile": "", "devPrivateKeyFile": ""},
        "region": "china",
    }))
    log = open(tmp_path / "gateway.log", "w")
    # conftest's run_process cannot override a service_env key, and the URL must be this server's.
    env = {**os.environ, **service_env, "PUBLIC_BASE_URL": app.config["PUBLIC_BASE_URL"]}
    gateway = subprocess.Popen([sys.executable, "worker.py", "gateway"], cwd=ROOT, env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        r = redis.Redis.from_url(app.config["REDIS_URL"])
        wait_for(lambda: r.exists(GATEWAY_HEARTBEAT_KEY), timeout=20)
        yield fw, dev, up, info
    finally:
        services.stop(gateway)
        log.close()


def run_device(sdk_python, info, app, workdir, version="1.0.0", stop_after=None) -> dict:
    cfg = mqtt.parse_url(app.config["MQTT_URL"])
    cmd = [str(sdk_python), str(ROOT / "ota" / "devicechannel" / "sdk_device.py"), "--info", str(info), "--host", cfg["host"],
           "--port", str(cfg["port"]), "--version", version, "--dir", str(workdir)]
    if stop_after:
        cmd += ["--stop-after", str(stop_after)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=40, cwd=workdir,
                          env={"PATH": os.environ.get("PATH", ""), "PYTHONUNBUFFERED": "1"})
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    assert lines, f"SDK device printed nothing (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return json.loads(lines[-1])


def test_the_sdk_upgrades_end_to_end(app, sdk_setup, http_server, sdk_python, tmp_path):
    fw, dev, up, info = sdk_setup
    out = run_device(sdk_python, info, app, tmp_path)
    assert "error" not in out, out
    assert out["rsp"]["result_code"] == 0 and out["md5_ok"] and out["size"] == SIZE and out["offset"] == 0
    assert (tmp_path / "FW_1.2.0.bin").read_bytes() == fw.data
    assert http_server.ranges == [f"bytes=0-{SIZE}"]  # the SDK's end = file_size, served as 206
    row = wait_for(lambda: (r := fresh(DeviceUpgrade, up.id)).status == "succeeded" and r)
    assert row.percent == 100 and row.finished_at and row.error_code is None
    assert wait_for(lambda: fresh(Device, dev.id).version == "1.2.0")


def test_the_sdk_resumes_an_interrupted_download_with_range(app, sdk_setup, http_server, sdk_python, tmp_path):
    fw, dev, up, info = sdk_setup
    first = run_device(sdk_python, info, app, tmp_path, stop_after=120_000)
    offset = first["stopped_at"]
    assert 120_000 <= offset < SIZE
    row = wait_for(lambda: (r := fresh(DeviceUpgrade, up.id)).status == "upgrading" and r)
    assert row.stage == "downloading"

    # Powered on again, still on 1.0.0: the gateway pushes again and the SDK asks for the rest.
    out = run_device(sdk_python, info, app, tmp_path)
    assert "error" not in out, out
    assert out["offset"] == offset and out["md5_ok"]
    assert http_server.ranges[0] == f"bytes=0-{SIZE}"
    assert http_server.ranges[-1] == f"bytes={offset}-{SIZE}"
    assert (tmp_path / "FW_1.2.0.bin").read_bytes() == fw.data
    assert wait_for(lambda: fresh(DeviceUpgrade, up.id).status == "succeeded")
    assert wait_for(lambda: fresh(Device, dev.id).version == "1.2.0")
    assert fresh(DeviceUpgrade, up.id).push_count >= 2



