"""What every benchmark needs: private real services, an app on a scratch database, a seeded fleet, a table printer."""
import contextlib
import os
import secrets
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


def seed_fleet(app, n: int, code: str | None = None, *, user: bool = False, name: str = "d{:05d}",
               secret: str = "x", version: str = "1.0.0", device_fields: dict | None = None,
               fw_size: int = 1000, storage_key: str | None = None, task: bool = True,
               task_fields: dict | None = None, task_by_user: bool = False, upgrades=None):
    """Seed an account ("bench"), its product, a firmware 2.0.0, n devices and (optionally) a task
    with one device_upgrade row per device, in bulk inserts; return the ids as a namespace.

    code: the product's code (None: products.create_product picks one). user: also a login
    "bench" / "correct-horse" (task_by_user: the task's creator). name: a format for device i's name. upgrades: None for no rows, a
    status, a dict of row fields, or a function of the device's index returning the row's fields.
    """
    from types import SimpleNamespace

    from ota.extensions import db
    from ota.models import Account, Device, DeviceUpgrade, Firmware, Product, UpgradeTask
    from ota.services import products
    from ota.services.accounts import create_user

    with app.app_context():
        acct = Account(name="bench")
        db.session.add(acct)
        db.session.flush()
        user_id = create_user("bench", "correct-horse", account_id=acct.id).id if user else None
        if code is None:
            product = products.create_product(acct.id, "Bench")
        else:
            product = Product(account_id=acct.id, code=code, name="Bench")
            db.session.add(product)
            db.session.flush()
        fw = Firmware(account_id=acct.id, product_id=product.id, name="fw", version="2.0.0", filename="fw.bin",
                      storage_key=storage_key or secrets.token_hex(16), size=fw_size, md5="0" * 32, sha256="0" * 64)
        db.session.add(fw)
        db.session.flush()
        db.session.execute(db.insert(Device), [{"product_id": product.id, "name": name.format(i), "secret": secret,
                                                "version": version, **(device_fields or {})} for i in range(n)])
        devices = db.session.execute(db.select(Device.id, Device.name).where(Device.product_id == product.id)
                                     .order_by(Device.id)).all()
        ns = SimpleNamespace(account_id=acct.id, user_id=user_id, product_id=product.id, code=product.code,
                             firmware_id=fw.id, device_ids=[d for d, _ in devices], task_id=None,
                             upgrade_ids=[], upgrades={})
        if task:
            t = UpgradeTask(account_id=acct.id, firmware_id=fw.id, method="names", status="created",
                            created_by_id=user_id if task_by_user else None, **(task_fields or {}))
            db.session.add(t)
            db.session.flush()
            ns.task_id = t.id
        if upgrades is not None:
            if isinstance(upgrades, str):
                fields = lambda _i, s=upgrades: {"status": s}  # noqa: E731
            elif isinstance(upgrades, dict):
                fields = lambda _i, f=upgrades: f  # noqa: E731
            else:
                fields = upgrades
            db.session.execute(db.insert(DeviceUpgrade), [
                {"task_id": ns.task_id, "device_id": d, "firmware_id": fw.id, **fields(i)}
                for i, (d, _) in enumerate(devices)])
            rows = db.session.execute(db.select(Device.name, DeviceUpgrade.id)
                                      .join(DeviceUpgrade, DeviceUpgrade.device_id == Device.id)
                                      .where(DeviceUpgrade.task_id == ns.task_id).order_by(Device.id)).all()
            ns.upgrades = dict(rows)
            ns.upgrade_ids = [u for _, u in rows]
        db.session.commit()
    return ns
