"""Devices: add, CSV import, list/search/paging, secret, delete, tenancy and the `flask ota device` commands."""
import base64
import codecs
import io
import re
import threading
import zipfile

import pytest

from ota.extensions import db
from ota.models import Device, DeviceUpgrade, Firmware, UpgradeStatus, UpgradeTask
from ota.services import devices
from tests.conftest import login
from tests.fixtures_catalog import HX, device_names, make_devices, product, upload  # noqa: F401


def test_secret_is_base64_of_16_random_bytes():
    secrets_ = {devices.new_secret() for _ in range(50)}
    assert len(secrets_) == 50
    assert all(len(base64.b64decode(s, validate=True)) == 16 and len(s) == 24 for s in secrets_)


# ---- add one ----

@pytest.mark.parametrize("name,status", [
    ("a", 303), ("d" * 48, 303), ("gw.01:x@y_z-1", 303),
    ("d" * 49, 422), ("", 422), ("dev 1", 422), ("设备", 422), ("a/b", 422), ("a,b", 422),
])
def test_add_device_rule(auth_client, product, name, status):
    r = auth_client.post(f"/products/{product.id}/devices", data={"name": name})
    assert r.status_code == status
    if status == 303:
        device = db.session.execute(db.select(Device)).scalar_one()
        assert device.name == name and len(base64.b64decode(device.secret)) == 16
        assert r.headers["Location"] == f"/products/{product.id}/devices/{device.id}"
    else:
        assert device_names(product.id) == []
        assert "设备名称" in r.get_data(as_text=True)


def test_add_device_strips_spaces(auth_client, product):
    auth_client.post(f"/products/{product.id}/devices", data={"name": "  cam-1 "})
    assert device_names(product.id) == ["cam-1"]


def test_add_duplicate_device_is_refused_at_the_field(auth_client, product):
    assert auth_client.post(f"/products/{product.id}/devices", data={"name": "cam-1"}, headers=HX).status_code == 200
    r = auth_client.post(f"/products/{product.id}/devices", data={"name": "cam-1"}, headers=HX)
    body = r.get_data(as_text=True)
    assert r.status_code == 422 and 'id="device-add"' in body and "已有名为“cam-1”的设备" in body
    assert device_names(product.id) == ["cam-1"]


def test_same_name_in_another_product_is_fine(app, user, make_product, product):
    other = make_product(user.account_id, "Other")
    devices.add_device(product, "cam-1")
    assert devices.add_device(other, "cam-1").product_id == other.id


def test_service_refuses_duplicate_even_past_the_check(app, product, monkeypatch):
    devices.add_device(product, "cam-1")
    monkeypatch.setattr(devices, "name_taken", lambda *a: False)  # lose the race: the constraint decides
    with pytest.raises(devices.DeviceError):
        devices.add_device(product, "cam-1")
    assert device_names(product.id) == ["cam-1"]


# ---- import ----

def test_import_excel_chinese_csv(auth_client, product):
    """The Excel file of the issue: GB18030 with CRLF, a Chinese header, a second column."""
    data = "设备名称,备注\r\ncam-001,一楼门口\r\n cam-002 ,\r\n\r\n\"cam-003\",三楼\r\n".encode("gb18030")
    r = upload(auth_client, product.id, data)
    assert r.status_code == 200 and r.headers["HX-Redirect"] == f"/products/{product.id}"
    assert device_names(product.id) == ["cam-001", "cam-002", "cam-003"]
    assert "已导入 3 个设备" in auth_client.get(f"/products/{product.id}").get_data(as_text=True)


@pytest.mark.parametrize("data", [
    codecs.BOM_UTF8 + b"DeviceName\r\na\r\nb\r\n", b"a\nb\n", b"a\rb\r", "DeviceName\tx\r\na\t1\r\nb\t2\r\n".encode("utf-16"),
    b'"Device Name"\n"a"\n"b"\n',
])
def test_import_variants(auth_client, product, data):
    assert upload(auth_client, product.id, data).status_code == 200
    assert device_names(product.id) == ["a", "b"]


def test_import_reports_every_bad_line_and_writes_nothing(auth_client, product):
    data = b"DeviceName\nok-1\nbad name\n" + b"x" * 49 + b"\nok-2\n,note\n"
    r = upload(auth_client, product.id, data)
    body = r.get_data(as_text=True)
    assert r.status_code == 422 and 'id="device-import"' in body
    assert "第 3 行：“bad name”不是有效的设备名称" in body and "第 4 行" in body and "第 6 行" in body
    assert "有 3 行存在错误" in body
    assert device_names(product.id) == []


