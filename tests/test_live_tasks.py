"""The task page's live feed: snapshot, rows of its filter and page, counters, refusals."""
import re
import time

import pytest
import websocket
from sqlalchemy import update

from ota.extensions import db
from ota.models import DeviceUpgrade, UpgradeStatus
from ota.services import events
from tests.conftest import login
from tests.live_fixtures import cookie_header, http_login, live_server, seeded, seed_devices, seed_task  # noqa: F401
from tests.test_live import close_code, connect, recv_burst, set_progress, upgrade_ids


def rows_in(msg: str) -> list[str]:
    return re.findall(r'<tr id="du-(\d+)"', msg)


@pytest.fixture
def alice_cookie(live_server, seeded):
    return cookie_header(http_login(live_server))


def test_task_page_connects_the_feed_for_its_filter(auth_client, seeded):
    t1, _ = seeded["tasks"]
    page = auth_client.get(f"/tasks/{t1.id}?status=failed&q=cam").get_data(as_text=True)
    assert f'ws-connect="/ws/tasks/{t1.id}?status=failed&amp;q=cam"' in page and 'hx-ext="ws"' in page
    assert f'<tbody id="task-{t1.id}-rows">' in page
    fragment = auth_client.get(f"/tasks/{t1.id}?page=1", headers={"HX-Request": "true", "HX-Target": "task-devices"})
    assert f'ws-connect="/ws/tasks/{t1.id}"' in fragment.get_data(as_text=True)


def test_snapshot_has_status_counters_and_the_pages_rows(live_server, seeded, alice_cookie):
    t1, _ = seeded["tasks"]
    ws = connect(live_server, f"/ws/tasks/{t1.id}", alice_cookie)
    snap = recv_burst(ws)
    assert 'id="service-banner" hx-swap-oob="true"' in snap
    assert f'id="task-{t1.id}-status" hx-swap-oob="true"' in snap
    assert f'id="task-{t1.id}-counters" class="stats" hx-swap-oob="true"' in snap
    assert f'<tbody id="task-{t1.id}-rows" hx-swap-oob="true">' in snap
    assert len(rows_in(snap)) == 10
    ws.close()


def test_changed_rows_arrive_once_with_counters(live_server, seeded, alice_cookie):
    t1, _ = seeded["tasks"]
    fw = seeded["firmware"]
    ws = connect(live_server, f"/ws/tasks/{t1.id}", alice_cookie)
    recv_burst(ws)
    a, b = upgrade_ids(t1)[:2]
    for p in (5, 25, 60):
        set_progress(a, p)
        events.publish_upgrades([(t1.id, fw.id, a)])
    set_progress(b, 12)
    events.publish_upgrades([(t1.id, fw.id, b)])
    msg = recv_burst(ws)
    assert sorted(rows_in(msg)) == sorted([str(a), str(b)]) and "60%" in msg and "12%" in msg
    assert msg.count(f'id="task-{t1.id}-counters"') == 1
    assert 'style="width: 60%"' in msg
    ws.close()


def test_rows_of_other_pages_are_not_sent(live_server, seeded, alice_cookie):
    t1, _ = seeded["tasks"]
    fw = seeded["firmware"]
    ws = connect(live_server, f"/ws/tasks/{t1.id}?status=pushed", alice_cookie)
    assert len(rows_in(recv_burst(ws))) == 2
    pending = upgrade_ids(t1)[0]  # not on the "pushed" page
    set_progress(pending, 50)
    events.publish_upgrades([(t1.id, fw.id, pending)])
    msg = recv_burst(ws)
    assert rows_in(msg) == [] and f'id="task-{t1.id}-counters"' in msg  # counters only
    ws.close()


def test_a_cancelled_row_enters_the_failed_filter_and_a_leaving_row_stays_as_it_is(live_server, seeded, alice_cookie):
    from ota.services import upgrades

    t1, _ = seeded["tasks"]
    failed_ws = connect(live_server, f"/ws/tasks/{t1.id}?status=failed", alice_cookie)
    pending_ws = connect(live_server, f"/ws/tasks/{t1.id}?status=pending", alice_cookie)
    assert len(rows_in(recv_burst(failed_ws))) == 2
    assert len(rows_in(recv_burst(pending_ws))) == 2
    target = upgrade_ids(t1)[0]
    upgrades.cancel(db.session.get(DeviceUpgrade, target))  # the real action: commits, then publishes
    entered = recv_burst(failed_ws)
    assert f'<tbody id="task-{t1.id}-rows" hx-swap-oob="true">' in entered and len(rows_in(entered)) == 3
    left = recv_burst(pending_ws)
    assert rows_in(left) == [str(target)] and "badge-failed" in left and "<tbody" not in left
    failed_ws.close()
    pending_ws.close()


def test_records_appear_while_the_task_is_being_created(live_server, seeded, alice_cookie):
    fw = seeded["firmware"]
    devices = seed_devices(seeded["product"], 3, "late")
    task = seed_task(fw, [], [UpgradeStatus.PENDING], status="creating")
    ws = connect(live_server, f"/ws/tasks/{task.id}", alice_cookie)
    snap = recv_burst(ws)
    assert rows_in(snap) == [] and 'class="empty"' in snap
    rows = [DeviceUpgrade(task_id=task.id, device_id=d.id, firmware_id=fw.id) for d in devices]
    db.session.add_all(rows)
    db.session.execute(update(type(task)).where(type(task).id == task.id).values(status="created", device_count=3))
    db.session.commit()
    events.publish_task(task.id, fw.id)
    msg = recv_burst(ws)
    assert len(rows_in(msg)) == 3 and "badge-task-created" in msg
    ws.close()


def test_sockets_for_other_accounts_or_anonymous_are_refused(live_server, seeded, make_user):
    t1, _ = seeded["tasks"]
    assert close_code(connect(live_server, f"/ws/tasks/{t1.id}")) == 1008
    make_user("mallory")
    cookie = cookie_header(http_login(live_server, "mallory"))
    assert close_code(connect(live_server, f"/ws/tasks/{t1.id}", cookie)) == 1008


def test_a_busy_task_sends_capped_coalesced_messages(live_server, app, user, make_product, alice_cookie):
    """2,000 devices reporting 5 times each: a handful of messages, each at most one page of rows."""
    product = make_product(user.account_id, "Busy")
    from tests.live_fixtures import seed_firmware

    fw = seed_firmware(user.account_id, product, version="9.9.9")
    task = seed_task(fw, seed_devices(product, 2000, "busy"), [UpgradeStatus.UPGRADING])
    ids = upgrade_ids(task)
    ws = connect(live_server, f"/ws/tasks/{task.id}", alice_cookie)
    assert len(rows_in(recv_burst(ws))) == 100
    for _round in range(5):
        for i in range(0, len(ids), 100):
            events.publish_upgrades([(task.id, fw.id, u) for u in ids[i:i + 100]])
    messages = []
    ws.settimeout(1.5)
    try:
        while True:
            messages.append(ws.recv())
    except websocket.WebSocketTimeoutException:
        pass
    assert messages
    assert all(len(rows_in(m)) <= 100 for m in messages)  # never more than a page of rows
    flushes = [m for m in messages if f'id="task-{task.id}-counters"' in m]
    assert all(m.count(f'id="task-{task.id}-counters"') == 1 for m in flushes)
    assert len(flushes) <= 10  # 100 events in ~0.2 s windows, not one message per event
    print(f"busy task: {len(flushes)} flushes, {len(messages)} frames, "
          f"{sum(map(len, messages)) // 1024} KiB for 10,000 events")
    ws.close()
