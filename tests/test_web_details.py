"""Small web rules: Chinese firmware names, one filename sanitiser, the right 413 message, retry on a failed task."""
import io

import pytest

from ota.extensions import db
from ota.models import Firmware, TaskStatus
from ota.services import firmware as rules
from tests.firmware_fixtures import fields, payload, product, upload_form, upload_raw  # noqa: F401
from tests.fixtures_catalog import HX


@pytest.mark.parametrize("name", [
    "〇号固件", "𠀀门铃", "\U0002A700固件", "\U0002B740", "\U0002B820", "\U0002CEB0", "\U0002EBE0", "豈固件",
    "\uFA0E\uFAD9", "\U0002F800", "\U00030000", "门铃固件（正式版）", "DoorCam_v1-2",
])
def test_chinese_firmware_names_of_every_plane_are_accepted(name):
    assert rules.name_error(name) is None


@pytest.mark.parametrize("name", ["☃固件", "_门铃", "固件!", "\u3006固件"])
def test_other_symbols_are_still_refused(name):
    assert rules.name_error(name) is not None


def test_a_supplementary_plane_name_is_saved_through_the_form(app, auth_client, product):
    assert upload_form(auth_client, product.id, payload("bin"), name="𠀀〇门铃").status_code == 303
    assert db.session.execute(db.select(Firmware.name)).scalar_one() == "𠀀〇门铃"


@pytest.mark.parametrize("sent, stored", [
    ("..\\..\\windows\\a.bin", "a.bin"), ("C:\\Users\\x\\fw.bin", "fw.bin"), ("../../etc/b.bin", "b.bin"),
    ("门铃固件.bin", "门铃固件.bin"), ("plain.bin", "plain.bin"),
])
def test_both_upload_paths_store_the_same_filename(app, auth_client, product, sent, stored):
    assert upload_form(auth_client, product.id, payload("bin"), filename=sent, version="1.0.0").status_code == 303
    assert upload_raw(auth_client, product.id, payload("bin"), filename=sent, version="2.0.0").status_code == 201
    names = db.session.execute(db.select(Firmware.filename).order_by(Firmware.version)).scalars().all()
    assert names == [stored, stored]


def test_a_form_field_over_the_memory_limit_is_not_called_a_large_file(app, auth_client, product):
    big = "x" * (app.config["MAX_FORM_MEMORY_SIZE"] + 10)
    r = upload_form(auth_client, product.id, payload("bin"), description=big)
    body = r.get_data(as_text=True)
    assert r.status_code == 413 and "1 MB" in body and "1024 MB" not in body and 'id="firmware-form"' in body
    r = auth_client.post(f"/products/{product.id}/devices/import", content_type="multipart/form-data",
                         data={"note": big, "file": (io.BytesIO(b"cam1\n"), "d.csv")})
    body = r.get_data(as_text=True)
    assert r.status_code == 413 and "1 MB" in body and "1024 MB" not in body


def test_retry_all_on_a_task_that_failed_to_create_says_so(app, auth_client, user, make_product):
    from tests.live_fixtures import seed_firmware, seed_task

    fw = seed_firmware(user.account_id, make_product(user.account_id, "BabyCam"))
    task = seed_task(fw, [], [], status=TaskStatus.FAILED)
    r = auth_client.post(f"/tasks/{task.id}/retry-all", headers=HX)
    body = r.get_data(as_text=True)
    assert r.status_code == 409 and "该任务创建失败" in body and "请等待" not in body
