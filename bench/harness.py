"""What every benchmark needs: private real services, an app on a scratch database, a table printer."""
import contextlib
import os
import tempfile
from pathlib import Path

from ota.runtime import services


@contextlib.contextmanager
def stack_env():
    """Yield an environment dict with a scratch SQLite DB, storage, and private Redis + Mosquitto."""
    with tempfile.TemporaryDirectory(prefix="ota-bench-") as tmp:
        tmp = Path(tmp)
        redis_proc, redis_url = services.start_redis(tmp / "redis", persist=False)
        mqtt_proc, mqtt_url = services.start_mosquitto(tmp / "mosquitto")
        env = {
            "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{tmp / 'bench.db'}",
            "REDIS_URL": redis_url,
            "MQTT_URL": mqtt_url,
            "STORAGE_DIR": str(tmp / "storage"),
            "SECRET_KEY": "bench",
            "RQ_QUEUE": "ota-bench",
            "TMP": str(tmp),
        }
        try:
            yield env
        finally:
            services.stop(mqtt_proc)
            services.stop(redis_proc)


def make_app(env: dict):
    """Create the app on env's services with the schema migrated."""
    from flask_migrate import upgrade

    from ota import create_app

    os.environ.update({k: v for k, v in env.items() if k != "TMP"})
    app = create_app({"SQLALCHEMY_DATABASE_URI": env["DATABASE_URL"]})
    with app.app_context():
        upgrade()
    return app


def report(title: str, rows: list[tuple[str, str, str, str]]) -> None:
    """Print a table: what, product figure, raw baseline, ratio/target."""
    print(f"\n{title}")
    print(f"| what | product | raw baseline | ratio (target) |\n|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
