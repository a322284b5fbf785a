"""Destructive actions ask first and say what goes (删除, 取消, 取消全部未完成设备); edits and bulk actions keep the page true."""
import html
import json
import re

from ota.extensions import db
from ota.models import DeviceUpgrade, UpgradeStatus, UpgradeTask
from tests.task_fixtures import add_devices, records, run_jobs, world  # noqa: F401

HX = {"HX-Request": "true"}


def make_task(client, world, n=2):
    add_devices(world.product, n, "1.0.0", prefix=f"t{UpgradeTask.query.count()}")
    r = client.post(f"/firmware/{world.fw.id}/upgrade", data={
        "method": "version", "source_versions": ["1.0.0"], "scope": "all"})
    assert r.status_code == 303
    run_jobs()
    return UpgradeTask.query.order_by(UpgradeTask.id.desc()).first()


def confirms(body: str) -> list[str]:
    return [html.unescape(c) for c in re.findall(r'hx-confirm="([^"]*)"', body)]


def test_delete_confirmation_counts_the_finished_tasks(auth_client, world):
    listing = auth_client.get("/firmware").get_data(as_text=True)
    assert "确定删除固件 DoorCamFW（版本 2.0.0）及其文件吗？删除后无法恢复。" in confirms(listing)
    make_task(auth_client, world)
    make_task(auth_client, world)
    question = "确定删除固件 DoorCamFW（版本 2.0.0）、其文件及其 2 个已结束的升级任务记录吗？删除后无法恢复。"
    assert question in confirms(auth_client.get("/firmware").get_data(as_text=True))
    assert confirms(auth_client.get(f"/firmware/{world.fw.id}").get_data(as_text=True)) == [question]
    # The other firmware (1.0.0) has no task: its question stays short.
    assert "确定删除固件 DoorCamFW（版本 1.0.0）及其文件吗？删除后无法恢复。" in confirms(
        auth_client.get("/firmware").get_data(as_text=True))


def test_delete_confirmation_in_english_says_task_or_tasks(auth_client, world):
    auth_client.post("/lang/en", data={"next": "/firmware"})
    make_task(auth_client, world)
    assert ("Delete firmware DoorCamFW (version 2.0.0), its file and its 1 finished upgrade task record? "
            "This cannot be undone.") in confirms(auth_client.get(f"/firmware/{world.fw.id}").get_data(as_text=True))


def test_edit_in_place_sends_the_new_heading_and_a_toast(auth_client, world):
    r = auth_client.post(f"/firmware/{world.fw.id}/edit", headers=HX, data={"name": "门铃正式版", "description": ""})
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and f'id="fw-info-{world.fw.id}"' in body
    head = re.search(rf'<div class="page-head" id="fw-head-{world.fw.id}" hx-swap-oob="true">.*?</div>\s*</div>', body, re.S)
    assert head and "<h1>门铃正式版 " in head.group(0) and "门铃正式版（版本 2.0.0）" in head.group(0)
    trigger = json.loads(r.headers["HX-Trigger"])
    assert trigger == {"ota:toast": {"value": "固件已保存。", "kind": "success"}}
    r.headers["HX-Trigger"].encode("ascii")  # a header carries ASCII; JSON escapes the Chinese
    page = auth_client.get(f"/firmware/{world.fw.id}").get_data(as_text=True)
    assert f'id="fw-head-{world.fw.id}"' in page and "hx-swap-oob" not in page.split("fw-head")[1][:40]


def test_single_cancel_asks_first_with_and_without_js(auth_client, world):
    task = make_task(auth_client, world)
    u = records(task.id)[0]
    page = auth_client.get(f"/tasks/{task.id}?status=pushed").get_data(as_text=True)
    assert f"确定取消设备 {u.device.name} 的升级吗？该设备将以“升级失败：已取消”结束。" in confirms(page)
    assert f'href="/upgrades/{u.id}/cancel?next=' in page
    confirm = auth_client.get(f"/upgrades/{u.id}/cancel?next=/tasks/{task.id}?status%3Dpushed")
    body = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and "取消升级" in body and f'action="/upgrades/{u.id}/cancel"' in body
    assert f'name="next" value="/tasks/{task.id}?status=pushed"' in body
    db.session.expire_all()
    assert db.session.get(DeviceUpgrade, u.id).status == UpgradeStatus.PUSHED  # GET changed nothing
    r = auth_client.post(f"/upgrades/{u.id}/cancel", data={"next": f"/tasks/{task.id}?status=pushed"})
    assert r.status_code == 303 and r.headers["Location"] == f"/tasks/{task.id}?status=pushed"
    db.session.expire_all()
    assert db.session.get(DeviceUpgrade, u.id).error_code == "cancelled"


def test_cancel_all_asks_first_and_keeps_the_filter(auth_client, world):
    task = make_task(auth_client, world, n=3)
    page = auth_client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert f"确定取消任务 #{task.id} 中全部未完成设备的升级吗？这些设备将以“升级失败：已取消”结束。" in confirms(page)
    body = auth_client.get(f"/tasks/{task.id}/cancel-all?next=/tasks/{task.id}").get_data(as_text=True)
    assert f"确定取消任务 #{task.id} 中 3 台未完成设备的升级吗？" in body and f'action="/tasks/{task.id}/cancel-all"' in body
    assert {u.status for u in records(task.id)} == {UpgradeStatus.PUSHED}
    r = auth_client.post(f"/tasks/{task.id}/cancel-all", headers=HX, data={"next": f"/tasks/{task.id}?status=failed"})
    assert r.status_code == 204 and r.headers["HX-Redirect"] == f"/tasks/{task.id}?status=failed"
    assert {u.error_code for u in records(task.id)} == {"cancelled"}


def test_bulk_actions_follow_the_table_filter(auth_client, world):
    task = make_task(auth_client, world)
    auth_client.post(f"/tasks/{task.id}/cancel-all", data={"next": f"/tasks/{task.id}"})
    # The filter changes by htmx: the bulk actions come along (oob) with the filtered URL as `next`.
    r = auth_client.get(f"/tasks/{task.id}?status=failed", headers={**HX, "HX-Target": "task-devices"})
    body = r.get_data(as_text=True)
    bulk = re.search(rf'<div class="toolbar" id="task-{task.id}-bulk" hx-swap-oob="true">.*?</div>', body, re.S).group(0)
    assert f'name="next" value="/tasks/{task.id}?status=failed"' in bulk
    r = auth_client.post(f"/tasks/{task.id}/retry-all", data={"next": f"/tasks/{task.id}?status=failed"})
    assert r.status_code == 303 and r.headers["Location"] == f"/tasks/{task.id}?status=failed"
    assert {u.status for u in records(task.id)} == {UpgradeStatus.PENDING}  # retried (the push job is queued)


def test_device_name_column_is_chinese_but_csv_headers_stay(auth_client, world):
    task = make_task(auth_client, world)
    page = auth_client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "<th>设备名称</th>" in page and "<th>DeviceName</th>" not in page
    records_page = auth_client.get(f"/firmware/{world.fw.id}").get_data(as_text=True)
    assert "<th>DeviceName</th>" not in records_page
    assert auth_client.get(f"/firmware/{world.fw.id}/upgrade/template.csv").data.startswith(b"\xef\xbb\xbfDeviceName\r\n")
    assert auth_client.get(f"/products/devices-template.csv").data.startswith(b"\xef\xbb\xbfDeviceName\r\n")
