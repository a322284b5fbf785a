"""The firmware detail page's monitoring sections: statistics, 任务明细, 设备明细, fragments."""
import re

import pytest

from ota.models import TaskStatus, UpgradeStatus
from tests.conftest import login
from tests.live_fixtures import seed_devices, seed_task, seeded  # noqa: F401  (fixture)


def section(client, fw, headers=None, **args):
    r = client.get(f"/firmware/{fw.id}/monitoring", query_string=args,
                   headers={"HX-Request": "true", **(headers or {})})
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_data(as_text=True)


def record_ids(html):
    return re.findall(r'<tr id="fwdu-(\d+)"', html)


def stat(html, status):
    m = re.search(rf'class="stat stat-{status}[^"]*".*?<div class="num">(\d+)</div>', html, re.S)
    return int(m.group(1))


def test_statistics_count_every_record_of_the_firmware_by_status(auth_client, seeded):
    html = section(auth_client, seeded["firmware"])
    assert stat(html, "total") == 13
    # Task 1 cycles the five statuses over 10 devices; task 2 has 3 pushed.
    expected = {"pending": 2, "pushed": 5, "upgrading": 2, "succeeded": 2, "failed": 2}
    assert {s: stat(html, s) for s in UpgradeStatus.ALL} == expected
    assert "固件升级设备统计" in html and "待推送" in html and "升级失败" in html


def test_task_tab_lists_every_task_with_method_creator_status_and_count(auth_client, seeded):
    t1, t2 = seeded["tasks"]
    html = section(auth_client, seeded["firmware"])
    assert html.index(f'id="fwtask-{t2.id}"') < html.index(f'id="fwtask-{t1.id}"')  # newest first
    row1 = html[html.index(f'id="fwtask-{t1.id}"'):].split("</tr>")[0]
    assert "按固件版本" in row1 and "1.0.0, 1.0.1" in row1 and "全部设备" in row1
    assert "alice" in row1 and '<td class="mono">10</td>' in row1
    assert "badge-task-created" in row1 and "创建成功" in row1
    assert f'href="/tasks/{t1.id}">查看详情</a>' in row1
    row2 = html[html.index(f'id="fwtask-{t2.id}"'):].split("</tr>")[0]
    assert "按设备名称" in row2 and "gray.csv" in row2 and "3" in row2


def test_a_failed_task_shows_its_reason(app, auth_client, seeded):
    fw = seeded["firmware"]
    task = seed_task(fw, [], [UpgradeStatus.PENDING], status=TaskStatus.FAILED, scope="selected")
    task.failure_detail = "No device runs the chosen versions."
    app.extensions["sqlalchemy"].session.commit()
    html = section(auth_client, fw)
    row = html[html.index(f'id="fwtask-{task.id}"'):].split("</tr>")[0]
    assert "badge-task-failed" in row and "创建失败" in row and "No device runs the chosen versions." in row
    assert "指定设备" in row


def test_device_tab_lists_every_record_with_its_detail(app, auth_client, seeded):
    html = section(auth_client, seeded["firmware"], tab="devices")
    assert len(record_ids(html)) == 13
    assert "下载中" in html and "40%" in html and 'style="width: 40%"' in html
    from ota.services.upgrades import error_message

    with app.test_request_context(headers={"Accept-Language": "zh"}):
        md5 = error_message("device", "-4")  # the task page's wording for a device's -4
    assert f'<span class="error-text">{md5}</span>' in html
    for header in ("设备名称", "升级前版本", "升级状态", "状态详情", "最后更新"):
        assert header in html


@pytest.mark.parametrize("status,count", [("pending", 2), ("pushed", 5), ("upgrading", 2),
                                          ("succeeded", 2), ("failed", 2), ("", 13), ("bogus", 13)])
def test_device_tab_filters_by_status(auth_client, seeded, status, count):
    html = section(auth_client, seeded["firmware"], tab="devices", status=status)
    assert len(record_ids(html)) == count
    if status in UpgradeStatus.ALL:
        assert html.count(f"badge badge-{status}") == count


def test_device_tab_searches_device_names_literally(auth_client, seeded):
    fw = seeded["firmware"]
    assert len(record_ids(section(auth_client, fw, tab="devices", q="cam-01"))) == 3
    assert len(record_ids(section(auth_client, fw, tab="devices", q="cam-01", status="pushed"))) == 3
    assert len(record_ids(section(auth_client, fw, tab="devices", q="%"))) == 0  # not a wildcard
    assert "没有匹配的设备记录" in section(auth_client, fw, tab="devices", q="nope")


def test_device_tab_pages(app, auth_client, seeded):
    fw = seeded["firmware"]
    more = seed_devices(seeded["product"], 30, prefix="bulk")
    seed_task(fw, more, [UpgradeStatus.SUCCEEDED])
    first = section(auth_client, fw, tab="devices")
    second = section(auth_client, fw, tab="devices", page=2)
    third = section(auth_client, fw, tab="devices", page=3)
    assert len(record_ids(first)) == 20 and len(record_ids(second)) == 20 and len(record_ids(third)) == 3
    assert not set(record_ids(first)) & set(record_ids(second))
    assert "共 43 条" in first and "下一页" in first
    assert len(record_ids(section(auth_client, fw, tab="devices", page=99))) == 3  # clamped to the last


def test_fragment_versus_page_by_hx_request(auth_client, seeded):
    fw = seeded["firmware"]
    fragment = section(auth_client, fw, tab="devices")
    assert "<html" not in fragment and fragment.lstrip().startswith("<section")
    assert f'ws-connect="/ws/firmware/{fw.id}?tab=devices"' in fragment
    r = auth_client.get(f"/firmware/{fw.id}/monitoring?tab=devices")  # a reload of the pushed URL
    assert r.status_code == 302 and r.headers["Location"] == f"/firmware/{fw.id}?tab=devices"
    r = auth_client.get(r.headers["Location"])
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "<html" in page and f'id="fw-{fw.id}-monitoring"' in page
    assert len(record_ids(page)) == 13
    assert "HX-Request" in r.headers["Vary"]


def test_tabs_are_plain_links_and_htmx(auth_client, seeded):
    fw = seeded["firmware"]
    html = section(auth_client, fw)
    assert f'hx-get="/firmware/{fw.id}/monitoring?tab=devices"' in html
    assert re.search(rf'href="/firmware/{fw.id}(/monitoring)?\?tab=devices"', html)


def test_another_accounts_firmware_is_not_found(client, seeded, make_user):
    make_user("mallory")
    login(client, "mallory")
    r = client.get(f"/firmware/{seeded['firmware'].id}/monitoring", headers={"HX-Request": "true"})
    assert r.status_code == 404
