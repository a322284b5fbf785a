"""固件列表, 固件详情, 编辑 (htmx in place and as a page), 删除, download; tenant isolation."""
import hashlib
from urllib.parse import quote

import pytest

from ota.extensions import db
from ota.models import Device, DeviceUpgrade, Firmware, TaskStatus, UpgradeStatus, UpgradeTask
from ota.services.storage import get_storage
from tests.conftest import login
from tests.firmware_fixtures import (  # noqa: F401  (fixtures)
    assert_no_stray_files, firmware_count, payload, product, stored_files, upload_form,
)
from tests.test_firmware import field_errors

HX = {"HX-Request": "true"}


def add(client, product, version="1.0.0", **kw):
    data = kw.pop("data", None) or payload("bin", 4096)
    r = upload_form(client, product.id, data, version=version, **kw)
    assert r.status_code == 303, r.get_data(as_text=True)
    fw = db.session.get(Firmware, int(r.headers["Location"].rsplit("/", 1)[1]))
    fw.data = data
    return fw


def test_list_shows_every_column_and_the_actions(auth_client, product):
    fw = add(auth_client, product, description="修复<b>夜视</b>")
    page = auth_client.get("/firmware").get_data(as_text=True)
    for text in ("门铃固件", product.name, product.code, "1.0.0", "4.00 KB", fw.md5, "查看详情", "编辑", "删除",
                 "固件升级", "添加固件"):
        assert text in page, text
    assert "修复&lt;b&gt;夜视&lt;/b&gt;" in page  # descriptions are user input: escaped
    assert f'hx-post="/firmware/{fw.id}/delete"' in page and "hx-confirm=" in page


def test_list_links_to_the_upgrade_form_once_it_exists(app, auth_client, product):
    fw = add(auth_client, product)
    page = auth_client.get("/firmware").get_data(as_text=True)
    if "tasks.new" in app.view_functions:
        with app.test_request_context():
            from flask import url_for
            assert f'href="{url_for("tasks.new", firmware_id=fw.id)}"' in page
    else:
        assert "升级任务功能暂不可用" in page


def test_list_filters_by_product_and_searches_name_or_version(auth_client, product, make_product, user):
    other = make_product(user.account_id, "BabyCam")
    add(auth_client, product, "1.0.0", name="门铃A")
    add(auth_client, other, "2.5.0", name="婴儿B")
    add(auth_client, other, "2.6.0", name="婴儿C")
    page = auth_client.get(f"/firmware?product={other.code}").get_data(as_text=True)
    assert "婴儿B" in page and "门铃A" not in page
    page = auth_client.get("/firmware?q=2.5").get_data(as_text=True)
    assert "婴儿B" in page and "门铃A" not in page and "婴儿100%" not in page
    page = auth_client.get("/firmware?q=门铃").get_data(as_text=True)
    assert "门铃A" in page and "婴儿B" not in page
    page = auth_client.get("/firmware?q=" + quote("2_")).get_data(as_text=True)
    assert "没有符合条件的固件" in page  # _ and % are characters, not wildcards
    assert "没有符合条件的固件" in auth_client.get("/firmware?q=%25").get_data(as_text=True)
    assert "没有符合条件的固件" in auth_client.get("/firmware?q=nothing").get_data(as_text=True)


def test_list_fragment_for_htmx_and_pagination(app, auth_client, product):
    db.session.add_all(Firmware(account_id=product.account_id, product_id=product.id, name=f"fw{i:02d}",
                                version=f"0.{i}", filename="x.bin", storage_key=f"{i:032x}", size=1,
                                md5="0" * 32, sha256="0" * 64) for i in range(25))
    db.session.commit()
    fragment = auth_client.get("/firmware", headers=HX).get_data(as_text=True)
    assert "<html" not in fragment and "<table" in fragment and "25" in fragment
    page1 = auth_client.get("/firmware").get_data(as_text=True)
    page2 = auth_client.get("/firmware?page=2").get_data(as_text=True)
    assert page1.count('<tr id="fw-') == 20 and page2.count('<tr id="fw-') == 5


def test_detail_shows_the_firmware_information(auth_client, product):
    fw = add(auth_client, product, description="首发")
    page = auth_client.get(f"/firmware/{fw.id}").get_data(as_text=True)
    for text in ("固件信息", "固件名称", "所属产品", product.code, "固件版本号", "固件签名", fw.md5, "签名算法", "MD5",
                 "添加时间", "固件描述", "首发", "4,096", "fw.bin", f"/firmware/{fw.id}/download"):
        assert text in page, text


