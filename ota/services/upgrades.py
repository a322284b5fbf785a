"""Device-record transitions made by users, dispatch and the sweeper: each a conditional UPDATE.

Every function commits its own change and only then publishes the live event, so a page that
re-reads the row always sees what the event announced. A transition whose WHERE no longer
matches (a device finished first, another click retried first) changes nothing and says so.
"""
from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, exists, func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from ota.extensions import db
from ota.models import DeviceUpgrade, TaskStatus, UpgradeStatus, UpgradeTask, utcnow
from ota.services import events

ACTIVE = UpgradeStatus.ACTIVE
IN_FLIGHT = (UpgradeStatus.PUSHED, UpgradeStatus.UPGRADING)  # a push went out; the clock runs
_NO_SYNC = {"synchronize_session": False}

# error_code -> message; "device" records carry the device's result_code in error_detail.
ERRORS = {
    "cancelled": _l("Cancelled"),
    "timeout": _l("Upgrade timed out"),
    "replaced": _l("Replaced by task %(detail)s"),
    "rollback": _l("Reported version %(detail)s after finishing: the upgrade did not take"),
}
DEVICE_ERRORS = {
    "-1": _l("Download timed out"),
    "-2": _l("File not found"),
    "-3": _l("Signature expired / authentication failed"),
    "-4": _l("MD5 check failed"),
    "-5": _l("Burning failed"),
}


def error_message(code: str | None, detail: str | None) -> str:
    """Return a failed record's error in the page's language."""
    if code == "device":
        msg = DEVICE_ERRORS.get((detail or "").strip())
        return str(msg) if msg else str(_l("Device error %(code)s", code=detail or "?"))
    msg = ERRORS.get(code)
    if msg is None:
        return detail or code or ""
    return str(msg) % {"detail": detail or ""} if "%(detail)s" in str(msg) else str(msg)


class Refused(Exception):
    """A transition the record's current status does not allow; the message says why."""


def _announce(rows) -> None:
    events.publish_upgrades([(t, f, u) for u, t, f in rows])


def _changed(ids: list[int]):
    rows = []
    for i in range(0, len(ids), 900):
        rows += db.session.execute(
            db.select(DeviceUpgrade.id, DeviceUpgrade.task_id, DeviceUpgrade.firmware_id)
            .where(DeviceUpgrade.id.in_(ids[i:i + 900]))).all()
    return rows


def _fail_values(code: str, detail: str | None = None) -> dict:
    now = utcnow()
    return {"status": UpgradeStatus.FAILED, "error_code": code, "error_detail": detail,
            "finished_at": now, "updated_at": now}


def cancel(upgrade: DeviceUpgrade) -> None:
    """Cancel one pending, pushed or upgrading record (it becomes failed "cancelled")."""
    r = db.session.execute(
        update(DeviceUpgrade).where(DeviceUpgrade.id == upgrade.id, DeviceUpgrade.status.in_(ACTIVE))
        .values(**_fail_values("cancelled")), execution_options=_NO_SYNC)
    db.session.commit()
    if r.rowcount != 1:
        raise Refused(_l("This device's upgrade already ended; there is nothing to cancel."))
    _announce(_changed([upgrade.id]))


def _retry_values() -> dict:
    return {"status": UpgradeStatus.PENDING, "retry_count": DeviceUpgrade.retry_count + 1, "stage": None,
            "percent": None, "error_code": None, "error_detail": None, "pushed_at": None,
            "last_progress_at": None, "finished_at": None, "updated_at": utcnow()}


def _other_active_task(device_id: int) -> int | None:
    return db.session.execute(
        db.select(DeviceUpgrade.task_id).where(DeviceUpgrade.device_id == device_id,
                                               DeviceUpgrade.status.in_(ACTIVE))
    ).scalar()


