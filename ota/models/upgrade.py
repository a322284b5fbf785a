"""Upgrade tasks and the per-device upgrade records they own."""
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ota.extensions import db
from ota.models.base import utcnow
from ota.models.catalog import Device
from ota.models.firmware import Firmware


class TaskStatus:
    """The four task statuses of the console (DESIGN.md section 3)."""

    NOT_STARTED = "not_started"
    CREATING = "creating"
    CREATED = "created"
    FAILED = "failed"
    LABELS = {
        NOT_STARTED: _l("Not started"),
        CREATING: _l("Creating"),
        CREATED: _l("Created"),
        FAILED: _l("Creation failed"),
    }
    UNFINISHED = (NOT_STARTED, CREATING)


class UpgradeStatus:
    """The five device-upgrade statuses of the console (DESIGN.md section 3)."""

    PENDING = "pending"
    PUSHED = "pushed"
    UPGRADING = "upgrading"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ALL = (PENDING, PUSHED, UPGRADING, SUCCEEDED, FAILED)
    ACTIVE = (PENDING, PUSHED, UPGRADING)  # cancellable; at most one per device
    LABELS = {
        PENDING: _l("Pending push"),
        PUSHED: _l("Pushed"),
        UPGRADING: _l("Upgrading"),
        SUCCEEDED: _l("Upgrade succeeded"),
        FAILED: _l("Upgrade failed"),
    }


_ACTIVE_SQL = text("status IN ('pending', 'pushed', 'upgrading')")


class UpgradeTask(db.Model):
    """A batch upgrade to one firmware, by source version or by a CSV of DeviceNames."""

    __tablename__ = "upgrade_tasks"
    __table_args__ = {"sqlite_autoincrement": True}  # ids never reused (see Firmware)
    METHOD_VERSION = "version"  # 按固件版本
    METHOD_NAMES = "names"  # 按设备名称
    SCOPE_ALL = "all"  # 全部设备
    SCOPE_SELECTED = "selected"  # 指定设备

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    firmware_id: Mapped[int] = mapped_column(ForeignKey("firmwares.id"), index=True)
    method: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str | None] = mapped_column(String(16))  # for METHOD_VERSION
    source_versions: Mapped[list | None] = mapped_column(JSON)  # for METHOD_VERSION
    # Device ids chosen at save time (指定设备, or the CSV's names resolved), so the job that
    # creates the records works from exactly what the user saw.
    selection: Mapped[list | None] = mapped_column(JSON)
    csv_filename: Mapped[str | None] = mapped_column(String(255))
    override: Mapped[bool] = mapped_column(default=False)
    timeout_seconds: Mapped[int] = mapped_column(default=600)
    push_rate: Mapped[int | None] = mapped_column()  # devices per minute; None = unlimited
    status: Mapped[str] = mapped_column(String(16), default=TaskStatus.NOT_STARTED, index=True)
    failure_code: Mapped[str | None] = mapped_column(String(32))
    failure_detail: Mapped[str | None] = mapped_column(Text)
    device_count: Mapped[int] = mapped_column(default=0)
    # Devices left out while creating: [{"device_id", "name", "reason", "task_id"}].
    skipped: Mapped[list | None] = mapped_column(JSON)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()  # entered CREATING (stale sweep)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    firmware: Mapped[Firmware] = relationship()
    upgrades: Mapped[list["DeviceUpgrade"]] = relationship(back_populates="task", lazy="dynamic")


class DeviceUpgrade(db.Model):
    """One device in one task; its status moves only by conditional updates."""

    __tablename__ = "device_upgrades"
    __table_args__ = (
        UniqueConstraint("task_id", "device_id", name="uq_device_upgrades_task_device"),
        Index("ix_device_upgrades_task_status", "task_id", "status"),
        Index("ix_device_upgrades_firmware_status", "firmware_id", "status"),
        # A device is in at most one unfinished upgrade, whatever the writers do.
        Index(
            "uq_device_upgrades_active_device", "device_id", unique=True,
            sqlite_where=_ACTIVE_SQL, postgresql_where=_ACTIVE_SQL,
        ),
        Index("ix_device_upgrades_device", "device_id"),
        {"sqlite_autoincrement": True},  # ids never reused (see Firmware)
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("upgrade_tasks.id"))
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"))
    firmware_id: Mapped[int] = mapped_column(ForeignKey("firmwares.id"))  # the target, denormalised
    from_version: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=UpgradeStatus.PENDING)
    stage: Mapped[str | None] = mapped_column(String(16))  # downloading | burning, while upgrading
    percent: Mapped[int | None] = mapped_column()
    # Why it failed, as a code the page translates (cancelled, timeout, replaced, device) and
    # a detail (the replacing task id, the device's result_code, ...).
    error_code: Mapped[str | None] = mapped_column(String(32))
    error_detail: Mapped[str | None] = mapped_column(String(255))
    retry_count: Mapped[int] = mapped_column(default=0)
    push_count: Mapped[int] = mapped_column(default=0)
    pushed_at: Mapped[datetime | None] = mapped_column()
    last_progress_at: Mapped[datetime | None] = mapped_column()  # timeouts count from here
    finished_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    task: Mapped[UpgradeTask] = relationship(back_populates="upgrades")
    device: Mapped[Device] = relationship()
    firmware: Mapped[Firmware] = relationship()
