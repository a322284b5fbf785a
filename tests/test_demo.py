"""`make demo --exit --fast`: the whole job on the real files and the real SDK ends with every device right."""
import os
import subprocess
import sys

import pytest

from ota.runtime import services
from tests.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.sdk]


def test_the_demo_runs_end_to_end_and_verifies_itself(tmp_path):
    if not (ROOT / ".venv-sdk" / "bin" / "python").exists():
        pytest.skip("the Tencent SDK venv is missing: run `make sdk-venv`")
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "MQTT_URL", "STORAGE_DIR", "PUBLIC_BASE_URL", "PORT")}
    proc = subprocess.run(
        [sys.executable, "-m", "ota.runtime.demo", "--exit", "--fast", "--dir", str(tmp_path / "demo"),
         "--port", str(services.free_port())],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "OK: all 201 devices of DoorCam run 1.2.0" in out
    assert "| succeeded | 升级成功 | 5 | 196 |" in out
    assert "SDK MD5 check passed" in out and "doorcam-013 (MD5 check failed) -> succeeded" in out


def test_the_demo_refuses_a_folder_that_is_not_its_own(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    proc = subprocess.run([sys.executable, "-m", "ota.runtime.demo", "--exit", "--dir", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "not a demo folder" in proc.stderr
    assert (tmp_path / "precious.txt").read_text() == "keep me"
