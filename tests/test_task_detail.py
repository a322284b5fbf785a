"""任务详情: info, counters, filter, search, pages, per-row and bulk actions, export, partials."""
from sqlalchemy import update

from ota.extensions import db
from ota.jobs.tasks import create_task_job
from ota.models import DeviceUpgrade
from ota.services import tasks
from tests.conftest import login
from tests.task_fixtures import add_devices, records, world  # noqa: F401


def make_task(world, n):
    add_devices(world.product, n)
    t = tasks.save_task(world.fw, world.user.id, method="version", versions=["1.0.0"], scope="all", push_rate=5)
    create_task_job(t.id)
    return t.id


def set_rows(ids, **values):
    db.session.execute(update(DeviceUpgrade).where(DeviceUpgrade.id.in_(ids)).values(**values))
    db.session.commit()


def test_page_shows_info_counters_and_status_details(auth_client, world):
    tid = make_task(world, 8)
    rs = records(tid)
    set_rows([rs[0].id], status="upgrading", stage="downloading", percent=37)
    set_rows([rs[1].id], status="upgrading", stage="burning", percent=None)
    set_rows([rs[2].id], status="failed", error_code="device", error_detail="-4")
    set_rows([rs[3].id], status="failed", error_code="timeout")
    set_rows([rs[4].id], status="failed", error_code="replaced", error_detail="99")
    set_rows([rs[5].id], status="succeeded")
    page = auth_client.get(f"/tasks/{tid}").get_data(as_text=True)
    assert "创建成功" in page and "按固件版本" in page and "1.0.0" in page and "alice" in page
    assert f'id="task-{tid}-counters"' in page and f'id="task-{tid}-status"' in page and f'id="du-{rs[0].id}"' in page
    assert "下载中 37%" in page and "烧录中" in page and "MD5 校验失败" in page and "升级超时" in page
    assert "已被任务 99 替换" in page
    counters = page.split(f'id="task-{tid}-counters"')[1].split("</div>\n</div>")[0]
    nums = [c.split("</div>")[0] for c in counters.split('<div class="num">')[1:]]
    assert nums == ["8", "2", "0", "2", "1", "3"]  # all, pending, pushed, upgrading, succeeded, failed
    assert page.count(">重试<") == 3 and page.count(">取消<") >= 4


def test_filter_search_and_pages(auth_client, world):
    tid = make_task(world, 150)
    rs = records(tid)
    set_rows([u.id for u in rs[:5]], status="failed", error_code="cancelled")
    body = auth_client.get(f"/tasks/{tid}?status=failed").get_data(as_text=True)
    assert body.count('<tr id="du-') == 5
    body = auth_client.get(f"/tasks/{tid}").get_data(as_text=True)
    assert body.count('<tr id="du-') == 100
    body = auth_client.get(f"/tasks/{tid}?page=2").get_data(as_text=True)
    assert body.count('<tr id="du-') == 50
    body = auth_client.get(f"/tasks/{tid}?q=dev_0014").get_data(as_text=True)
    assert body.count('<tr id="du-') == 10
    frag = auth_client.get(f"/tasks/{tid}?status=failed", headers={"HX-Request": "true", "HX-Target": "task-devices"})
    text = frag.get_data(as_text=True)
    assert "<html" not in text and text.count('<tr id="du-') == 5 and 'hx-swap-oob="true"' in text


def test_row_cancel_and_retry_with_htmx_and_without(auth_client, world):
    tid = make_task(world, 2)
    a, b = records(tid)
    r = auth_client.post(f"/upgrades/{a.id}/cancel", headers={"HX-Request": "true"})
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and f'<tr id="du-{a.id}">' in body
    assert "已取消" in body and f'id="task-{tid}-counters" class="stats" hx-swap-oob="true"' in body
    r = auth_client.post(f"/upgrades/{a.id}/cancel", headers={"HX-Request": "true"})
    assert r.status_code == 409 and 'class="error-message"' in r.get_data(as_text=True)
    r = auth_client.post(f"/upgrades/{a.id}/retry", data={"next": f"/tasks/{tid}?status=failed"})
    assert r.status_code == 303 and r.headers["Location"] == f"/tasks/{tid}?status=failed"
    assert records(tid)[0].status in ("pending", "pushed") and records(tid)[0].retry_count == 1
    r = auth_client.post(f"/upgrades/{b.id}/retry")
    assert r.status_code == 409 and "只有升级失败的设备可以重试" in r.get_data(as_text=True)


def test_bulk_actions(auth_client, world):
    tid = make_task(world, 3)
    r = auth_client.post(f"/tasks/{tid}/cancel-all")
    assert r.status_code == 303
    assert "已取消 3 个未完成的升级" in auth_client.get(f"/tasks/{tid}").get_data(as_text=True)
    auth_client.post(f"/tasks/{tid}/retry-all")
    assert {u.retry_count for u in records(tid)} == {1}


def test_export_follows_the_filter(auth_client, world):
    tid = make_task(world, 3)
    rs = records(tid)
    set_rows([rs[0].id], status="failed", error_code="device", error_detail="-2")
    r = auth_client.get(f"/tasks/{tid}/devices.csv?status=failed")
    assert r.data.startswith(b"\xef\xbb\xbfDeviceName,")
    lines = r.data.decode("utf-8-sig").strip().split("\r\n")
    assert len(lines) == 2 and lines[1].startswith("dev_00000,1.0.0,升级失败,文件不存在,0,")
    assert len(auth_client.get(f"/tasks/{tid}/devices.csv").data.decode("utf-8-sig").strip().split("\r\n")) == 4


def test_another_account_gets_404(client, world, make_user):
    tid = make_task(world, 1)
    uid = records(tid)[0].id
    make_user("bob")
    login(client, "bob")
    assert client.get(f"/tasks/{tid}").status_code == 404
    assert client.post(f"/upgrades/{uid}/cancel").status_code == 404
    assert client.post(f"/tasks/{tid}/cancel-all").status_code == 404
    assert client.get(f"/tasks/{tid}/devices.csv").status_code == 404


def test_10000_device_page_uses_a_fixed_number_of_queries(auth_client, world, app):
    from sqlalchemy import event

    tid = make_task(world, 10_000)
    seen = []
    listener = lambda *a, **k: seen.append(1)  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        r = auth_client.get(f"/tasks/{tid}")
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert r.status_code == 200 and r.get_data(as_text=True).count('<tr id="du-') == 100
    assert len(seen) < 20, len(seen)
