"""Fixtures for the fault drills: a private Redis and Mosquitto the drill may kill, and the console's processes.

`stack` gives one drill its own redis-server and broker (so restarting them never disturbs the
session's shared ones), points the in-test app at them, and starts/kills/restarts the real roles
(`python worker.py`, `python worker.py gateway`, the web via `flask run`) with their logs kept.
"""
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from ota.devicechannel.simulator import SimDevice, Timing, run_fleet
from ota.extensions import db
from ota.runtime import services
from ota.services import health

ROOT = Path(__file__).resolve().parents[1]

__all__ = ["stack", "DrillStack", "FleetThread", "until"]


def until(predicate, timeout: float, what: str, every: float = 0.1):
    """Poll predicate (after a rollback, to see other processes' commits) until truthy; return it."""
    deadline = time.monotonic() + timeout
    while True:
        db.session.rollback()
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


def descendants(pid: int) -> list[int]:
    """Return the pids of every live process below pid (from /proc), children first."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class DrillStack:
    """One drill's services and processes; every process is stopped at the end of the test."""

    def __init__(self, app, service_env: dict, workdir: Path):
        self.app, self.workdir = app, workdir
        self.logs = workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.redis, self.redis_url = services.start_redis(workdir / "redis", persist=True)
        self.redis_port = int(self.redis_url.rsplit(":", 1)[1].split("/")[0])
        self.broker, self.mqtt_url = services.start_mosquitto(workdir / "mqtt")
        self.mqtt_port = int(self.mqtt_url.rsplit(":", 1)[1])
        self.web_port = services.free_port()
        self.env = {**service_env, "REDIS_URL": self.redis_url, "MQTT_URL": self.mqtt_url,
                    "RQ_QUEUE": f"drill-{secrets.token_hex(3)}", "SWEEP_SECONDS": "1",
                    "RQ_LOG_LEVEL": "INFO",  # the drills read RQ's per-job lines
                    "PUBLIC_BASE_URL": f"http://127.0.0.1:{self.web_port}", "LOG_LEVEL": "INFO"}
        self.procs: dict[str, subprocess.Popen] = {}
        self._saved = {k: app.config[k] for k in ("REDIS_URL", "MQTT_URL", "RQ_QUEUE", "PUBLIC_BASE_URL")}
        self._point_app()

    @property
    def base(self) -> str:
        """The web process's URL."""
        return f"http://127.0.0.1:{self.web_port}"

    def _point_app(self) -> None:
        """Make the in-test app (forms, services, enqueues) use this drill's Redis, broker and queue."""
        for k in self._saved:
            self.app.config[k] = self.env[k]
        self.app.extensions.pop("ota_redis", None)
        health._cache.clear()

    # --- processes -----------------------------------------------------------------------------
    def start(self, role: str, *extra: str, env: dict | None = None) -> subprocess.Popen:
        """Start a role ("worker", "gateway", "web") in its own process group, its output in logs/<role>.log."""
        args = {"worker": ["worker.py", *extra], "gateway": ["worker.py", "gateway"],
                "web": ["-m", "flask", "--app", "app", "run", "--host", "127.0.0.1", "--port", str(self.web_port),
                        "--with-threads", "--no-reload"]}[role]
        out = open(self.logs / f"{role}.log", "ab")
        # Not conftest's run_process: it cannot override the session's REDIS_URL/MQTT_URL.
        proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, env={**os.environ, **self.env, **(env or {})},
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        out.close()
        self.procs[role] = proc
        if role == "web":
            self.wait_web()
        return proc

    def wait_gateway(self) -> None:
        """Wait until a gateway is connected to the broker (its heartbeat is in Redis)."""
        from ota.extensions import get_redis
        from ota.services.health import GATEWAY_HEARTBEAT_KEY

        until(lambda: get_redis().exists(GATEWAY_HEARTBEAT_KEY), 15, "the gateway's heartbeat")

    def login(self, account_id: int) -> requests.Session:
        """Log the account's user into the web process; return the browser-like session."""
        from ota.models import User
        from tests.live_fixtures import http_login

        username = db.session.execute(db.select(User.username).filter_by(account_id=account_id)).scalar_one()
        return http_login(self.base, username)

    def wait_web(self, timeout: float = 20) -> None:
        """Wait until the web process answers its login page."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if requests.get(f"{self.base}/login", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or self.procs["web"].poll() is not None:
                pytest.fail(f"web did not start:\n{self.log('web')[-3000:]}")
            time.sleep(0.1)

    def kill(self, role: str, sig=signal.SIGKILL) -> None:
        """Signal a role and every process under it, then reap it.

        Its process group is not enough: RQ's work horse calls setsid(), so a killpg() of the
        worker leaves the horse running the job to its end (verified with RQ 3.0).
        """
        self.kill_proc(self.procs[role], sig)

    @staticmethod
    def kill_proc(proc: subprocess.Popen, sig=signal.SIGKILL) -> None:
        """Signal proc and its descendants; reap proc."""
        for pid in [*descendants(proc.pid), proc.pid]:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        proc.wait(10)

    def log(self, role: str) -> str:
        """Return what a role has written so far."""
        path = self.logs / f"{role}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # --- services ------------------------------------------------------------------------------
    def stop_redis(self) -> None:
        services.stop(self.redis)

    def start_redis(self) -> None:
        self.redis, _ = services.start_redis(self.workdir / "redis", port=self.redis_port, persist=True)

    def stop_broker(self) -> None:
        services.stop(self.broker)

    def start_broker(self) -> None:
        self.broker, _ = services.start_mosquitto(self.workdir / "mqtt", port=self.mqtt_port)

    def close(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(10)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    self.kill_proc(proc)
        services.stop(self.redis)
        services.stop(self.broker)
        for k, v in self._saved.items():
            self.app.config[k] = v
        self.app.extensions.pop("ota_redis", None)
        health._cache.clear()


@pytest.fixture
def stack(app, service_env, tmp_path, artifacts, request):
    """A private Redis and broker for one drill, the app pointed at them, and process control."""
    s = DrillStack(app, service_env, tmp_path)
    yield s
    s.close()
    # Keep the processes' logs (test-artifacts/drills/<test>/) to read when a drill fails.
    target = artifacts / "drills" / request.node.name
    target.mkdir(parents=True, exist_ok=True)
    for f in s.logs.glob("*.log"):
        (target / f.name).write_bytes(f.read_bytes())


class FleetThread:
    """Simulated devices (ota.devicechannel.simulator) running in a background thread."""

    def __init__(self, product_code: str, devices, mqtt_url: str, timing: Timing, version: str = "1.0.0",
                 faults: dict | None = None, duration: float = 50):
        self.sims = [SimDevice(product_code, d.name, d.secret, version, fault=(faults or {}).get(d.name))
                     for d in devices]
        self.result = None
        self._thread = threading.Thread(target=self._run, args=(mqtt_url, timing, duration), daemon=True)
        self._thread.start()

    def _run(self, url, timing, duration):
        self.result = run_fleet(self.sims, url, timing, exit_when_done=True, duration=duration)

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the simulated fleet did not settle: " + ", ".join(
            f"{d.name} {d.phase} (resumed {d.resumed}, ranges {d.ranges}, error {d.error})" for d in self.sims)
