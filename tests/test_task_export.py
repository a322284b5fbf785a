"""The task's CSV export: cells that a spreadsheet would run as a formula are written as text."""
import csv
import io

import pytest

from ota.blueprints.tasks.detail_views import spreadsheet_cell
from ota.extensions import db
from ota.models import Device, DeviceUpgrade, UpgradeStatus
from tests.live_fixtures import seed_devices, seed_firmware, seed_task


@pytest.mark.parametrize("value, shown", [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+1", "'+1"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("cam-01", "cam-01"), ("1.0.0", "1.0.0"), (None, ""), (3, "3"), ("", ""),
])
def test_spreadsheet_cell(value, shown):
    assert spreadsheet_cell(value) == shown


def test_export_neutralises_formula_cells(auth_client, user, make_product):
    product = make_product(user.account_id)
    devices = seed_devices(product, 2)
    devices[0].name = "@cam"  # a valid DeviceName: letters, digits and _ - . : @
    devices[1].name = "-cam"
    fw = seed_firmware(user.account_id, product, user_id=user.id)
    task = seed_task(fw, devices, [UpgradeStatus.FAILED], user_id=user.id)
    db.session.execute(db.update(DeviceUpgrade).values(from_version="=1+1", error_code="x", error_detail="=cmd|'/C calc'!A0"))
    db.session.commit()
    rows = list(csv.reader(io.StringIO(auth_client.get(f"/tasks/{task.id}/devices.csv").data.decode("utf-8-sig"))))
    body = {r[0]: r for r in rows[1:]}
    assert set(body) == {"'@cam", "'-cam"}
    for r in body.values():
        assert r[1] == "'=1+1" and r[3] == "'=cmd|'/C calc'!A0"
        assert not any(c.startswith(("=", "+", "-", "@")) for c in r)
    assert db.session.execute(db.select(Device.name).order_by(Device.id)).scalars().all() == ["@cam", "-cam"]
