"""添加固件: every rule, refused with a message at its field, and the nearest value accepted."""
import hashlib
import re
import threading

import pytest

from ota.extensions import db
from ota.models import Account, Firmware
from ota.services import firmware as service
from ota.services import uploads
from tests.conftest import login
from tests.firmware_fixtures import (  # noqa: F401  (fixtures)
    Stream, assert_no_stray_files, check, firmware_count, payload, product, stored_files, upload_form,
    upload_raw,
)


def field_errors(html: str, field: str) -> list[str]:
    """Return the messages shown at one field of the rendered form."""
    m = re.search(rf'<div class="field[^"]*" id="field-{field}">(.*?)</div>\s*(?=<div class="(?:field|hint fw|upload)|$)',
                  html, re.S)
    block = m.group(1) if m else ""
    return re.findall(r'<div class="error">(.*?)</div>', block)


def test_add_bin_through_the_form_stores_file_md5_and_size(app, auth_client, product):
    data = payload("bin", 51_008)
    r = upload_form(auth_client, product.id, data, filename="doorcam-1.0.0.bin", description="首个版本")
    assert r.status_code == 303, r.get_data(as_text=True)
    fw = db.session.execute(db.select(Firmware)).scalar_one()
    assert r.headers["Location"] == f"/firmware/{fw.id}"
    assert (fw.name, fw.version, fw.size, fw.filename) == ("门铃固件", "1.0.0", 51_008, "doorcam-1.0.0.bin")
    assert fw.md5 == hashlib.md5(data).hexdigest() and fw.sha256 == hashlib.sha256(data).hexdigest()
    assert fw.description == "首个版本"
    assert firmware_count(product.account_id) == 1
    assert_no_stray_files(app)
    from ota.services.storage import get_storage
    with get_storage().open(fw.storage_key) as f:
        assert f.read() == data


def test_add_tar_gz_through_the_raw_body(app, auth_client, product):
    data = payload("gzip", 300_000)
    r = upload_raw(auth_client, product.id, data, filename="DoorCam-1.2.0.TAR.GZ", version="1.2.0")
    assert r.status_code == 201, r.get_data(as_text=True)
    fw = db.session.get(Firmware, r.json["id"])
    assert r.json["location"] == f"/firmware/{fw.id}"
    assert fw.md5 == hashlib.md5(data).hexdigest() and fw.size == len(data)
    assert_no_stray_files(app)


NAMES_OK = ["a" * 32, "固" * 32, "固件（测试版）", "Door_Cam-2(beta)", "1号固件", "𠀀"[:0] + "㐀固件"]
NAMES_BAD = ["a" * 33, "固" * 33, "_doorcam", "-doorcam", "(beta)", "（测试）", "door cam", "door.cam",
             "door/cam", "门铃!", "doorcam\n2", "ｄｏｏｒ"]


@pytest.mark.parametrize("name", NAMES_OK)
def test_name_accepted(auth_client, product, name):
    assert check(auth_client, product.id, name=name).status_code == 204


@pytest.mark.parametrize("name", NAMES_BAD + [""])
def test_name_refused_at_its_field(auth_client, product, name):
    r = check(auth_client, product.id, name=name)
    assert r.status_code == 422
    assert field_errors(r.get_data(as_text=True), "name"), r.get_data(as_text=True)


def test_name_counts_characters_not_bytes():
    assert service.name_error("固" * 32) is None  # 96 bytes in UTF-8
    assert "32" in str(service.name_error("固" * 33))
    assert "start" in str(service.name_error("_a"))


@pytest.mark.parametrize("version,ok", [
    ("1" * 32, True), ("1" * 33, False), ("v1.2.3-rc_1", True), ("A", True), ("", False),
    ("1.0+build", False), ("1/0", False), ("版本1", False), ("1 0", False), ("1.0;", False),
])
def test_version_rule(auth_client, product, version, ok):
    r = check(auth_client, product.id, version=version)
    assert r.status_code == (204 if ok else 422)
    if not ok:
        assert field_errors(r.get_data(as_text=True), "version")


@pytest.mark.parametrize("description,ok", [("描" * 100, True), ("描" * 101, False), ("", True),
                                            ("a\r\n" * 49 + "ab", True)])
