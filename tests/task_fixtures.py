"""Fixtures for the task tests: a product with firmware and devices, and an in-process RQ worker."""
import hashlib
import secrets
from types import SimpleNamespace

import pytest
from rq import SimpleWorker
from sqlalchemy import insert

from ota.extensions import db, get_redis
from ota.jobs import get_queue
from ota.models import Device, DeviceUpgrade, Firmware, UpgradeTask, utcnow


def add_firmware(account_id: int, product, version: str, name: str = "DoorCamFW") -> Firmware:
    """Insert a firmware row (no file needed for tasks)."""
    data = f"{product.id}-{version}".encode()
    fw = Firmware(account_id=account_id, product_id=product.id, name=name, version=version,
                  filename=f"fw_{version}.bin", storage_key=secrets.token_hex(16), size=51008,
                  md5=hashlib.md5(data).hexdigest(), sha256=hashlib.sha256(data).hexdigest())
    db.session.add(fw)
    db.session.commit()
    return fw


def add_devices(product, n: int, version: str | None = "1.0.0", prefix: str = "dev") -> list[int]:
    """Bulk-insert n devices named <prefix>_00001..., return their ids."""
    now = utcnow()
    start = db.session.execute(db.select(db.func.count()).where(Device.product_id == product.id)).scalar_one()
    rows = [{"product_id": product.id, "name": f"{prefix}_{i:05d}", "secret": "c2VjcmV0c2VjcmV0c2VjcmV0",
             "version": version, "created_at": now} for i in range(start, start + n)]
    for i in range(0, len(rows), 5000):
        db.session.execute(insert(Device), rows[i:i + 5000])
    db.session.commit()
    return db.session.execute(db.select(Device.id).where(Device.product_id == product.id,
                                                         Device.name.like(f"{prefix}\\_%", escape="\\"))
                              .order_by(Device.id)).scalars().all()[-n:]


def run_jobs() -> None:
    """Run every queued job in this process until the queue is empty (scheduled ones stay scheduled)."""
    SimpleWorker([get_queue()], connection=get_redis()).work(burst=True)


@pytest.fixture
def world(app, user, make_product):
    """Alice's product DoorCam with target firmware 2.0.0 (and 1.0.0 uploaded too)."""
    product = make_product(user.account_id)
    old = add_firmware(user.account_id, product, "1.0.0")
    target = add_firmware(user.account_id, product, "2.0.0")
    return SimpleNamespace(user=user, account_id=user.account_id, product=product, old=old, fw=target)


def records(task_id: int) -> list[DeviceUpgrade]:
    """Return a task's records by id."""
    db.session.expire_all()
    return db.session.execute(db.select(DeviceUpgrade).where(DeviceUpgrade.task_id == task_id)
                              .order_by(DeviceUpgrade.id)).scalars().all()


def task(task_id: int) -> UpgradeTask:
    """Return a fresh copy of a task."""
    db.session.expire_all()
    return db.session.get(UpgradeTask, task_id)