def retry(upgrade: DeviceUpgrade) -> None:
    """Make one failed record pending again (retry_count + 1) and dispatch it."""
    task_id, device_id = upgrade.task_id, upgrade.device_id
    _check_task_created(task_id)
    try:
        r = db.session.execute(
            update(DeviceUpgrade).where(DeviceUpgrade.id == upgrade.id, DeviceUpgrade.status == UpgradeStatus.FAILED)
            .values(**_retry_values()), execution_options=_NO_SYNC)
        db.session.commit()
    except IntegrityError:
        # The partial unique index: the device is already in another unfinished upgrade.
        db.session.rollback()
        other = _other_active_task(device_id)
        raise Refused(_l("This device is already being upgraded by task %(task)s; cancel that first.", task=other))
    if r.rowcount != 1:
        raise Refused(_l("Only a failed upgrade can be retried; this one is no longer failed."))
    _announce(_changed([upgrade.id]))
    _dispatch(task_id)


def _check_task_created(task_id: int) -> None:
    status = db.session.execute(db.select(UpgradeTask.status).where(UpgradeTask.id == task_id)).scalar()
    if status == TaskStatus.FAILED:
        raise Refused(_l("The task could not be created, so it has no devices to cancel or retry. Create a new task."))
    if status != TaskStatus.CREATED:
        raise Refused(_l("The task is not created yet; wait until its device list is complete."))


def cancel_all(task_id: int) -> int:
    """Cancel every unfinished record of a task; return how many were cancelled."""
    ids = db.session.execute(
        update(DeviceUpgrade).where(DeviceUpgrade.task_id == task_id, DeviceUpgrade.status.in_(ACTIVE))
        .values(**_fail_values("cancelled")).returning(DeviceUpgrade.id), execution_options=_NO_SYNC
    ).scalars().all()
    db.session.commit()
    _announce(_changed(ids))
    return len(ids)


def retry_all(task_id: int) -> tuple[int, int]:
    """Retry every failed record of a task whose device is free; return (retried, left failed)."""
    _check_task_created(task_id)
    other = aliased(DeviceUpgrade)
    busy = exists().where(other.device_id == DeviceUpgrade.device_id, other.status.in_(ACTIVE))
    where = and_(DeviceUpgrade.task_id == task_id, DeviceUpgrade.status == UpgradeStatus.FAILED, ~busy)
    try:
        ids = db.session.execute(
            update(DeviceUpgrade).where(where).values(**_retry_values()).returning(DeviceUpgrade.id),
            execution_options=_NO_SYNC).scalars().all()
        db.session.commit()
    except IntegrityError:
        # Another writer made one of these devices busy meanwhile: go one by one.
        db.session.rollback()
        ids = _retry_one_by_one(task_id)
    left = db.session.execute(db.select(func.count()).where(
        DeviceUpgrade.task_id == task_id, DeviceUpgrade.status == UpgradeStatus.FAILED)).scalar_one()
    _announce(_changed(ids))
    if ids:
        _dispatch(task_id)
    return len(ids), left


def _retry_one_by_one(task_id: int) -> list[int]:
    done = []
    candidates = db.session.execute(db.select(DeviceUpgrade.id).where(
        DeviceUpgrade.task_id == task_id, DeviceUpgrade.status == UpgradeStatus.FAILED)).scalars().all()
    for uid in candidates:
        try:
            r = db.session.execute(update(DeviceUpgrade).where(
                DeviceUpgrade.id == uid, DeviceUpgrade.status == UpgradeStatus.FAILED).values(**_retry_values()),
                execution_options=_NO_SYNC)
            db.session.commit()
            if r.rowcount == 1:
                done.append(uid)
        except IntegrityError:
            db.session.rollback()
    return done


def replace_active(upgrade_ids: list[int], new_task_id: int) -> list[int]:
    """Fail other tasks' active records as "replaced" (in the caller's transaction); return those changed."""
    if not upgrade_ids:
        return []
    return db.session.execute(
        update(DeviceUpgrade).where(DeviceUpgrade.id.in_(upgrade_ids), DeviceUpgrade.status.in_(ACTIVE))
        .values(**_fail_values("replaced", str(new_task_id))).returning(DeviceUpgrade.id),
        execution_options=_NO_SYNC).scalars().all()


