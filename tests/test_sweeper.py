"""The sweeper: timeouts, stale creating tasks (resume or give up), lost jobs, and its own schedule."""
from datetime import timedelta

from rq.registry import ScheduledJobRegistry
from sqlalchemy import update

from ota.extensions import db
from ota.jobs import get_queue, schedule
from ota.jobs.sweeper import run_sweeps
from ota.jobs.tasks import create_task_job
from ota.models import DeviceUpgrade, UpgradeTask, utcnow
from ota.services import tasks
from tests.task_fixtures import add_devices, records, run_jobs, task, world  # noqa: F401


def make_task(world, timeout=600):
    t = tasks.save_task(world.fw, world.user.id, method="version", versions=["1.0.0"], scope="all", timeout=timeout)
    create_task_job(t.id)
    return t.id


def test_silent_devices_time_out_and_progressing_ones_do_not(world):
    add_devices(world.product, 4)
    tid = make_task(world, timeout=60)
    a, b, c, d = (u.id for u in records(tid))
    now = utcnow()
    old, fresh = now - timedelta(seconds=61), now - timedelta(seconds=30)
    for uid, status, pushed, progress in ((a, "pushed", old, None), (b, "upgrading", old, fresh),
                                          (c, "upgrading", old, old), (d, "pending", None, None)):
        db.session.execute(update(DeviceUpgrade).where(DeviceUpgrade.id == uid).values(
            status=status, pushed_at=pushed, last_progress_at=progress))
    db.session.commit()
    assert run_sweeps(now)["timeouts"] == 2
    got = {u.id: (u.status, u.error_code) for u in records(tid)}
    assert got == {a: ("failed", "timeout"), b: ("upgrading", None), c: ("failed", "timeout"), d: ("pending", None)}
    assert run_sweeps(now)["timeouts"] == 0  # a second sweep changes nothing


def test_stale_creating_task_is_resumed_and_finished(world):
    add_devices(world.product, 5)
    t = tasks.save_task(world.fw, world.user.id, method="version", versions=["1.0.0"], scope="all")
    get_queue().empty()
    # A worker took it and died: creating, two of five records written.
    db.session.execute(update(UpgradeTask).where(UpgradeTask.id == t.id).values(
        status="creating", started_at=utcnow() - timedelta(seconds=300)))
    ids = [d for d, _n, _v in tasks.target_rows(task(t.id))][:2]
    for dev in ids:
        db.session.add(DeviceUpgrade(task_id=t.id, device_id=dev, firmware_id=world.fw.id))
    db.session.commit()
    assert run_sweeps()["resumed"] == 1
    assert run_sweeps()["resumed"] == 0  # claimed: a second sweeper does not resume it again
    run_jobs()
    assert task(t.id).status == "created" and len(records(t.id)) == 5


def test_task_unfinished_too_long_is_given_up(world):
    add_devices(world.product, 2)
    t = tasks.save_task(world.fw, world.user.id, method="version", versions=["1.0.0"], scope="all")
    get_queue().empty()
    db.session.execute(update(UpgradeTask).where(UpgradeTask.id == t.id).values(
        status="creating", started_at=utcnow(), created_at=utcnow() - timedelta(hours=1)))
    db.session.add(DeviceUpgrade(task_id=t.id, device_id=tasks.target_rows(task(t.id))[0][0], firmware_id=world.fw.id))
    db.session.commit()
    assert run_sweeps()["given_up"] == 1
    assert (task(t.id).status, task(t.id).failure_code) == ("failed", "stale")
    assert records(t.id) == []  # its half-written records no longer block the devices


def test_lost_job_of_a_not_started_task_is_queued_again(world):
    add_devices(world.product, 2)
    t = tasks.save_task(world.fw, world.user.id, method="version", versions=["1.0.0"], scope="all")
    get_queue().empty()
    from ota.extensions import get_redis
    get_redis().delete(f"rq:job:task-create-{t.id}")
    db.session.execute(update(UpgradeTask).where(UpgradeTask.id == t.id).values(created_at=utcnow() - timedelta(seconds=300)))
    db.session.commit()
    assert run_sweeps()["requeued"] == 1
    assert run_sweeps()["requeued"] == 0  # still queued: not doubled
    run_jobs()
    assert task(t.id).status == "created"


def test_schedule_install_is_idempotent(app):
    queue = get_queue()
    schedule.install(queue)
    schedule.install(queue)
    ids = [j for j in ScheduledJobRegistry(queue=queue).get_job_ids() if j.startswith("ota-sweep-")]
    assert len(ids) == 1
