"""The whole product as processes: embedded services when unconfigured, then web, worker, gateway."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from ota.runtime import services

ROOT = Path(__file__).resolve().parents[2]


class Stack:
    """Start, supervise and stop the console's processes (used by `make run` and `make demo`)."""

    def __init__(self, instance: Path | None = None, env: dict | None = None):
        self.instance = instance or ROOT / "instance"
        self.env = dict(os.environ if env is None else env)
        self.services: list[subprocess.Popen] = []
        self.children: dict[str, subprocess.Popen] = {}
        self.restarts: dict[str, list[float]] = {}
        self.port = self.env.get("PORT", "5000")
        self.host = self.env.get("HOST", "127.0.0.1")

    @property
    def url(self) -> str:
        """Return the console's URL."""
        return f"http://{self.host}:{self.port}/"

    def start_services(self) -> None:
        """Start a private Redis and Mosquitto for whichever URL is unset; raise ServiceError."""
        self.instance.mkdir(parents=True, exist_ok=True)
        runtime = {}
        if not self.env.get("REDIS_URL"):
            proc, url = services.start_redis(
                self.instance / "redis", port=int(self.env.get("OTA_REDIS_PORT", 0)) or None)
            self.services.append(proc)
            runtime["REDIS_URL"] = self.env["REDIS_URL"] = url
            print(f"  Embedded Redis: {url}")
        if not self.env.get("MQTT_URL"):
            port = int(self.env.get("OTA_MQTT_PORT", 0)) or (None if services.port_open(1883) else 1883)
            proc, url = services.start_mosquitto(self.instance / "mosquitto", port=port)
            self.services.append(proc)
            runtime["MQTT_URL"] = self.env["MQTT_URL"] = url
            print(f"  Embedded Mosquitto: {url}")
        self.env.setdefault("PUBLIC_BASE_URL", f"http://127.0.0.1:{self.port}")
        # CLI commands run from another terminal read this to find the embedded services.
        (self.instance / "runtime.json").write_text(json.dumps(runtime))
        os.environ.update({k: self.env[k] for k in ("REDIS_URL", "MQTT_URL", "PUBLIC_BASE_URL")})

    def prepare(self) -> tuple[str, str] | None:
        """Apply the migrations; create the first admin and return its credentials if there was none."""
        from flask_migrate import upgrade

        from ota import create_app
        from ota.services.accounts import ensure_first_admin

        app = create_app()
        with app.app_context():
            upgrade()
            created = ensure_first_admin()
        if created:
            creds = self.instance / "admin-credentials.txt"
            creds.write_text(f"username: {created[0]}\npassword: {created[1]}\n")
            creds.chmod(0o600)
        return created

    def roles(self) -> dict[str, list[str]]:
        """Return the command of each long-running process."""
        py = sys.executable
        return {
            "web": [py, "-m", "flask", "--app", "app", "run", "--host", self.host, "--port", self.port,
                    "--with-threads", "--no-reload"],
            "worker": [py, "worker.py"],
            "gateway": [py, "worker.py", "gateway"],
        }

    def start(self, name: str) -> None:
        """Start (or restart) one role."""
        self.children[name] = subprocess.Popen(self.roles()[name], cwd=ROOT, env=self.env)

    def start_all(self) -> None:
        """Start every role and wait until the web answers."""
        for name in self.roles():
            self.start(name)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not services.port_open(int(self.port), self.host):
            time.sleep(0.2)

    def supervise_once(self) -> bool:
        """Restart roles that exited (at most 5 times a minute each); return False to give up."""
        for name, proc in list(self.children.items()):
            if proc.poll() is None:
                continue
            now = time.monotonic()
            recent = [t for t in self.restarts.get(name, []) if now - t < 60] + [now]
            self.restarts[name] = recent
            if len(recent) > 5:
                print(f"error: {name} keeps exiting (code {proc.returncode}); stopping.", file=sys.stderr)
                return False
            print(f"  {name} exited with code {proc.returncode}; restarting it.", file=sys.stderr)
            self.start(name)
        return True

    def stop(self) -> None:
        """Stop every role, then the embedded services."""
        for proc in self.children.values():
            services.stop(proc)
        for proc in self.services:
            services.stop(proc)
        (self.instance / "runtime.json").unlink(missing_ok=True)