def test_description_rule(auth_client, product, description, ok):
    r = check(auth_client, product.id, description=description)
    assert r.status_code == (204 if ok else 422)
    if not ok:
        assert "100" in field_errors(r.get_data(as_text=True), "description")[0]


@pytest.mark.parametrize("filename,ok", [
    ("fw.bin", True), ("FW.BIN", True), ("fw.tar", True), ("fw.gz", True), ("fw.zip", True),
    ("fw.tar.gz", True), ("fw.TGZ", True), ("fw.exe", False), ("fw.bin.txt", False), ("fwbin", False),
    (".bin", False), ("fw.rar", False), ("", False),
])
def test_extension_rule(auth_client, product, filename, ok):
    r = check(auth_client, product.id, filename=filename)
    assert r.status_code == (204 if ok else 422)
    if not ok:
        assert field_errors(r.get_data(as_text=True), "file")


@pytest.mark.parametrize("filename,kind", [
    ("a.bin", "bin"), ("a.tar", "tar"), ("a.gz", "gzip"), ("a.tar.gz", "gzip"), ("a.tgz", "gzip"),
    ("a.zip", "zip"), ("a.zip", "emptyzip"), ("A.TAR.GZ", "gzip"),
])
@pytest.mark.parametrize("path", ["form", "raw"])
def test_each_extension_with_its_content_is_accepted(app, auth_client, product, filename, kind, path):
    send = upload_form if path == "form" else upload_raw
    r = send(auth_client, product.id, payload(kind), filename=filename)
    assert r.status_code in (201, 303), r.get_data(as_text=True)
    assert_no_stray_files(app)


@pytest.mark.parametrize("filename,kind", [
    ("a.gz", "zip"), ("a.tar.gz", "tar"), ("a.tgz", "bin"), ("a.zip", "gzip"), ("a.tar", "gzip"),
    ("a.tar", "bin"), ("a.zip", "bin"),
])
@pytest.mark.parametrize("path", ["form", "raw"])
def test_content_that_does_not_match_the_name_is_refused(app, auth_client, product, filename, kind, path):
    send = upload_form if path == "form" else upload_raw
    r = send(auth_client, product.id, payload(kind), filename=filename)
    assert r.status_code == 422
    assert "content" in " ".join(field_errors(r.get_data(as_text=True), "file")) or \
        "内容" in " ".join(field_errors(r.get_data(as_text=True), "file"))
    assert db.session.execute(db.select(Firmware)).first() is None
    assert_no_stray_files(app)


@pytest.mark.parametrize("path", ["form", "raw"])
def test_empty_file_is_refused(app, auth_client, product, path):
    send = upload_form if path == "form" else upload_raw
    r = send(auth_client, product.id, b"", filename="a.bin")
    assert r.status_code == 422
    assert field_errors(r.get_data(as_text=True), "file") == ["文件是空的。"]
    assert_no_stray_files(app)
    # The nearest that passes: one byte.
    assert send(auth_client, product.id, b"\0", filename="a.bin").status_code in (201, 303)


def test_no_file_chosen_is_refused_at_the_file_field(app, auth_client, product):
    r = auth_client.post("/firmware/new", data={"name": "a", "product": str(product.id), "version": "1"},
                         content_type="multipart/form-data")
    assert r.status_code == 422 and field_errors(r.get_data(as_text=True), "file")


def test_refused_upload_keeps_what_the_user_typed(auth_client, product):
    r = upload_form(auth_client, product.id, b"", filename="a.bin", name="门铃（测试）", description="说明")
    page = r.get_data(as_text=True)
    assert 'value="门铃（测试）"' in page and "说明</textarea>" in page


def test_version_is_unique_per_product(app, auth_client, product, make_product, user):
    assert upload_form(auth_client, product.id, payload("bin"), version="1.0.0").status_code == 303
    r = upload_form(auth_client, product.id, payload("bin"), version="1.0.0")
    assert r.status_code == 422
    assert "1.0.0" in field_errors(r.get_data(as_text=True), "version")[0]
    other = make_product(user.account_id, "BabyCam")
    assert upload_form(auth_client, other.id, payload("bin"), version="1.0.0").status_code == 303
    assert firmware_count(user.account_id) == 2
    assert_no_stray_files(app)


