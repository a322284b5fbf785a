"""Apply a batch of device reports to the database in one transaction, with conditional updates.

The batch is read once (devices and their active upgrade), played through the state machine
in memory in arrival order, and then each changed record is written once with
`WHERE status IN ('pushed', 'upgrading') AND firmware_id = <target>`: a record that was cancelled,
retried or finished meanwhile is left alone (rowcount 0), whatever the device says.
"""
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import bindparam, update

from ota.devicechannel import protocol
from ota.devicechannel.reports import Report
from ota.extensions import db
from ota.models import Device, DeviceUpgrade, Firmware, Product, UpgradeStatus, UpgradeTask, utcnow

log = logging.getLogger("ota.gateway")

# Only records a device has been told about move on its word; pending ones wait for dispatch.
DEVICE_DRIVEN = (UpgradeStatus.PUSHED, UpgradeStatus.UPGRADING)
FINISHED = (UpgradeStatus.SUCCEEDED, UpgradeStatus.FAILED)
_CHUNK = 500  # ids per IN (...), well under every database's parameter limit
_du = DeviceUpgrade.__table__
_dev = Device.__table__


@dataclass
class _Record:
    """The in-memory copy of one active upgrade while a batch is played through it."""

    id: int
    task_id: int
    firmware_id: int
    target: str
    status: str
    stage: str | None = None
    percent: int | None = None
    error_detail: str | None = None
    progressed: bool = False
    resend: bool = False
    dirty: bool = False


@dataclass
class Outcome:
    """What a batch did: messages to send after commit and records that changed."""

    replies: list[tuple[str, bytes]] = field(default_factory=list)  # report_version_rsp
    resend: list[int] = field(default_factory=list)  # device-upgrade ids to push again
    changed: list[tuple[int, int, int]] = field(default_factory=list)  # (task, firmware, upgrade)
    dropped: int = 0


def _load(reports: list[Report]) -> tuple[dict, dict]:
    """Return {(product, name): device_id} and {device_id: _Record} for the batch's devices."""
    pairs = {(r.product, r.device) for r in reports}
    rows = db.session.execute(
        db.select(
            Product.code, Device.name, Device.id, DeviceUpgrade.id, DeviceUpgrade.task_id,
            DeviceUpgrade.firmware_id, Firmware.version, DeviceUpgrade.status,
            DeviceUpgrade.stage, DeviceUpgrade.percent,
        )
        .join(Product, Product.id == Device.product_id)
        .outerjoin(DeviceUpgrade, (DeviceUpgrade.device_id == Device.id)
                   & DeviceUpgrade.status.in_(UpgradeStatus.ACTIVE))
        .outerjoin(Firmware, Firmware.id == DeviceUpgrade.firmware_id)
        # Two plain INs use the (product_id, name) index on every database; a row-value IN does not.
        .where(Product.code.in_(sorted({p for p, _ in pairs})), Device.name.in_(sorted({n for _, n in pairs})))
    ).all()
    devices, records = {}, {}
    for code, name, dev_id, up_id, task_id, fw_id, target, status, stage, percent in rows:
        if (code, name) not in pairs:
            continue
        devices[(code, name)] = dev_id
        if up_id is not None:
            records[dev_id] = _Record(up_id, task_id, fw_id, target, status, stage, percent)
    return devices, records


def _play(rec: _Record, r: Report) -> None:
    """Move one record by one report (in memory); finished records ignore everything."""
    if rec.status not in DEVICE_DRIVEN:
        return
    if r.kind == "version":
        if r.version == rec.target:
            rec.status, rec.stage, rec.percent = UpgradeStatus.SUCCEEDED, None, 100
        else:  # Tencent's rule: an active upgrade's device on another version gets the push again
            rec.resend = True
            return
    elif r.version != rec.target:
        log.info("progress for version %s ignored: upgrade %s targets %s", r.version, rec.id, rec.target)
        return
    elif r.state == "downloading":
        rec.status, rec.stage, rec.percent = UpgradeStatus.UPGRADING, "downloading", r.percent or 0
    elif r.state == "burning":
        rec.status, rec.stage, rec.percent = UpgradeStatus.UPGRADING, "burning", r.percent
    elif r.state == "done":
        rec.status, rec.stage, rec.percent = UpgradeStatus.SUCCEEDED, None, 100
    else:  # fail: the meaning is in result_code (-1..-5); the page translates it
        rec.status, rec.error_detail = UpgradeStatus.FAILED, str(r.result_code)
    rec.progressed = rec.progressed or r.kind == "progress"
    rec.dirty = True


