"""Device-record transitions: every allowed one, every forbidden one, and races against the real database."""
import threading

import pytest
from flask_babel import force_locale
from sqlalchemy import update

from ota.extensions import db
from ota.jobs.tasks import create_task_job
from ota.models import DeviceUpgrade, UpgradeTask
from ota.services import tasks, upgrades
from tests.task_fixtures import add_devices, records, task, world  # noqa: F401


def make_task(world, n=3, override=False, version="1.0.0"):
    t = tasks.save_task(world.fw, world.user.id, method="version", versions=[version], scope="all", override=override)
    create_task_job(t.id)
    return t.id


def set_status(uid, status, **extra):
    db.session.execute(update(DeviceUpgrade).where(DeviceUpgrade.id == uid).values(status=status, **extra))
    db.session.commit()


def get(uid):
    db.session.expire_all()
    return db.session.get(DeviceUpgrade, uid)


@pytest.mark.parametrize("start", ["pending", "pushed", "upgrading"])
def test_cancel_active_record(world, start):
    add_devices(world.product, 1)
    u = records(make_task(world))[0]
    set_status(u.id, start)
    upgrades.cancel(get(u.id))
    u = get(u.id)
    assert (u.status, u.error_code) == ("failed", "cancelled") and u.finished_at is not None


@pytest.mark.parametrize("start", ["succeeded", "failed"])
def test_cancel_finished_record_is_refused(world, start):
    add_devices(world.product, 1)
    u = records(make_task(world))[0]
    set_status(u.id, start, error_code="timeout" if start == "failed" else None)
    with pytest.raises(upgrades.Refused):
        upgrades.cancel(get(u.id))
    assert get(u.id).status == start


def test_retry_failed_record_clears_it_and_counts(world):
    add_devices(world.product, 1)
    u = records(make_task(world))[0]
    set_status(u.id, "failed", stage="downloading", percent=40, error_code="device", error_detail="-4")
    upgrades.retry(get(u.id))
    u = get(u.id)
    assert (u.status, u.retry_count, u.stage, u.percent, u.error_code, u.error_detail) == ("pending", 1, None, None, None, None)


@pytest.mark.parametrize("start", ["pending", "pushed", "upgrading", "succeeded"])
def test_retry_of_a_record_that_is_not_failed_is_refused(world, start):
    add_devices(world.product, 1)
    u = records(make_task(world))[0]
    set_status(u.id, start)
    with pytest.raises(upgrades.Refused):
        upgrades.retry(get(u.id))
    assert get(u.id).status == start and get(u.id).retry_count == 0


def test_retry_refused_while_the_device_is_in_another_active_upgrade(world):
    add_devices(world.product, 1)
    first = records(make_task(world))[0]
    upgrades.cancel(get(first.id))
    second_task = make_task(world)
    assert len(records(second_task)) == 1
    with pytest.raises(upgrades.Refused) as e:
        upgrades.retry(get(first.id))
    with force_locale("en"):
        assert f"task {second_task}" in str(e.value)
    assert get(first.id).status == "failed"


def test_busy_device_is_skipped_unless_override_then_replaced(world):
    add_devices(world.product, 2)
    first = make_task(world)
    second = make_task(world)
    t2 = task(second)
    assert t2.status == "failed" and t2.failure_code == "all_busy"
    assert {s["reason"] for s in t2.skipped} == {"busy"} and {s["task_id"] for s in t2.skipped} == {first}
    third = make_task(world, override=True)
    assert task(third).device_count == 2
    old = records(first)
    assert {(u.status, u.error_code, u.error_detail) for u in old} == {("failed", "replaced", str(third))}
    with force_locale("en"):
        assert upgrades.error_message("replaced", str(third)) == f"Replaced by task {third}"


def test_bulk_cancel_and_retry(world):
    add_devices(world.product, 4)
    tid = make_task(world)
    rs = records(tid)
    set_status(rs[0].id, "succeeded")
    set_status(rs[1].id, "upgrading")
    assert upgrades.cancel_all(tid) == 3
    assert upgrades.status_counts(tid) == {"pending": 0, "pushed": 0, "upgrading": 0, "succeeded": 1, "failed": 3}
    # One failed device is meanwhile in another task: bulk retry leaves it failed.
    busy_dev = rs[3].device_id
    other = UpgradeTask(account_id=world.account_id, firmware_id=world.old.id, method="names", status="created")
    db.session.add(other)
    db.session.commit()
    db.session.add(DeviceUpgrade(task_id=other.id, device_id=busy_dev, firmware_id=world.old.id))
    db.session.commit()
    assert upgrades.retry_all(tid) == (2, 1)
    assert get(rs[3].id).status == "failed"


def _race(app, fns):
    barrier = threading.Barrier(len(fns))
    results = [None] * len(fns)

    def run(i, fn):
        with app.app_context():
            barrier.wait()
            try:
                results[i] = fn()
            except upgrades.Refused as e:
                results[i] = e
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(fns)]
    [t.start() for t in threads]
    [t.join(30) for t in threads]
    return results


def test_cancel_racing_done_leaves_one_outcome(app, world):
    add_devices(world.product, 20)
    tid = make_task(world)
    for u in records(tid):
        set_status(u.id, "upgrading", stage="burning")
        uid = u.id

        def cancel(uid=uid):
            upgrades.cancel(db.session.get(DeviceUpgrade, uid))
            return "cancelled"

        def done(uid=uid):
            # What the gateway does for state "done": a conditional update too.
            r = db.session.execute(update(DeviceUpgrade).where(
                DeviceUpgrade.id == uid, DeviceUpgrade.status.in_(("pushed", "upgrading")))
                .values(status="succeeded", stage=None, percent=None))
            db.session.commit()
            return "succeeded" if r.rowcount == 1 else "lost"

        results = _race(app, [cancel, done])
        final = get(uid)
        winners = [r for r in results if r in ("cancelled", "succeeded")]
        assert len(winners) == 1, results
        assert final.status == ("failed" if winners[0] == "cancelled" else "succeeded")
        assert (final.error_code == "cancelled") == (final.status == "failed")


def test_two_retries_at_once_retry_once(app, world):
    add_devices(world.product, 10)
    tid = make_task(world)
    for u in records(tid):
        set_status(u.id, "failed", error_code="timeout")
        uid = u.id
        results = _race(app, [lambda uid=uid: upgrades.retry(db.session.get(DeviceUpgrade, uid))] * 2)
        assert sum(r is None for r in results) == 1 and sum(isinstance(r, upgrades.Refused) for r in results) == 1
        final = get(uid)
        assert (final.status, final.retry_count) == ("pending", 1)
