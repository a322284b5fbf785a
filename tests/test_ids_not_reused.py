"""Deleted rows' ids are never given to new rows (SQLite reuses the newest one without AUTOINCREMENT)."""
import pytest

from ota.extensions import db
from ota.models import Device, DeviceUpgrade, Firmware, Product, UpgradeTask
from ota.services import firmware as firmware_service
from ota.services.downloads import download_url
from tests.devicechannel_fixtures import *  # noqa: F401,F403


def test_a_deleted_firmwares_download_link_does_not_serve_a_new_firmware(client, fleet):
    old = fleet.firmware("1.2.0", data=b"old firmware")
    dev = fleet.devices(1)[0]
    path = "/" + download_url(old.id, dev.id).rsplit("/", 1)[1]
    assert client.get(path).data == b"old firmware"
    old_id = old.id
    firmware_service.delete_firmware(fleet.account_id, old_id)
    new = fleet.firmware("1.3.0", data=b"new firmware")
    assert new.id != old_id
    assert client.get(path).status_code == 404


@pytest.mark.parametrize("model", [Firmware, UpgradeTask, DeviceUpgrade, Product, Device])
def test_every_id_a_link_or_a_job_names_is_never_reused(app, model):
    table = model.__table__
    assert table.dialect_options["sqlite"]["autoincrement"] is True
    if db.engine.dialect.name == "sqlite":
        sql = db.session.execute(db.text("SELECT sql FROM sqlite_master WHERE name = :t"), {"t": table.name}).scalar()
        assert "AUTOINCREMENT" in sql