def apply(reports: list[Report]) -> Outcome:
    """Play reports (arrival order) into the database; the caller commits, then sends and publishes."""
    out = Outcome()
    if not reports:
        return out
    devices, records = _load(reports)
    now = utcnow()
    versions: dict[int, str] = {}
    seen: set[int] = set()
    for r in reports:
        dev_id = devices.get((r.product, r.device))
        if dev_id is None:
            log.warning("dropped %s: unknown device", protocol.report_topic(r.product, r.device))
            out.dropped += 1
            continue
        seen.add(dev_id)
        if r.kind == "version":
            versions[dev_id] = r.version
            out.replies.append((protocol.update_topic(r.product, r.device),
                                protocol.report_version_rsp(r.version)))
        rec = records.get(dev_id)
        if rec is not None:
            _play(rec, r)
    _write_devices(versions, seen - versions.keys(), now)
    _write_records(records.values(), now, out)
    _write_rollbacks({d: v for d, v in versions.items() if d not in records}, now, out)
    return out


def _write_rollbacks(versions: dict[int, str], now, out: Outcome) -> None:
    """Fail a just-succeeded upgrade whose device comes back on another version than its target.

    After "done" a device reboots and reports its version (DESIGN.md section 4); reporting
    something else within the task's timeout means the new image did not take (a rollback), so
    "succeeded" would no longer tell the truth.
    """
    if not versions:
        return
    rows = db.session.execute(
        db.select(DeviceUpgrade.id, DeviceUpgrade.device_id, DeviceUpgrade.task_id, DeviceUpgrade.firmware_id,
                  DeviceUpgrade.finished_at, Firmware.version, UpgradeTask.timeout_seconds)
        .join(Firmware, Firmware.id == DeviceUpgrade.firmware_id)
        .join(UpgradeTask, UpgradeTask.id == DeviceUpgrade.task_id)
        .where(DeviceUpgrade.device_id.in_(sorted(versions)), DeviceUpgrade.status == UpgradeStatus.SUCCEEDED,
               DeviceUpgrade.finished_at >= now - timedelta(days=1))
        .order_by(DeviceUpgrade.finished_at.desc())
    ).all()
    latest: dict[int, tuple] = {}
    for row in rows:
        latest.setdefault(row.device_id, row)
    conn = db.session.connection()
    for dev_id, row in latest.items():
        reported = versions[dev_id]
        if reported == row.version or row.finished_at < now - timedelta(seconds=row.timeout_seconds):
            continue
        changed = conn.execute(
            update(_du).where(_du.c.id == row.id, _du.c.status == UpgradeStatus.SUCCEEDED)
            .values(status=UpgradeStatus.FAILED, error_code="rollback", error_detail=reported, updated_at=now)
            .returning(_du.c.id)
        ).first()
        if changed:
            log.warning("upgrade %s: device came back on %s, not %s; failed as a rollback",
                        row.id, reported, row.version)
            out.changed.append((row.task_id, row.firmware_id, row.id))


def _write_devices(versions: dict[int, str], others: set[int], now) -> None:
    """Store reported versions and last-seen times (no state machine: plain updates)."""
    conn = db.session.connection()
    if versions:
        conn.execute(
            update(_dev).where(_dev.c.id == bindparam("b_id"))
            .values(version=bindparam("b_version"), last_seen_at=now),
            [{"b_id": i, "b_version": v} for i, v in versions.items()],
        )
    if others:
        conn.execute(update(_dev).where(_dev.c.id.in_(sorted(others))).values(last_seen_at=now))


def _write_records(records, now, out: Outcome) -> None:
    """Write the changed records conditionally, one UPDATE ... RETURNING per distinct outcome.

    Records that end the batch in the same state (most downloading percents) share a statement,
    so a batch of hundreds of reports costs a handful of statements; RETURNING says which rows
    really changed, so cancelled or finished ones are never announced.
    """
    groups: dict[tuple, list[_Record]] = {}
    for rec in records:
        resend = rec.resend and rec.status in DEVICE_DRIVEN
        if rec.dirty or resend:
            key = (rec.firmware_id, rec.dirty, rec.status, rec.stage, rec.percent, rec.error_detail,
                   rec.progressed, resend)
            groups.setdefault(key, []).append(rec)
    conn = db.session.connection()
    for (fw_id, dirty, status, stage, percent, detail, progressed, resend), recs in groups.items():
        values = {"updated_at": now}
        if dirty:
            values.update(status=status, stage=stage, percent=percent)
            if progressed:
                values["last_progress_at"] = now
            if status in FINISHED:
                values["finished_at"] = now
            if status == UpgradeStatus.FAILED:
                values.update(error_code="device", error_detail=detail)
        if resend:
            values["push_count"] = _du.c.push_count + 1
        for i in range(0, len(recs), _CHUNK):
            chunk = {r.id: r for r in recs[i:i + _CHUNK]}
            changed = set(conn.execute(
                update(_du)
                .where(_du.c.id.in_(list(chunk)), _du.c.firmware_id == fw_id, _du.c.status.in_(DEVICE_DRIVEN))
                .values(**values)
                .returning(_du.c.id)
            ).scalars())
            for rid, rec in chunk.items():
                if rid not in changed:
                    log.info("upgrade %s changed meanwhile; the device's report changes nothing", rid)
                    continue
                if dirty:
                    out.changed.append((rec.task_id, rec.firmware_id, rid))
                if resend:
                    out.resend.append(rid)