def test_import_error_page_without_htmx(auth_client, product):
    r = upload(auth_client, product.id, b"bad name\n", htmx=False)
    assert r.status_code == 422 and "<html" in r.get_data(as_text=True) and "第 1 行" in r.get_data(as_text=True)


def test_import_lists_at_most_200_bad_lines(auth_client, product):
    r = upload(auth_client, product.id, b"bad name\n" * 250)
    body = r.get_data(as_text=True)
    assert body.count('<li class="csv-error">') == 200 and "另有 50 行未列出" in body and "250 行存在错误" in body


def test_import_skips_existing_names_and_creates_the_rest(auth_client, product):
    devices.add_device(product, "a")
    r = upload(auth_client, product.id, b"a\nb\nc\nb\n")
    assert r.status_code == 200 and device_names(product.id) == ["a", "b", "c"]
    page = auth_client.get(f"/products/{product.id}").get_data(as_text=True)
    assert "已导入 2 个设备" in page and "1 个已存在，已跳过：a" in page and "已忽略 1 个重复行" in page


def test_import_keeps_existing_secrets(app, product):
    first = devices.add_device(product, "a").secret
    devices.import_devices(product.id, ["a", "b"])
    assert db.session.execute(db.select(Device.secret).filter_by(name="a")).scalar_one() == first


@pytest.mark.parametrize("data,message", [
    (b"", "文件中没有设备名称"),
    (b"DeviceName\r\n", "文件中没有设备名称"),
    (b"\x00\x01\x02binary\x00", "这不是文本 CSV 文件"),
    (None, "这不是文本 CSV 文件"),  # an .xlsx renamed to .csv
])
def test_import_refuses_files_that_are_not_lists(auth_client, product, data, message):
    if data is None:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("[Content_Types].xml", "<Types/>")
        data = buf.getvalue()
    r = upload(auth_client, product.id, data)
    assert r.status_code == 422 and message in r.get_data(as_text=True)
    assert device_names(product.id) == []


def test_import_without_a_file(auth_client, product):
    r = auth_client.post(f"/products/{product.id}/devices/import", data={}, headers=HX)
    assert r.status_code == 422 and "请选择 CSV 文件" in r.get_data(as_text=True)


