"""Apply a batch of device reports to the database in one transaction, with conditional updates.

The batch is read once (devices and their active upgrade), played through the state machine
in memory in arrival order, and then each changed record is written once with
`WHERE status IN ('pushed', 'upgrading') AND firmware_id = <target>`: a record that was cancelled,
retried or finished meanwhile is left alone (rowcount 0), whatever the device says.
"""
import logging
from dataclasses import dataclass, field

from sqlalchemy import bindparam, tuple_, update

from ota.devicechannel import protocol
from ota.devicechannel.reports import Report
from ota.extensions import db
from ota.models import Device, DeviceUpgrade, Firmware, Product, UpgradeStatus, utcnow

log = logging.getLogger("ota.gateway")

# Only records a device has been told about move on its word; pending ones wait for dispatch.
DEVICE_DRIVEN = (UpgradeStatus.PUSHED, UpgradeStatus.UPGRADING)
FINISHED = (UpgradeStatus.SUCCEEDED, UpgradeStatus.FAILED)
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
        .where(tuple_(Product.code, Device.name).in_(sorted(pairs)))
    ).all()
    devices, records = {}, {}
    for code, name, dev_id, up_id, task_id, fw_id, target, status, stage, percent in rows:
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
    return out


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
    """Write each changed record once, conditionally; collect what really changed."""
    conn = db.session.connection()
    for rec in records:
        if not (rec.dirty or rec.resend):
            continue
        values = {"updated_at": now}
        if rec.dirty:
            values.update(status=rec.status, stage=rec.stage, percent=rec.percent)
            if rec.progressed:
                values["last_progress_at"] = now
            if rec.status in FINISHED:
                values["finished_at"] = now
            if rec.status == UpgradeStatus.FAILED:
                values.update(error_code="device", error_detail=rec.error_detail)
        resend = rec.resend and rec.status in DEVICE_DRIVEN
        if resend:
            values["push_count"] = _du.c.push_count + 1
        result = conn.execute(
            update(_du)
            .where(_du.c.id == rec.id, _du.c.firmware_id == rec.firmware_id,
                   _du.c.status.in_(DEVICE_DRIVEN))
            .values(**values)
        )
        if result.rowcount != 1:
            log.info("upgrade %s changed meanwhile; the device's report changes nothing", rec.id)
            continue
        if rec.dirty:
            out.changed.append((rec.task_id, rec.firmware_id, rec.id))
        if resend:
            out.resend.append(rec.id)