def test_detail_in_english(auth_client, product):
    fw = add(auth_client, product)
    auth_client.post("/lang/en", data={"next": "/firmware"})
    page = auth_client.get(f"/firmware/{fw.id}").get_data(as_text=True)
    for text in ("Firmware information", "Firmware signature", "Signature algorithm", "Firmware version"):
        assert text in page


def test_download_streams_the_file_with_its_original_name(auth_client, product):
    fw = add(auth_client, product, filename="门铃 v1;beta.bin")
    r = auth_client.get(f"/firmware/{fw.id}/download")
    assert r.status_code == 200 and r.data == fw.data
    cd = r.headers["Content-Disposition"]
    assert cd.startswith("attachment;") and "filename*=UTF-8''" in cd and "\n" not in cd
    r = auth_client.get(f"/firmware/{fw.id}/download", headers={"Range": "bytes=10-19"})
    assert r.status_code == 206 and r.data == fw.data[10:20]


def test_download_needs_login(client, auth_client, product):
    fw = add(auth_client, product)
    auth_client.post("/logout")
    r = auth_client.get(f"/firmware/{fw.id}/download")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_edit_in_place_with_htmx(auth_client, product):
    fw = add(auth_client, product)
    form = auth_client.get(f"/firmware/{fw.id}/edit", headers=HX).get_data(as_text=True)
    assert "<html" not in form and f'id="fw-info-{fw.id}"' in form and "<form" in form
    r = auth_client.post(f"/firmware/{fw.id}/edit", headers=HX, data={"name": "门铃（正式版）", "description": "改"})
    assert r.status_code == 200
    card = r.get_data(as_text=True)
    assert "<html" not in card and "<form" not in card and "门铃（正式版）" in card
    db.session.expire_all()
    assert (fw.name, fw.description) == ("门铃（正式版）", "改")
    # 取消: the card again, as a fragment
    card = auth_client.get(f"/firmware/{fw.id}", headers=HX).get_data(as_text=True)
    assert "<html" not in card and f'id="fw-info-{fw.id}"' in card


@pytest.mark.parametrize("name,description,field", [
    ("a" * 33, "", "name"), ("_a", "", "name"), ("", "", "name"), ("ok", "描" * 101, "description"),
])
def test_edit_with_bad_input_returns_the_form_with_422(auth_client, product, name, description, field):
    fw = add(auth_client, product)
    r = auth_client.post(f"/firmware/{fw.id}/edit", headers=HX, data={"name": name, "description": description})
    assert r.status_code == 422
    assert "<html" not in r.get_data(as_text=True)
    assert field_errors(r.get_data(as_text=True), field)
    db.session.expire_all()
    assert fw.name == "门铃固件"


def test_edit_accepts_the_nearest_good_values(auth_client, product):
    fw = add(auth_client, product)
    r = auth_client.post(f"/firmware/{fw.id}/edit", headers=HX, data={"name": "固" * 32, "description": "描" * 100})
    assert r.status_code == 200


def test_edit_without_js_is_a_page_and_redirects(auth_client, product):
    fw = add(auth_client, product)
    page = auth_client.get(f"/firmware/{fw.id}/edit").get_data(as_text=True)
    assert "<html" in page and "编辑固件" in page
    r = auth_client.post(f"/firmware/{fw.id}/edit", data={"name": "新名字", "description": ""})
    assert r.status_code == 303 and r.headers["Location"] == f"/firmware/{fw.id}"
    r = auth_client.post(f"/firmware/{fw.id}/edit", data={"name": "_bad", "description": ""})
    assert r.status_code == 422 and "<html" in r.get_data(as_text=True)


def test_delete_with_htmx_removes_row_file_and_count(app, auth_client, product):
    fw = add(auth_client, product)
    key = fw.storage_key
    r = auth_client.post(f"/firmware/{fw.id}/delete", headers=HX)
    assert r.status_code == 204 and r.headers["HX-Redirect"] == "/firmware"
    assert db.session.get(Firmware, fw.id) is None
    assert not get_storage().exists(key)
    assert firmware_count(product.account_id) == 0
    assert stored_files(app) == []
    assert "已删除" in auth_client.get("/firmware").get_data(as_text=True)


