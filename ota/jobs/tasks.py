"""RQ jobs of upgrade tasks: create a task's device records, then dispatch their pushes."""
import logging
import math
from datetime import timedelta

import redis
from flask import current_app
from rq import get_current_job
from rq.exceptions import DuplicateJobError, InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError

from ota.devicechannel import mqtt
from ota.devicechannel.pushes import build_pushes
from ota.extensions import db
from ota.jobs import get_queue, job
from ota.models import DeviceUpgrade, Firmware, TaskStatus, UpgradeStatus, UpgradeTask, utcnow
from ota.services import events, upgrades
from ota.services.tasks import busy_device_ids, target_rows

log = logging.getLogger(__name__)
INSERT_CHUNK = 2000  # rows per committed chunk: a crash loses at most one chunk of work
PUSH_BATCH = 1000
_NO_SYNC = {"synchronize_session": False}
_DEAD = (JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED)


def create_job_id(task_id: int) -> str:
    """Return the RQ job id of a task's creation job."""
    return f"task-create-{task_id}"


def dispatch_job_id(task_id: int) -> str:
    """Return the RQ job id of a task's dispatch job."""
    return f"task-dispatch-{task_id}"


def enqueue_unique(queue, fn, job_id: str, *args, at=None, **opts) -> bool:
    """Enqueue fn unless a live job with this id exists (a finished or failed one is replaced)."""
    for _ in range(3):
        try:
            if at is not None:
                queue.enqueue_at(at, fn, *args, job_id=job_id, unique=True, **opts)
            else:
                queue.enqueue(fn, *args, job_id=job_id, unique=True, **opts)
            return True
        except DuplicateJobError:
            try:
                old = Job.fetch(job_id, connection=queue.connection)
                status = old.get_status()
            except NoSuchJobError:
                continue
            except InvalidJobOperation:
                # A hash without a status: RQ is deleting the finished job (result_ttl=0); finish that.
                queue.connection.delete(Job.key_for(job_id))
                continue
            if status not in _DEAD:
                return False
            old.delete()
    return False


def enqueue_create(task_id: int, job_id: str | None = None) -> bool:
    """Queue the creation job of a saved task (after its commit); never raises for Redis trouble."""
    try:
        return enqueue_unique(get_queue(), create_task_job, job_id or create_job_id(task_id), task_id,
                              job_timeout=600, result_ttl=3600)
    except redis.RedisError as e:
        log.warning("task %s not queued (%s); the sweeper queues it when Redis is back", task_id, e)
        return False


def kick_dispatch(task_id: int) -> bool:
    """Queue a dispatch of the task's pending records unless one is already queued or running."""
    try:
        return enqueue_unique(get_queue(), dispatch_job, dispatch_job_id(task_id), task_id,
                              result_ttl=0, failure_ttl=600, job_timeout=600)
    except redis.RedisError as e:
        log.warning("dispatch of task %s not queued (%s); the sweeper retries", task_id, e)
        return False


def _fail(task_id: int, code: str, detail: str | None = None, skipped=None) -> None:
    db.session.execute(
        update(UpgradeTask).where(UpgradeTask.id == task_id, UpgradeTask.status.in_(TaskStatus.UNFINISHED))
        .values(status=TaskStatus.FAILED, failure_code=code, failure_detail=detail, skipped=skipped or None),
        execution_options=_NO_SYNC)
    db.session.commit()


@job
def create_task_job(task_id: int) -> str | None:
    """Resolve the task's devices and write one pending record each; safe to run twice or after a crash."""
    r = db.session.execute(
        update(UpgradeTask).where(UpgradeTask.id == task_id, UpgradeTask.status == TaskStatus.NOT_STARTED)
        .values(status=TaskStatus.CREATING, started_at=utcnow()), execution_options=_NO_SYNC)
    db.session.commit()
    task = db.session.get(UpgradeTask, task_id)
    if task is None or task.status != TaskStatus.CREATING:
        return task.status if task else None  # already created or failed: running again is a no-op
    if r.rowcount:
        events.publish_task(task.id, task.firmware_id)
    _create(task)
    db.session.expire_all()
    task = db.session.get(UpgradeTask, task_id)
    events.publish_task(task.id, task.firmware_id)
    log.info("task %s: %s, %s devices, %s skipped%s", task.id, task.status, task.device_count,
             len(task.skipped or []), f" ({task.failure_code})" if task.failure_code else "")
    if task.status == TaskStatus.CREATED:
        kick_dispatch(task.id)
    return task.status


