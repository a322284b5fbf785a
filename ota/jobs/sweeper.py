"""The sweeper: a recurring job (in the workers, never the web) that ends what nobody else will.

It fails records whose device went silent past the task's timeout, resumes or gives up tasks
whose creating worker died, re-queues tasks whose job was lost, and re-kicks dispatch for
pending records nobody is pushing. Each step is a conditional update, so two sweepers at once
(or a sweeper racing a device) leave one consistent outcome.
"""
import logging
import time
from datetime import datetime, timedelta, timezone

from flask import current_app
from rq import Queue
from sqlalchemy import delete, exists, update

from ota.extensions import db
from ota.jobs import get_queue, job
from ota.jobs.tasks import create_job_id, enqueue_create, enqueue_unique, kick_dispatch
from ota.models import DeviceUpgrade, TaskStatus, UpgradeStatus, UpgradeTask, utcnow
from ota.services import events, upgrades

log = logging.getLogger(__name__)
SWEEP_SECONDS = 30
STALE_SECONDS = 120  # creating (or queued) this long without finishing: the worker is gone
GIVE_UP_SECONDS = 1800  # unfinished this long after saving: fail it rather than retry forever
PENDING_SECONDS = 60  # pending this long in a created task: make sure a dispatch is queued
_NO_SYNC = {"synchronize_session": False}


def schedule_next(queue: Queue) -> bool:
    """Schedule the sweep of the next time slot (job id from the slot, so workers never double it)."""
    every = current_app.config.get("SWEEP_SECONDS", SWEEP_SECONDS)
    slot = int(time.time() // every) + 1
    at = datetime.fromtimestamp(slot * every, tz=timezone.utc)
    return enqueue_unique(queue, sweep, f"ota-sweep-{slot}", at=at, result_ttl=600, failure_ttl=3600)


@job
def sweep() -> dict:
    """Run every sweep once, having first scheduled the next run (so a crash here keeps the chain)."""
    schedule_next(get_queue())
    return run_sweeps()


def run_sweeps(now=None, stale_after: int | None = None, give_up_after: int = GIVE_UP_SECONDS) -> dict:
    """Run each sweep and return what it did (counts)."""
    now = now or utcnow()
    if stale_after is None:
        stale_after = current_app.config.get("SWEEP_STALE_SECONDS", STALE_SECONDS)
    result = {"timeouts": upgrades.fail_timeouts(now)}
    result.update(sweep_tasks(now, stale_after, give_up_after))
    result["kicked"] = kick_idle_pending(now)
    if any(result.values()):
        log.info("sweep: %s", result)
    return result


def sweep_tasks(now, stale_after: int, give_up_after: int) -> dict:
    """Give up tasks unfinished too long; resume creating tasks whose worker stopped; re-queue lost jobs."""
    given_up = db.session.execute(
        update(UpgradeTask).where(UpgradeTask.status.in_(TaskStatus.UNFINISHED),
                                  UpgradeTask.created_at < now - timedelta(seconds=give_up_after))
        .values(status=TaskStatus.FAILED, failure_code="stale").returning(UpgradeTask.id, UpgradeTask.firmware_id),
        execution_options=_NO_SYNC).all()
    if given_up:
        # A task that never reached "created" was never dispatched: its records only block devices.
        db.session.execute(delete(DeviceUpgrade).where(
            DeviceUpgrade.task_id.in_([t for t, _f in given_up]), DeviceUpgrade.status == UpgradeStatus.PENDING,
            DeviceUpgrade.push_count == 0), execution_options=_NO_SYNC)
    db.session.commit()
    for task_id, firmware_id in given_up:
        events.publish_task(task_id, firmware_id)
    cutoff = now - timedelta(seconds=stale_after)
    resumed = 0
    stale = db.session.execute(db.select(UpgradeTask.id, UpgradeTask.started_at).where(
        UpgradeTask.status == TaskStatus.CREATING, UpgradeTask.started_at < cutoff)).all()
    for task_id, started_at in stale:
        # Claim it (the started_at we read must still be there), so one sweeper resumes it once.
        r = db.session.execute(update(UpgradeTask).where(
            UpgradeTask.id == task_id, UpgradeTask.status == TaskStatus.CREATING, UpgradeTask.started_at == started_at)
            .values(started_at=now), execution_options=_NO_SYNC)
        db.session.commit()
        if r.rowcount == 1:
            log.warning("task %s was left in creating; resuming it", task_id)
            resumed += enqueue_create(task_id, job_id=f"{create_job_id(task_id)}-r{int(now.timestamp())}")
    requeued = 0
    for task_id in db.session.execute(db.select(UpgradeTask.id).where(
            UpgradeTask.status == TaskStatus.NOT_STARTED, UpgradeTask.created_at < cutoff)).scalars():
        requeued += enqueue_create(task_id)  # a no-op while its job is still queued
    return {"given_up": len(given_up), "resumed": resumed, "requeued": requeued}


def kick_idle_pending(now) -> int:
    """Queue a dispatch for created tasks whose pending records have waited a while."""
    idle = exists().where(DeviceUpgrade.task_id == UpgradeTask.id, DeviceUpgrade.status == UpgradeStatus.PENDING,
                          DeviceUpgrade.updated_at < now - timedelta(seconds=PENDING_SECONDS))
    ids = db.session.execute(db.select(UpgradeTask.id).where(
        UpgradeTask.status == TaskStatus.CREATED, idle)).scalars().all()
    return sum(kick_dispatch(t) for t in ids)


__all__ = ["schedule_next", "sweep", "run_sweeps", "enqueue_unique"]