def test_delete_without_js_asks_first(auth_client, product):
    fw = add(auth_client, product)
    page = auth_client.get(f"/firmware/{fw.id}/delete").get_data(as_text=True)
    assert "删除后无法恢复" in page and f'action="/firmware/{fw.id}/delete"' in page
    assert db.session.get(Firmware, fw.id) is not None  # GET never changes state
    r = auth_client.post(f"/firmware/{fw.id}/delete")
    assert r.status_code == 303 and r.headers["Location"] == "/firmware"
    assert db.session.get(Firmware, fw.id) is None


def _task(fw, status, device_status=None):
    task = UpgradeTask(account_id=fw.account_id, firmware_id=fw.id, method=UpgradeTask.METHOD_VERSION,
                       scope=UpgradeTask.SCOPE_ALL, status=status)
    db.session.add(task)
    db.session.flush()
    if device_status:
        dev = Device(product_id=fw.product_id, name=f"d{task.id}", secret="x")
        db.session.add(dev)
        db.session.flush()
        db.session.add(DeviceUpgrade(task_id=task.id, device_id=dev.id, firmware_id=fw.id, status=device_status))
    db.session.commit()
    return task


@pytest.mark.parametrize("task_status,device_status", [
    (TaskStatus.NOT_STARTED, None), (TaskStatus.CREATING, None),
    (TaskStatus.CREATED, UpgradeStatus.PENDING), (TaskStatus.CREATED, UpgradeStatus.PUSHED),
    (TaskStatus.CREATED, UpgradeStatus.UPGRADING),
])
def test_delete_is_refused_while_a_task_is_unfinished(app, auth_client, product, task_status, device_status):
    fw = add(auth_client, product)
    task = _task(fw, task_status, device_status)
    r = auth_client.post(f"/firmware/{fw.id}/delete", headers=HX)
    assert r.status_code == 409
    assert f"#{task.id}" in r.get_data(as_text=True) and "尚未结束" in r.get_data(as_text=True)
    assert db.session.get(Firmware, fw.id) is not None and get_storage().exists(fw.storage_key)
    assert firmware_count(product.account_id) == 1
    page = auth_client.get(f"/firmware/{fw.id}/delete").get_data(as_text=True)
    assert f"#{task.id}" in page and "<button" not in page.split("</nav>")[-1].split("lang-switch")[0]


def test_delete_with_only_finished_tasks_removes_their_history_too(app, auth_client, product):
    fw = add(auth_client, product)
    done = _task(fw, TaskStatus.CREATED, UpgradeStatus.SUCCEEDED).id
    failed = _task(fw, TaskStatus.FAILED).id
    page = auth_client.get(f"/firmware/{fw.id}/delete").get_data(as_text=True)
    assert "2 个升级任务" in page
    assert auth_client.post(f"/firmware/{fw.id}/delete").status_code == 303
    db.session.expunge_all()
    assert db.session.get(UpgradeTask, done) is None and db.session.get(UpgradeTask, failed) is None
    assert db.session.execute(db.select(DeviceUpgrade)).first() is None
    assert stored_files(app) == []


def test_another_accounts_firmware_is_a_404_everywhere(app, client, product, make_user):
    login(client)
    fw = add(client, product)
    client.post("/logout")
    make_user("bob")
    login(client, "bob")
    assert fw.name not in client.get("/firmware").get_data(as_text=True)
    assert product.code not in client.get("/firmware").get_data(as_text=True)
    for method, url in [("get", f"/firmware/{fw.id}"), ("get", f"/firmware/{fw.id}/edit"),
                        ("post", f"/firmware/{fw.id}/edit"), ("get", f"/firmware/{fw.id}/delete"),
                        ("post", f"/firmware/{fw.id}/delete"), ("get", f"/firmware/{fw.id}/download")]:
        assert getattr(client, method)(url, data={"name": "x"}).status_code == 404, url
    db.session.expire_all()
    assert db.session.get(Firmware, fw.id).name == "门铃固件"
    assert hashlib.md5(get_storage().open(fw.storage_key).read()).hexdigest() == fw.md5


def test_add_page_offers_only_the_accounts_products(auth_client, product, make_user, make_product):
    bob = make_user("bob")
    theirs = make_product(bob.account_id, "Secret")
    page = auth_client.get("/firmware/new").get_data(as_text=True)
    assert product.code in page and theirs.code not in page
    assert 'enctype="multipart/form-data"' in page and "upload.js" in page
