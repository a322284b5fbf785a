"""Fixtures for product and device tests (imported by tests/test_devices.py)."""
import io

import pytest
from sqlalchemy import insert

from ota.extensions import db
from ota.models import Device

HX = {"HX-Request": "true"}


@pytest.fixture
def product(user, make_product):
    """Alice's product "DoorCam"."""
    return make_product(user.account_id, "DoorCam")


@pytest.fixture
def make_devices():
    """Insert n devices named prefix-00000... into a product in one statement; return their names."""

    def make(product_id, n, prefix="dev", version=None):
        names = [f"{prefix}-{i:05d}" for i in range(n)]
        db.session.execute(insert(Device), [
            {"product_id": product_id, "name": name, "secret": "c2VjcmV0c2VjcmV0c2VjcmV0", "version": version}
            for name in names])
        db.session.commit()
        return names

    return make


def upload(client, product_id, data: bytes, filename="devices.csv", htmx=True):
    """Post a CSV file to a product's import form."""
    return client.post(f"/products/{product_id}/devices/import",
                       data={"file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data", headers=HX if htmx else {})


def device_names(product_id) -> list[str]:
    """Return the product's DeviceNames, sorted."""
    return sorted(db.session.execute(
        db.select(Device.name).where(Device.product_id == product_id)).scalars())
