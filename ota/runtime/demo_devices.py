"""The demo's fleet: simulated devices in a background asyncio loop, and one device on Tencent's real SDK."""
import asyncio
import json
import os
import subprocess
import threading
from pathlib import Path

from ota.devicechannel import mqtt
from ota.devicechannel.simulator import SimDevice, Timing

ROOT = Path(__file__).resolve().parents[2]
SDK_PYTHON = ROOT / ".venv-sdk" / "bin" / "python"
SDK_SCRIPT = ROOT / "ota" / "devicechannel" / "sdk_device.py"


class SimFleet(threading.Thread):
    """Run SimDevices (the `flask ota simulate` devices) until stop(); faults can be changed meanwhile."""

    def __init__(self, devices: list[SimDevice], mqtt_url: str, timing: Timing, ramp: float):
        super().__init__(name="demo-fleet", daemon=True)
        self.devices, self.url, self.timing, self.ramp = devices, mqtt_url, timing, ramp
        self.crashed: list[str] = []
        self._halt = threading.Event()

    def run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        tasks = []
        step = self.ramp / max(1, len(self.devices))
        for d in self.devices:  # a fleet powers on over a few seconds, not all in one instant
            tasks.append(asyncio.create_task(d.run(self.url, self.timing), name=d.name))
            await asyncio.sleep(step)
        while not self._halt.is_set():
            await asyncio.sleep(0.2)
            for t in [t for t in tasks if t.done()]:
                tasks.remove(t)
                if not t.cancelled() and t.exception() is not None:
                    self.crashed.append(f"{t.get_name()}: {t.exception()!r}")
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for d in self.devices:
            if getattr(d, "mqtt", None) is not None and d.mqtt.is_connected:
                d.mqtt.disconnect()
        await asyncio.sleep(0.2)  # let the DISCONNECTs leave

    def stop(self) -> None:
        """Power the fleet off and wait for the loop to end."""
        self._halt.set()
        self.join(10)


class SdkDevice:
    """One device running tencent-iot-device 1.0.0 (in .venv-sdk) in a process of its own."""

    def __init__(self, workdir: Path, product_code: str, name: str, secret: str, mqtt_url: str,
                 version: str, wait: float, pace: float):
        if not SDK_PYTHON.exists():
            raise FileNotFoundError("the Tencent SDK venv is missing: run `make sdk-venv` (make demo does)")
        self.name = name
        workdir.mkdir(parents=True, exist_ok=True)
        info = workdir / "device_info.json"
        info.write_text(json.dumps({
            "auth_mode": "KEY", "productId": product_code, "productSecret": "", "deviceName": name,
            "key_deviceinfo": {"deviceSecret": secret},
            "cert_deviceinfo": {"devCaFile": "", "devCertFile": "", "devPrivateKeyFile": ""},
            "region": "china",
        }))
        cfg = mqtt.parse_url(mqtt_url)
        self.log_path = workdir / "sdk-device.log"
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [str(SDK_PYTHON), str(SDK_SCRIPT), "--info", str(info), "--host", cfg["host"], "--port",
             str(cfg["port"]), "--version", version, "--dir", str(workdir), "--wait", str(wait),
             "--pace", str(pace)],
            cwd=workdir, stdout=self._log, stderr=subprocess.STDOUT,
            env={"PATH": os.environ.get("PATH", ""), "PYTHONUNBUFFERED": "1"})

    def result(self) -> dict:
        """Return the device's last JSON line ({} while it has printed none)."""
        lines = [ln for ln in self.log_path.read_text(errors="replace").splitlines() if ln.startswith("{")]
        return json.loads(lines[-1]) if lines else {}

    def wait(self, timeout: float) -> int | None:
        """Wait for the process to end; return its exit code (None if still running)."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        """End the process if it still runs."""
        if self.proc.poll() is None:
            self.proc.terminate()
            self.wait(5)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
