"""`make run`: start embedded Redis and Mosquitto when not configured, migrate, then web, worker, gateway."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ota.runtime import services

ROOT = Path(__file__).resolve().parents[2]
INSTANCE = ROOT / "instance"


def _prepare(env: dict) -> None:
    """Apply the migrations and create the first admin, printing its credentials once."""
    from flask_migrate import upgrade

    from ota import create_app
    from ota.services.accounts import ensure_first_admin

    app = create_app()
    with app.app_context():
        upgrade()
        created = ensure_first_admin()
    if created:
        creds = INSTANCE / "admin-credentials.txt"
        creds.write_text(f"username: {created[0]}\npassword: {created[1]}\n")
        creds.chmod(0o600)
        print(f"\n  First admin created. username: {created[0]}  password: {created[1]}\n"
              f"  (also saved to {creds}; change it with `flask ota create-user`)\n")


def main() -> int:
    """Start everything and supervise it until Ctrl-C."""
    INSTANCE.mkdir(exist_ok=True)
    started: list[subprocess.Popen] = []
    runtime = {}
    env = dict(os.environ)
    try:
        if not env.get("REDIS_URL"):
            proc, url = services.start_redis(INSTANCE / "redis", port=int(env.get("OTA_REDIS_PORT", 0)) or None)
            started.append(proc)
            runtime["REDIS_URL"] = env["REDIS_URL"] = url
            print(f"  Embedded Redis: {url}")
        if not env.get("MQTT_URL"):
            port = int(env.get("OTA_MQTT_PORT", 0)) or (1883 if not services.port_open(1883) else None)
            proc, url = services.start_mosquitto(INSTANCE / "mosquitto", port=port)
            started.append(proc)
            runtime["MQTT_URL"] = env["MQTT_URL"] = url
            print(f"  Embedded Mosquitto: {url}")
    except services.ServiceError as e:
        print(f"error: {e}", file=sys.stderr)
        for p in started:
            services.stop(p)
        return 1
    # CLI commands run from another terminal read this to find the embedded services.
    (INSTANCE / "runtime.json").write_text(json.dumps(runtime))
    os.environ.update(env)

    port = env.get("PORT", "5000")
    env.setdefault("PUBLIC_BASE_URL", f"http://127.0.0.1:{port}")
    os.environ["PUBLIC_BASE_URL"] = env["PUBLIC_BASE_URL"]
    _prepare(env)

    py = sys.executable
    roles = {
        "web": [py, "-m", "flask", "--app", "app", "run", "--host", env.get("HOST", "127.0.0.1"),
                "--port", port, "--with-threads", "--no-reload"],
        "worker": [py, "worker.py"],
        "gateway": [py, "worker.py", "gateway"],
    }
    children = {name: subprocess.Popen(cmd, cwd=ROOT, env=env) for name, cmd in roles.items()}
    print(f"\n  OTA console: http://{env.get('HOST', '127.0.0.1')}:{port}/   (Ctrl-C stops everything)\n")

    stopping = False

    def _stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    restarts: dict[str, list[float]] = {name: [] for name in roles}
    try:
        while not stopping:
            time.sleep(0.5)
            for name, proc in children.items():
                if proc.poll() is None or stopping:
                    continue
                recent = [t for t in restarts[name] if time.monotonic() - t < 60] + [time.monotonic()]
                restarts[name] = recent
                if len(recent) > 5:
                    print(f"error: {name} keeps exiting (code {proc.returncode}); stopping.", file=sys.stderr)
                    stopping = True
                    break
                print(f"  {name} exited with code {proc.returncode}; restarting it.", file=sys.stderr)
                children[name] = subprocess.Popen(roles[name], cwd=ROOT, env=env)
    finally:
        for proc in children.values():
            services.stop(proc)
        for proc in started:
            services.stop(proc)
        (INSTANCE / "runtime.json").unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