def test_product_must_be_one_of_the_account(app, client, product, make_user, make_product):
    bob = make_user("bob")
    login(client, "bob")
    r = upload_form(client, product.id, payload("bin"))
    assert r.status_code == 422 and field_errors(r.get_data(as_text=True), "product")
    assert product.name not in r.get_data(as_text=True)  # alice's product is not offered to bob
    assert db.session.execute(db.select(Firmware)).first() is None
    assert firmware_count(bob.account_id) == 0


def _fill(account_id, product_id, n):
    """Give the account n firmware rows (no files) and the matching count."""
    db.session.add_all(Firmware(account_id=account_id, product_id=product_id, name=f"old{i}",
                                version=f"0.{i}", filename="x.bin", storage_key=f"{i:032x}", size=1,
                                md5="0" * 32, sha256="0" * 64) for i in range(n))
    db.session.execute(db.update(Account).where(Account.id == account_id).values(firmware_count=n))
    db.session.commit()


def test_firmware_100_is_accepted_and_101_refused(app, auth_client, product):
    _fill(product.account_id, product.id, 99)
    assert upload_form(auth_client, product.id, payload("bin"), version="9.9.100").status_code == 303
    r = upload_form(auth_client, product.id, payload("bin"), version="9.9.101")
    assert r.status_code == 422
    assert "删除旧版本" in r.get_data(as_text=True)
    assert firmware_count(product.account_id) == 100
    assert db.session.execute(db.select(db.func.count(Firmware.id))).scalar() == 100
    # Only the 100th's file was stored (the 99 filler rows have none): nothing staged is left.
    assert len(stored_files(app)) == 1
    # The JS path is told before sending the file.
    r = check(auth_client, product.id, version="9.9.101")
    assert r.status_code == 422 and "删除旧版本" in r.get_data(as_text=True)


def _race(app, account_id, product_id, versions):
    """Run create_firmware for each version in its own thread, all released at once."""
    barrier = threading.Barrier(len(versions))
    results = {}

    def one(version):
        with app.app_context():
            rx = uploads.Receiver(__import__("ota.services.storage", fromlist=["x"]).get_storage(), 1 << 20, "a.bin")
            rx.write(payload("bin"))
            barrier.wait()
            try:
                fw = service.create_firmware(account_id, product_id, "race", version, "", rx)
                results[version + str(threading.get_ident())] = ("ok", fw.id)
            except service.FirmwareError as e:
                results[version + str(threading.get_ident())] = ("refused", e.field)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=one, args=(v,)) for v in versions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return list(results.values())


def test_two_uploads_racing_at_99_end_at_100(app, product):
    _fill(product.account_id, product.id, 99)
    results = _race(app, product.account_id, product.id, ["race-a", "race-b"])
    assert sorted(r[0] for r in results) == ["ok", "refused"], results
    assert firmware_count(product.account_id) == 100
    assert db.session.execute(db.select(db.func.count(Firmware.id))).scalar() == 100
    assert len(stored_files(app)) == 1


def test_two_uploads_of_one_version_racing_store_one(app, product):
    results = _race(app, product.account_id, product.id, ["2.0.0", "2.0.0"])
    assert sorted(r[0] for r in results) == ["ok", "refused"], results
    assert firmware_count(product.account_id) == 1
    assert_no_stray_files(app)


def test_failure_after_the_file_is_placed_leaves_no_row_and_no_file(app, auth_client, product, monkeypatch):
    from ota.services import storage

    original = storage._LocalStaged.commit

    def commit_then_fail(self, key):
        original(self, key)
        raise OSError("disk failed after the move")

    monkeypatch.setattr(storage._LocalStaged, "commit", commit_then_fail)
    with pytest.raises(OSError):
        upload_raw(auth_client, product.id, payload("bin"))
    assert db.session.execute(db.select(Firmware)).first() is None
    assert firmware_count(product.account_id) == 0
    assert_no_stray_files(app)


def test_client_gone_mid_upload_leaves_nothing(app, auth_client, product):
    body = Stream(3 * 1024 * 1024)
    r = upload_raw(auth_client, product.id, body, content_length=8 * 1024 * 1024)
    assert r.status_code == 400
    assert db.session.execute(db.select(Firmware)).first() is None
    assert_no_stray_files(app)
