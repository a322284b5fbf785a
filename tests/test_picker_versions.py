"""指定设备: the picker offers only devices on the chosen source versions, and the task adds up."""
import re

from ota.models import UpgradeTask
from ota.services import picker
from tests.task_fixtures import add_devices, records, run_jobs, task, world  # noqa: F401

HX = {"HX-Request": "true"}


def fleet(world):
    """2 devices on 1.0.0, 3 on 1.1.0, 4 that never reported a version."""
    return (add_devices(world.product, 2, "1.0.0", prefix="a"), add_devices(world.product, 3, "1.1.0", prefix="b"),
            add_devices(world.product, 4, None, prefix="c"))


def listed(body: str) -> list[str]:
    return re.findall(r'aria-label="([^"]+)"', body)


def test_picker_lists_only_devices_on_the_chosen_versions(auth_client, world):
    fleet(world)
    base = f"/firmware/{world.fw.id}/upgrade/picker?token=tok"
    assert listed(auth_client.get(f"{base}&source_versions=1.0.0").get_data(as_text=True)) == ["a_00000", "a_00001"]
    body = auth_client.get(f"{base}&source_versions=1.0.0&source_versions=1.1.0&q=b_").get_data(as_text=True)
    assert listed(body) == ["b_00002", "b_00003", "b_00004"] and "全选 3 台匹配设备" in body
    assert "仅列出版本为 1.0.0, 1.1.0 的设备" in body
    body = auth_client.get(base).get_data(as_text=True)
    assert listed(body) == [] and "请先选择待升级版本号" in body
    # The target version (and anything not offered in the form) lists nothing.
    assert listed(auth_client.get(f"{base}&source_versions=2.0.0").get_data(as_text=True)) == []


def test_select_all_matching_takes_only_the_chosen_versions(auth_client, world):
    a, b, _c = fleet(world)
    r = auth_client.post(f"/firmware/{world.fw.id}/upgrade/picker/tok/all?source_versions=1.1.0", headers=HX)
    assert r.status_code == 200 and "已选 3 台设备" in r.get_data(as_text=True)
    assert picker.chosen(world.account_id, "tok") == sorted(b)


def test_picker_urls_keep_the_versions(auth_client, world):
    fleet(world)
    body = auth_client.get(f"/firmware/{world.fw.id}/upgrade/picker?token=tok&source_versions=1.1.0").get_data(as_text=True)
    assert "/picker/tok/all?source_versions=1.1.0" in body.replace("q=&amp;", "")
    assert 'hx-trigger="change from:#source_versions"' in body
    form = auth_client.get(f"/firmware/{world.fw.id}/upgrade?method=version&scope=selected&source_versions=1.1.0&picker=tok")
    assert "/upgrade/picker?token=tok&amp;source_versions=1.1.0" in form.get_data(as_text=True)


def test_chosen_devices_off_the_versions_are_skipped_at_save(auth_client, world):
    a, b, c = fleet(world)
    for device_id in (a[0], b[0], c[0]):  # chosen before the versions changed, say
        picker.toggle(world.account_id, "tok", device_id)
    r = auth_client.post(f"/firmware/{world.fw.id}/upgrade", data={
        "method": "version", "source_versions": ["1.0.0"], "scope": "selected", "picker": "tok"})
    assert r.status_code == 303
    t = UpgradeTask.query.one()
    assert sorted(s["device_id"] for s in t.skipped) == sorted([b[0], c[0]])
    assert {s["reason"] for s in t.skipped} == {"not_on_version"}
    page = auth_client.get(f"/tasks/{t.id}").get_data(as_text=True)  # before the worker ran
    assert "指定设备 (3)" in page and "<dt>跳过的设备</dt><dd>2</dd>" in page
    assert '<span class="mono">b_00002</span>: 不在所选的待升级版本中' in page
    run_jobs()
    t = task(t.id)
    assert t.device_count == 1 and [u.device_id for u in records(t.id)] == [a[0]]
    assert len(t.skipped) == 2  # the job keeps them, once each
    page = auth_client.get(f"/tasks/{t.id}").get_data(as_text=True)
    assert "<dt>跳过的设备</dt><dd>2</dd>" in page and "b_00002" in page and "c_00005" in page


def test_all_chosen_off_version_fails_as_no_devices(auth_client, world):
    _a, b, _c = fleet(world)
    picker.toggle(world.account_id, "tok", b[0])
    auth_client.post(f"/firmware/{world.fw.id}/upgrade", data={
        "method": "version", "source_versions": ["1.0.0"], "scope": "selected", "picker": "tok"})
    run_jobs()
    t = UpgradeTask.query.one()
    assert t.status == "failed" and t.failure_code == "no_devices" and len(t.skipped) == 1
