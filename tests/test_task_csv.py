"""按设备名称 through the real form: every CSV variant gives its device list or its message."""
import io

import pytest

from ota.models import UpgradeTask
from tests.task_fixtures import add_devices, records, run_jobs, world  # noqa: F401
from tests.task_fixtures import add_firmware


def post_csv(client, fw_id, data: bytes, filename="devices.csv", **extra):
    return client.post(f"/firmware/{fw_id}/upgrade", content_type="multipart/form-data",
                       data={"method": "names", "csv_file": (io.BytesIO(data), filename), **extra})


def names_of(task_id):
    from ota.extensions import db
    from ota.models import Device

    ids = [u.device_id for u in records(task_id)]
    return sorted(db.session.execute(db.select(Device.name).where(Device.id.in_(ids))).scalars())


@pytest.mark.parametrize("data", [
    b"DeviceName\ndev_00000\ndev_00001\n",
    "\ufeffDeviceName\r\ndev_00000\r\ndev_00001\r\n".encode(),
    b"dev_00000\rdev_00001\r",
    b"\n\n  dev_00000  \n\n\"dev_00001\"\n\n",
    "设备名称,备注\ndev_00000,一号\ndev_00001,二号\n".encode("gbk"),
    b"DeviceName,,\ndev_00000,,\n,,\ndev_00001,,\n",
])
def test_csv_variants_reach_the_named_devices(auth_client, world, data):
    add_devices(world.product, 5, "1.0.0")
    r = post_csv(auth_client, world.fw.id, data)
    assert r.status_code == 303, r.get_data(as_text=True)[-2000:]
    run_jobs()
    t = UpgradeTask.query.one()
    assert t.method == "names" and t.csv_filename == "devices.csv"
    assert names_of(t.id) == ["dev_00000", "dev_00001"]


def test_duplicates_are_folded_with_a_notice(auth_client, world):
    add_devices(world.product, 3, "1.0.0")
    r = post_csv(auth_client, world.fw.id, b"DeviceName\ndev_00000\ndev_00001\ndev_00000\n")
    assert r.status_code == 303
    page = auth_client.get(r.headers["Location"]).get_data(as_text=True)
    assert "已忽略 1 个重复行：" in page and "第 4 行：“dev_00000” 与第 2 行重复，已忽略" in page
    run_jobs()
    assert names_of(UpgradeTask.query.one().id) == ["dev_00000", "dev_00001"]


def test_unknown_and_other_product_names_are_listed_by_line(auth_client, world, make_product):
    add_devices(world.product, 2, "1.0.0")
    other = make_product(world.account_id, "BabyCam")
    add_devices(other, 1, "1.0.0", prefix="baby")
    r = post_csv(auth_client, world.fw.id, b"DeviceName\ndev_00000\nghost_1\nbaby_00000\n")
    body = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "第 3 行：本产品下没有名为“ghost_1”的设备" in body
    assert "第 4 行：“baby_00000”属于产品 BabyCam" in body
    assert UpgradeTask.query.count() == 0


@pytest.mark.parametrize("data,filename,message", [
    (b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 200, "book.csv", "不是文本"),
    (bytes(range(256)) * 4, "blob.csv", "不是文本"),
    (b"DeviceName\ndev_00000\n", "devices.xlsx", ".csv"),
    (b"", "empty.csv", ""),
    (b"DeviceName\n\n", "header_only.csv", ""),
    (b"DeviceName\nbad name!\n", "bad.csv", "第 2 行"),
])
def test_bad_files_are_refused_at_the_field(auth_client, world, data, filename, message):
    add_devices(world.product, 1, "1.0.0")
    r = post_csv(auth_client, world.fw.id, data, filename=filename)
    body = r.get_data(as_text=True)
    assert r.status_code == 422
    assert 'id="field-csv_file"' in body and message in body.split('id="field-csv_file"')[1]
    assert UpgradeTask.query.count() == 0


def test_no_file_is_refused(auth_client, world):
    r = auth_client.post(f"/firmware/{world.fw.id}/upgrade", data={"method": "names"}, content_type="multipart/form-data")
    assert r.status_code == 422 and "请选择 DeviceName 的 CSV 文件" in r.get_data(as_text=True)


@pytest.mark.slow
def test_exactly_10000_pass_and_10001_are_refused(auth_client, world):
    add_devices(world.product, 10_001, "1.0.0")
    names = [f"dev_{i:05d}" for i in range(10_001)]
    r = post_csv(auth_client, world.fw.id, ("DeviceName\n" + "\n".join(names) + "\n").encode())
    assert r.status_code == 422 and "10001" in r.get_data(as_text=True).replace(",", "")
    assert UpgradeTask.query.count() == 0
    r = post_csv(auth_client, world.fw.id, ("DeviceName\n" + "\n".join(names[:10_000]) + "\n").encode())
    assert r.status_code == 303
    run_jobs()
    t = UpgradeTask.query.one()
    assert t.status == "created" and t.device_count == 10_000


def test_device_already_on_target_is_skipped_and_counted(auth_client, world):
    add_devices(world.product, 2, "1.0.0")
    add_devices(world.product, 1, "2.0.0", prefix="done")
    r = post_csv(auth_client, world.fw.id, b"dev_00000\ndone_00002\n")
    assert r.status_code == 303
    run_jobs()
    t = UpgradeTask.query.one()
    assert t.device_count == 1 and [s["reason"] for s in t.skipped] == ["on_target"]
    page = auth_client.get(f"/tasks/{t.id}").get_data(as_text=True)
    assert "done_00002" in page and "已是目标版本" in page


def test_all_on_target_fails_with_the_reason(auth_client, world):
    add_devices(world.product, 2, "2.0.0")
    post_csv(auth_client, world.fw.id, b"dev_00000\ndev_00001\n")
    run_jobs()
    t = UpgradeTask.query.one()
    assert t.status == "failed" and t.failure_code == "all_on_target"
    assert "匹配的设备都已是目标版本" in auth_client.get(f"/tasks/{t.id}").get_data(as_text=True)


def test_firmware_of_other_version_still_only_names_the_product(auth_client, world):
    add_firmware(world.account_id, world.product, "3.0.0")
    add_devices(world.product, 1, "1.0.0")
    assert post_csv(auth_client, world.fw.id, b"dev_00000\n").status_code == 303


def test_bad_rows_and_unknown_names_are_listed_together(auth_client, world):
    add_devices(world.product, 1, "1.0.0")
    body = post_csv(auth_client, world.fw.id, b"DeviceName\ndev_00000\nghost_7\nbad name\n").get_data(as_text=True)
    assert "第 3 行：本产品下没有名为“ghost_7”的设备" in body and "第 4 行" in body