def _create(task: UpgradeTask) -> None:
    fw = db.session.get(Firmware, task.firmware_id)
    if fw is None:
        return _fail(task.id, "firmware_deleted")
    rows = target_rows(task)
    skipped: list[dict] = list(task.skipped or [])  # recorded at save: chosen devices not on a selected version
    already = {s.get("device_id") for s in skipped}
    candidates: dict[int, str | None] = {}
    restrict = set(task.source_versions or []) if task.scope == UpgradeTask.SCOPE_SELECTED else None
    names = {}
    for device_id, name, version in rows:
        names[device_id] = name
        if device_id in already:
            continue
        if restrict is not None and version not in restrict:
            skipped.append({"device_id": device_id, "name": name, "reason": "not_on_version"})
        elif version == fw.version:
            skipped.append({"device_id": device_id, "name": name, "reason": "on_target"})
        else:
            candidates[device_id] = version
    existing = set(db.session.execute(
        db.select(DeviceUpgrade.device_id).where(DeviceUpgrade.task_id == task.id)).scalars())
    todo = [d for d in candidates if d not in existing]
    replaced: list[int] = []
    busy_skipped: dict[int, int] = {}
    now = utcnow()
    for start in range(0, len(todo), INSERT_CHUNK):
        chunk = todo[start:start + INSERT_CHUNK]
        for attempt in range(4):
            busy = busy_device_ids(chunk, exclude_task=task.id)
            if not task.override:
                busy_skipped.update({d: t for d, (_u, t) in busy.items()})
                chunk = [d for d in chunk if d not in busy]
            try:
                if task.override:
                    replaced += upgrades.replace_active([u for u, _t in busy.values()], task.id)
                if chunk:
                    # Core executemany on the table: the ORM's bulk-insert path costs about 2x more per row.
                    db.session.connection().execute(insert(DeviceUpgrade.__table__), [
                        {"task_id": task.id, "device_id": d, "firmware_id": fw.id, "from_version": candidates[d],
                         "status": UpgradeStatus.PENDING, "retry_count": 0, "push_count": 0,
                         "created_at": now, "updated_at": now} for d in chunk])
                db.session.commit()
                break
            except IntegrityError:
                # A second run inserted some of these, or another task took a device: look again.
                db.session.rollback()
                present = set(db.session.execute(db.select(DeviceUpgrade.device_id).where(
                    DeviceUpgrade.task_id == task.id, DeviceUpgrade.device_id.in_(chunk))).scalars())
                chunk = [d for d in chunk if d not in present]
        else:
            raise RuntimeError(f"task {task.id}: could not write device records after 4 attempts")
    skipped += [{"device_id": d, "name": names[d], "reason": "busy", "task_id": t} for d, t in busy_skipped.items()]
    if replaced:
        upgrades._announce(upgrades._changed(replaced))
    count = db.session.execute(
        db.select(db.func.count()).where(DeviceUpgrade.task_id == task.id)).scalar_one()
    if count == 0:
        return _fail(task.id, _empty_reason(rows, skipped), skipped=skipped)
    db.session.execute(
        update(UpgradeTask).where(UpgradeTask.id == task.id, UpgradeTask.status == TaskStatus.CREATING)
        .values(status=TaskStatus.CREATED, device_count=count, skipped=skipped or None), execution_options=_NO_SYNC)
    db.session.commit()


def _empty_reason(rows, skipped) -> str:
    reasons = {s["reason"] for s in skipped}
    if not rows or reasons == {"not_on_version"}:
        return "no_devices"
    if reasons == {"on_target"}:
        return "all_on_target"
    if reasons == {"busy"}:
        return "all_busy"
    return "none_eligible"


def rate_slice(rate: int) -> tuple[int, float]:
    """Return (devices per slice, seconds between slices) for a push rate in devices per minute."""
    n = max(1, math.ceil(rate / 6))  # about six slices a minute keeps the download load smooth
    return n, 60.0 * n / rate


def _pending(task_id: int, limit: int) -> list[int]:
    return db.session.execute(
        db.select(DeviceUpgrade.id).where(DeviceUpgrade.task_id == task_id, DeviceUpgrade.status == UpgradeStatus.PENDING)
        .order_by(DeviceUpgrade.id).limit(limit)).scalars().all()


def publish(pushes) -> set[int]:
    """Publish update_firmware messages with QoS 1, not retained; return the upgrade ids the broker acknowledged."""
    c = mqtt.client(current_app.config["MQTT_URL"])
    mqtt.connect(c)
    c.loop_start()
    try:
        infos = [(p.upgrade_id, c.publish(p.topic, p.payload, qos=1, retain=False)) for p in pushes]
        done = set()
        for uid, info in infos:
            try:
                info.wait_for_publish(timeout=10)
            except (RuntimeError, ValueError):
                continue
            if info.is_published():
                done.add(uid)
        return done
    finally:
        c.disconnect()
        c.loop_stop()


def push(ids: list[int]) -> int:
    """Mark pending records pushed, publish their pushes, undo the ones not sent; return how many were sent."""
    moved = upgrades.mark_pushed(ids)
    if not moved:
        return 0
    try:
        sent = publish(build_pushes(moved))
    except OSError as e:
        log.warning("broker unreachable (%s); %d pushes put back to pending", e, len(moved))
        sent = set()
    unsent = [u for u in moved if u not in sent]
    upgrades.unmark_pushed(unsent)
    upgrades._announce(upgrades._changed(moved))
    return len(sent)


@job
def dispatch_job(task_id: int) -> int:
    """Push the task's pending records, all at once or one slice at the task's push rate."""
    task = db.session.get(UpgradeTask, task_id)
    if task is None or task.status != TaskStatus.CREATED:
        return 0
    me = get_current_job()
    if task.push_rate:
        chain = [dispatch_job_id(task_id), dispatch_job_id(task_id) + "-next"]
        mine = me.id if me is not None and me.id in chain else chain[0]
        other = chain[1] if mine == chain[0] else chain[0]
        queue = get_queue()
        if Job.exists(other, connection=queue.connection):
            return 0  # a slice is already scheduled; it carries on at the rate
        n, period = rate_slice(task.push_rate)
        sent = push(_pending(task_id, n))
        if _pending(task_id, 1):
            enqueue_unique(queue, dispatch_job, other, task_id, at=utcnow_aware() + timedelta(seconds=period),
                           result_ttl=0, failure_ttl=600)
        return sent
    total = 0
    while ids := _pending(task_id, PUSH_BATCH):
        sent = push(ids)
        total += sent
        if sent < len(ids):
            # The broker refused or is down: try again shortly rather than spinning.
            enqueue_unique(get_queue(), dispatch_job, dispatch_job_id(task_id) + "-next", task_id,
                           at=utcnow_aware() + timedelta(seconds=30), result_ttl=0, failure_ttl=600)
            break
    return total


def utcnow_aware():
    """Return the current time as aware UTC (RQ reads naive datetimes as local time)."""
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)