def test_import_of_a_file_over_the_size_limit(auth_client, product):
    from ota.services.csvnames import MAX_BYTES
    r = upload(auth_client, product.id, b"a\n" * (MAX_BYTES // 2 + 1))
    assert r.status_code == 422 and "文件大于 4 MB" in r.get_data(as_text=True)


def test_import_ten_thousand(app, product):
    names = [f"cam-{i:05d}" for i in range(10_000)]
    result = devices.import_devices(product.id, names)
    assert result.created == 10_000
    assert devices.count_devices(product.id) == 10_000


def test_two_imports_racing_on_the_same_names_create_each_once(app, product):
    """Two imports at once (two sessions, two threads): every name exists once, each import succeeds."""
    names = [f"n-{i:04d}" for i in range(2000)]
    results, errors = [], []
    start = threading.Barrier(2)
    product_id = product.id  # read here: the fixture's object belongs to this thread's session

    def run(chunk):
        with app.app_context():
            try:
                start.wait()
                results.append(devices.import_devices(product_id, chunk))
            except Exception as e:  # noqa: BLE001  (reported by the assert below)
                errors.append(e)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(names[:1500],)),
               threading.Thread(target=run, args=(names[500:],))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == [] and sum(r.created for r in results) == 2000
    assert sum(len(r.skipped) for r in results) == 1000 and device_names(product.id) == names


def test_import_with_nothing_to_do(app, product):
    assert devices.import_devices(product.id, []).created == 0


# ---- list, search, paging ----

def test_device_list_pages_100_at_a_time(auth_client, product, make_devices):
    make_devices(product.id, 250)
    page = auth_client.get(f"/products/{product.id}").get_data(as_text=True)
    assert page.count('<tr id="device-') == 100 and "dev-00000" in page and "dev-00100" not in page
    assert "共 250 个设备" in page and f'hx-get="/products/{product.id}?page=2"' in page
    last = auth_client.get(f"/products/{product.id}?page=3", headers=HX).get_data(as_text=True)
    assert last.count('<tr id="device-') == 50 and "dev-00249" in last and "<html" not in last
    beyond = auth_client.get(f"/products/{product.id}?page=9", headers=HX).get_data(as_text=True)
    assert beyond.count('<tr id="device-') == 0


def test_search_by_name_contains_and_case_insensitive(auth_client, product, make_devices):
    make_devices(product.id, 30)
    make_devices(product.id, 3, prefix="Gate")
    body = auth_client.get(f"/products/{product.id}?q=0002", headers=HX).get_data(as_text=True)
    assert re.findall(r"dev-\d+", body) == ["dev-00002", "dev-00020", "dev-00021", "dev-00022", "dev-00023",
                                           "dev-00024", "dev-00025", "dev-00026", "dev-00027", "dev-00028",
                                           "dev-00029"]
    assert "Gate-00000" in auth_client.get(f"/products/{product.id}?q=gate", headers=HX).get_data(as_text=True)


def test_search_treats_wildcards_literally(app, product):
    devices.import_devices(product.id, ["a_b", "axb", "a%b"])
    assert [d.name for d in devices.page_devices(product.id, q="a_b").items] == ["a_b"]
    assert [d.name for d in devices.page_devices(product.id, q="%").items] == ["a%b"]


def test_search_by_version(auth_client, product, make_devices):
    make_devices(product.id, 3, prefix="old", version="1.0.0")
    make_devices(product.id, 2, prefix="new", version="1.2.0")
    make_devices(product.id, 1, prefix="mute")
    body = auth_client.get(f"/products/{product.id}?version=1.2.0", headers=HX).get_data(as_text=True)
    assert body.count('<tr id="device-') == 2 and "old-" not in body
    body = auth_client.get(f"/products/{product.id}?version=-", headers=HX).get_data(as_text=True)
    assert body.count('<tr id="device-') == 1 and "mute-00000" in body
    page = auth_client.get(f"/products/{product.id}").get_data(as_text=True)
    assert '<option value="1.0.0"' in page and '<option value="1.2.0"' in page
    assert devices.versions(product.id) == ["1.0.0", "1.2.0"]


def test_search_with_no_match(auth_client, product, make_devices):
    make_devices(product.id, 3)
    body = auth_client.get(f"/products/{product.id}?q=zzz", headers=HX).get_data(as_text=True)
    assert "没有符合条件的设备" in body


def test_history_restore_gets_the_whole_page(auth_client, product):
    r = auth_client.get(f"/products/{product.id}?q=x", headers={**HX, "HX-History-Restore-Request": "true"})
    assert "<html" in r.get_data(as_text=True)


def test_device_names_are_escaped(app, auth_client, product):
    # Only valid names can be stored, but the page must never trust that.
    db.session.add(Device(product_id=product.id, name="<b>x</b>", secret="s"))
    db.session.commit()
    body = auth_client.get(f"/products/{product.id}").get_data(as_text=True)
    assert "<b>x</b>" not in body and "&lt;b&gt;x&lt;/b&gt;" in body


# ---- detail, secret, delete ----

def test_device_detail_hides_the_secret_until_asked(auth_client, product):
    device = devices.add_device(product, "cam-1")
    page = auth_client.get(f"/products/{product.id}/devices/{device.id}").get_data(as_text=True)
    assert device.secret not in page and "cam-1" in page and "设备密钥" in page
    r = auth_client.get(f"/products/{product.id}/devices/{device.id}/secret", headers=HX)
    assert r.status_code == 200 and device.secret in r.get_data(as_text=True)
    assert r.headers["Cache-Control"] == "no-store" and "<html" not in r.get_data(as_text=True)
    full = auth_client.get(f"/products/{product.id}/devices/{device.id}/secret")
    assert "<html" in full.get_data(as_text=True) and device.secret in full.get_data(as_text=True)


def _active_upgrade(app, product, device, status):
    fw = Firmware(account_id=product.account_id, product_id=product.id, name="fw", version="2.0",
                  filename="fw.bin", storage_key="k1", size=1, md5="0" * 32, sha256="0" * 64)
    db.session.add(fw)
    db.session.flush()
    task = UpgradeTask(account_id=product.account_id, firmware_id=fw.id, method="names")
    db.session.add(task)
    db.session.flush()
    db.session.add(DeviceUpgrade(task_id=task.id, device_id=device.id, firmware_id=fw.id, status=status))
    db.session.commit()
    return task


def test_delete_device(auth_client, product):
    device = devices.add_device(product, "cam-1")
    r = auth_client.post(f"/products/{product.id}/devices/{device.id}/delete", headers=HX)
    assert r.status_code == 200 and r.headers["HX-Redirect"] == f"/products/{product.id}"
    assert device_names(product.id) == []


def test_delete_device_with_a_finished_upgrade_removes_its_record(app, auth_client, product):
    device = devices.add_device(product, "cam-1")
    _active_upgrade(app, product, device, UpgradeStatus.SUCCEEDED)
    assert auth_client.post(f"/products/{product.id}/devices/{device.id}/delete").status_code == 303
    assert device_names(product.id) == [] and db.session.execute(db.select(DeviceUpgrade)).first() is None


@pytest.mark.parametrize("status", UpgradeStatus.ACTIVE)
def test_delete_device_in_an_unfinished_upgrade_is_refused(app, auth_client, product, status):
    device = devices.add_device(product, "cam-1")
    task = _active_upgrade(app, product, device, status)
    page = auth_client.get(f"/products/{product.id}/devices/{device.id}").get_data(as_text=True)
    assert "disabled" in page
    r = auth_client.post(f"/products/{product.id}/devices/{device.id}/delete", headers=HX)
    assert r.status_code == 409 and f"未完成的升级任务 {task.id}" in r.get_data(as_text=True)
    assert device_names(product.id) == ["cam-1"]


# ---- tenancy ----

def test_another_accounts_devices_are_404(client, make_user, make_product):
    bob = make_user("bob")
    theirs = make_product(bob.account_id, "BobCam")
    device = devices.add_device(theirs, "bob-1")
    alice = make_user("alice")
    mine = make_product(alice.account_id, "Mine")
    login(client)
    base = f"/products/{theirs.id}"
    for url in (base, f"{base}/devices/{device.id}", f"{base}/devices/{device.id}/secret"):
        assert client.get(url).status_code == 404, url
    # Alice's product id with Bob's device id: still 404.
    assert client.get(f"/products/{mine.id}/devices/{device.id}").status_code == 404
    assert client.get(f"/products/{mine.id}/devices/{device.id}/secret").status_code == 404
    assert client.post(f"{base}/devices", data={"name": "x"}).status_code == 404
    assert upload(client, theirs.id, b"y\n").status_code == 404
    assert client.post(f"{base}/devices/{device.id}/delete").status_code == 404
    assert client.post(f"/products/{mine.id}/devices/{device.id}/delete").status_code == 404
    assert device_names(theirs.id) == ["bob-1"]


def test_template_download(auth_client):
    r = auth_client.get("/products/devices-template.csv")
    assert r.status_code == 200 and r.data.startswith(codecs.BOM_UTF8 + b"DeviceName\r\n")
    from ota.services.csvnames import read_device_names
    assert read_device_names(r.data).ok


# ---- CLI ----

def test_cli_device_add(app, product):
    runner = app.test_cli_runner()
    r = runner.invoke(args=["ota", "device", "add", product.code, "cam-1"])
    assert r.exit_code == 0, r.output
    assert db.session.get(Device, int(r.output.strip())).name == "cam-1"
    r = runner.invoke(args=["ota", "device", "add", product.code, "cam-1"])
    assert r.exit_code != 0 and "already has a device" in r.output
    r = runner.invoke(args=["ota", "device", "add", product.code, "x" * 49])
    assert r.exit_code != 0 and "1–48" in r.output
    r = runner.invoke(args=["ota", "device", "add", "NOSUCHPROD", "cam-2"])
    assert r.exit_code != 0 and "no product" in r.output


def test_cli_device_import(app, product, tmp_path):
    f = tmp_path / "devices.csv"
    f.write_bytes("设备名称\r\ncam-1\r\ncam-2\r\ncam-1\r\n".encode("gb18030"))
    runner = app.test_cli_runner()
    r = runner.invoke(args=["ota", "device", "import", product.code, str(f)])
    assert r.exit_code == 0, r.output
    assert r.stdout.strip() == "2" and device_names(product.id) == ["cam-1", "cam-2"]
    r = runner.invoke(args=["ota", "device", "import", product.code.lower(), str(f)])
    assert r.exit_code == 0 and r.stdout.strip() == "0" and "skipped (exists): cam-1" in r.stderr


def test_cli_device_import_reports_bad_lines(app, product, tmp_path):
    f = tmp_path / "bad.csv"
    f.write_bytes(b"ok-1\nbad name\n\nalso bad!\n")
    r = app.test_cli_runner().invoke(args=["ota", "device", "import", product.code, str(f)])
    assert r.exit_code == 1
    assert "bad.csv:2: “bad name” is not a valid DeviceName" in r.stderr and "bad.csv:4:" in r.stderr
    assert "2 bad lines; nothing imported" in r.stderr and device_names(product.id) == []


def test_cli_device_import_refuses_a_workbook(app, product, tmp_path):
    f = tmp_path / "devices.xlsx.csv"
    f.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    r = app.test_cli_runner().invoke(args=["ota", "device", "import", product.code, str(f)])
    assert r.exit_code == 1 and "not a text CSV file" in r.stderr