def mark_pushed(ids: list[int]) -> list[int]:
    """Move pending records to pushed (push_count + 1); return the ids that moved (others were cancelled)."""
    if not ids:
        return []
    now = utcnow()
    moved = db.session.execute(
        update(DeviceUpgrade).where(DeviceUpgrade.id.in_(ids), DeviceUpgrade.status == UpgradeStatus.PENDING)
        .values(status=UpgradeStatus.PUSHED, push_count=DeviceUpgrade.push_count + 1, pushed_at=now,
                updated_at=now).returning(DeviceUpgrade.id), execution_options=_NO_SYNC).scalars().all()
    db.session.commit()
    return moved


def unmark_pushed(ids: list[int]) -> None:
    """Put records back to pending when their push could not be sent (the broker was unreachable)."""
    if ids:
        db.session.execute(
            update(DeviceUpgrade).where(DeviceUpgrade.id.in_(ids), DeviceUpgrade.status == UpgradeStatus.PUSHED,
                                        DeviceUpgrade.last_progress_at.is_(None))
            .values(status=UpgradeStatus.PENDING, push_count=DeviceUpgrade.push_count - 1, pushed_at=None),
            execution_options=_NO_SYNC)
        db.session.commit()


def fail_timeouts(now=None) -> int:
    """Fail pushed/upgrading records without progress for their task's timeout; return how many."""
    now = now or utcnow()
    tasks = db.session.execute(
        db.select(UpgradeTask.id, UpgradeTask.timeout_seconds).where(
            exists().where(DeviceUpgrade.task_id == UpgradeTask.id, DeviceUpgrade.status.in_(IN_FLIGHT)))
    ).all()
    ids: list[int] = []
    for task_id, timeout in tasks:
        cutoff = now - timedelta(seconds=timeout)
        stale = or_(DeviceUpgrade.last_progress_at < cutoff,
                    and_(DeviceUpgrade.last_progress_at.is_(None), DeviceUpgrade.pushed_at < cutoff))
        ids += db.session.execute(
            update(DeviceUpgrade).where(DeviceUpgrade.task_id == task_id, DeviceUpgrade.status.in_(IN_FLIGHT), stale)
            .values(**_fail_values("timeout")).returning(DeviceUpgrade.id), execution_options=_NO_SYNC
        ).scalars().all()
        db.session.commit()
    _announce(_changed(ids))
    return len(ids)


def _dispatch(task_id: int) -> None:
    from ota.jobs.tasks import kick_dispatch

    kick_dispatch(task_id)


def status_counts(task_id: int) -> dict[str, int]:
    """Return {status: count} for a task's records (one GROUP BY), every status present."""
    counts = dict.fromkeys(UpgradeStatus.ALL, 0)
    counts.update(db.session.execute(
        db.select(DeviceUpgrade.status, func.count()).where(DeviceUpgrade.task_id == task_id)
        .group_by(DeviceUpgrade.status)).all())
    return counts


def records_query(task_id: int, status: str | None = None, q: str | None = None):
    """Return the query of a task's records with their device loaded (no per-row queries), by id."""
    from sqlalchemy.orm import contains_eager

    from ota.models import Device

    query = (db.select(DeviceUpgrade).join(Device, Device.id == DeviceUpgrade.device_id)
             .options(contains_eager(DeviceUpgrade.device)).where(DeviceUpgrade.task_id == task_id))
    if status in UpgradeStatus.ALL:
        query = query.where(DeviceUpgrade.status == status)
    if q:
        escaped = q.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Device.name.like(f"%{escaped}%", escape="\\"))
    return query.order_by(DeviceUpgrade.id)
