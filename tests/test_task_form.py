"""The upgrade form (固件升级) through the real form with CSRF: both methods, switching, refusals."""
from ota.models import UpgradeTask
from tests.conftest import login
from tests.task_fixtures import add_devices, records, run_jobs, task, world  # noqa: F401


def test_form_shows_target_firmware_and_versions(auth_client, world):
    add_devices(world.product, 3, "1.1.0")
    page = auth_client.get(f"/firmware/{world.fw.id}/upgrade").get_data(as_text=True)
    assert world.fw.md5 in page and "2.0.0" in page and "49.81 KB" in page
    assert "按固件版本" in page and "按设备名称" in page
    assert '<option value="1.1.0">' in page and '<option value="1.0.0">' in page
    assert '<option value="2.0.0">' not in page  # the target is never a source


def test_method_switch_returns_the_fields_in_place(auth_client, world):
    r = auth_client.get(f"/firmware/{world.fw.id}/upgrade?method=names",
                        headers={"HX-Request": "true", "HX-Target": "method-fields"})
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and body.lstrip().startswith("{#") is False
    assert 'id="method-fields"' in body and "下载模板" in body and "<html" not in body
    full = auth_client.get(f"/firmware/{world.fw.id}/upgrade?method=names").get_data(as_text=True)
    assert "<html" in full and 'name="csv_file"' in full and 'name="source_versions"' not in full


def test_by_version_all_devices_creates_the_task(auth_client, world):
    add_devices(world.product, 5, "1.0.0")
    add_devices(world.product, 2, "2.0.0", prefix="new")
    r = auth_client.post(f"/firmware/{world.fw.id}/upgrade", data={
        "method": "version", "source_versions": ["1.0.0"], "scope": "all", "timeout": "600"})
    assert r.status_code == 303, r.get_data(as_text=True)
    task_id = int(r.headers["Location"].rsplit("/", 1)[1])
    assert task(task_id).status == "not_started"
    run_jobs()
    t = task(task_id)
    assert t.status == "created" and t.device_count == 5
    assert {u.status for u in records(task_id)} == {"pushed"}


def test_by_version_refusals_are_at_their_fields(auth_client, world):
    add_devices(world.product, 1, "1.0.0")
    r = auth_client.post(f"/firmware/{world.fw.id}/upgrade", data={
        "method": "version", "scope": "all", "timeout": "59", "push_rate": "0"})
    body = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "至少选择一个" in body and "60" in body and "每分钟" in body
    r = auth_client.post(f"/firmware/{world.fw.id}/upgrade", data={
        "method": "version", "source_versions": ["9.9.9"], "scope": "all"})
    assert r.status_code == 422 and "请从列表中选择版本" in r.get_data(as_text=True)
    r = auth_client.post(f"/firmware/{world.fw.id}/upgrade", data={
        "method": "version", "source_versions": ["1.0.0"], "scope": "selected", "picker": "abc"})
    assert r.status_code == 422 and "至少选择一台设备" in r.get_data(as_text=True)
    assert UpgradeTask.query.count() == 0


def test_timeout_bounds(auth_client, world):
    add_devices(world.product, 1, "1.0.0")
    for value, ok in (("60", True), ("86400", True), ("86401", False), ("abc", False)):
        r = auth_client.post(f"/firmware/{world.fw.id}/upgrade", data={
            "method": "version", "source_versions": ["1.0.0"], "scope": "all", "timeout": value})
        assert (r.status_code == 303) is ok, (value, r.status_code)


def test_picker_select_and_save_specified_devices(auth_client, world):
    ids = add_devices(world.product, 30, "1.0.0")
    token = "tok123"
    fid = world.fw.id
    page = auth_client.get(f"/firmware/{fid}/upgrade/picker?token={token}&q=dev_0000&source_versions=1.0.0").get_data(as_text=True)
    assert "dev_00001" in page and "dev_00011" not in page
    r = auth_client.post(f"/firmware/{fid}/upgrade/picker/{token}/toggle/{ids[3]}", headers={"HX-Request": "true"})
    assert "已选 1 台设备" in r.get_data(as_text=True) and r.headers["HX-Trigger"] == "picker-changed"
    r = auth_client.post(f"/firmware/{fid}/upgrade/picker/{token}/all?q=dev_0001&source_versions=1.0.0",
                         headers={"HX-Request": "true"})
    assert "已选 11 台设备" in r.get_data(as_text=True)  # dev_00010..dev_00019 plus dev_00003
    prev = auth_client.get(f"/firmware/{fid}/upgrade/preview?source_versions=1.0.0&scope=selected&picker={token}")
    assert "11" in prev.get_data(as_text=True)
    r = auth_client.post(f"/firmware/{fid}/upgrade", data={
        "method": "version", "source_versions": ["1.0.0"], "scope": "selected", "picker": token})
    assert r.status_code == 303
    run_jobs()
    t = UpgradeTask.query.one()
    assert t.device_count == 11 and sorted(u.device_id for u in records(t.id)) == sorted([ids[3]] + ids[10:20])


def test_preview_counts_devices_and_busy(auth_client, world):
    add_devices(world.product, 4, "1.0.0")
    add_devices(world.product, 3, "1.1.0", prefix="b")
    body = auth_client.get(f"/firmware/{world.fw.id}/upgrade/preview?source_versions=1.0.0&source_versions=1.1.0&scope=all").get_data(as_text=True)
    assert "7" in body


def test_another_accounts_firmware_is_404(client, world, make_user):
    make_user("bob")
    login(client, "bob")
    assert client.get(f"/firmware/{world.fw.id}/upgrade").status_code == 404
    assert client.post(f"/firmware/{world.fw.id}/upgrade", data={"method": "version"}).status_code == 404


def test_template_csv_has_bom_header_and_example(auth_client, world):
    r = auth_client.get(f"/firmware/{world.fw.id}/upgrade/template.csv")
    assert r.data.startswith(b"\xef\xbb\xbfDeviceName\r\n") and r.data.count(b"\r\n") == 2
    assert r.mimetype == "text/csv" and "attachment" in r.headers["Content-Disposition"]
