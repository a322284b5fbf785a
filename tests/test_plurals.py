"""Counts read right in English (1 device, 2 devices) and stay one form in Chinese; the catalog check knows plurals."""
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from flask_babel import force_locale, ngettext

from ota.models import TaskStatus, UpgradeTask
from tests.task_fixtures import add_devices, run_jobs, world  # noqa: F401

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import i18n_sync  # noqa: E402


def english(client):
    client.post("/lang/en", data={"next": "/firmware"})


def test_sync_check_wants_every_plural_form_and_the_plural_shape():
    cat = Catalog(locale="zh")
    key = ("%(num)s device", "%(num)s devices")
    assert not i18n_sync.translated(cat, key)
    cat.add(key[0], "%(num)s 台设备")  # a singular entry: ngettext would not find it
    assert not i18n_sync.translated(cat, key)
    cat.delete(key[0])
    cat.add(key, ("",))
    assert not i18n_sync.translated(cat, key)
    cat[key[0]].string = ("%(num)s 台设备",)
    assert i18n_sync.translated(cat, key) and not i18n_sync.translated(cat, key[0])


def test_the_catalog_translates_plural_entries(app):
    with app.test_request_context():
        assert ngettext("%(num)s device imported.", "%(num)s devices imported.", 1) == "已导入 1 个设备。"
        assert ngettext("%(num)s device imported.", "%(num)s devices imported.", 5) == "已导入 5 个设备。"
        with force_locale("en"):
            assert ngettext("%(num)s device imported.", "%(num)s devices imported.", 1) == "1 device imported."
            assert ngettext("%(num)s device imported.", "%(num)s devices imported.", 2) == "2 devices imported."


def test_preview_and_task_status_in_english(auth_client, world):
    english(auth_client)
    add_devices(world.product, 1, "1.0.0")
    body = auth_client.get(f"/firmware/{world.fw.id}/upgrade/preview?source_versions=1.0.0&scope=all").get_data(as_text=True)
    assert "This task will reach 1 device." in body
    add_devices(world.product, 1, "1.0.0", prefix="more")
    body = auth_client.get(f"/firmware/{world.fw.id}/upgrade/preview?source_versions=1.0.0&scope=all").get_data(as_text=True)
    assert "This task will reach 2 devices." in body
    auth_client.post(f"/firmware/{world.fw.id}/upgrade", data={
        "method": "version", "source_versions": ["1.0.0"], "scope": "all", "push_rate": "1"})
    run_jobs()
    t = UpgradeTask.query.one()
    assert t.status == TaskStatus.CREATED
    page = auth_client.get(f"/tasks/{t.id}").get_data(as_text=True)
    assert "2 devices</span>" in page and "1 device/min" in page and "devices/min" not in page


def test_cancel_all_flash_in_english(auth_client, world):
    english(auth_client)
    add_devices(world.product, 1, "1.0.0")
    auth_client.post(f"/firmware/{world.fw.id}/upgrade", data={
        "method": "version", "source_versions": ["1.0.0"], "scope": "all"})
    run_jobs()
    t = UpgradeTask.query.one()
    r = auth_client.post(f"/tasks/{t.id}/cancel-all", data={"next": f"/tasks/{t.id}"})
    page = auth_client.get(r.headers["Location"]).get_data(as_text=True)
    assert "1 unfinished upgrade cancelled." in page and "Created" in page and "1 device</span>" in page


def test_cli_import_says_one_bad_line(app, user, make_product, tmp_path):
    product = make_product(user.account_id)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"ok1\nbad name\n")
    r = app.test_cli_runner().invoke(args=["ota", "device", "import", product.code, str(bad)])
    assert r.exit_code == 1 and "Error: 1 bad line; nothing imported" in r.output
