"""What the demo reads back from the database: task progress while it waits, the final table and its checks."""
import time
from collections import Counter

from flask_babel import force_locale

from ota.extensions import db
from ota.models import Device, DeviceUpgrade, Firmware, TaskStatus, UpgradeStatus, UpgradeTask
from ota.services import tasks as task_service
from ota.services import upgrades

ZH = {"pending": "待推送", "pushed": "已推送", "upgrading": "升级中", "succeeded": "升级成功", "failed": "升级失败"}


class DemoFailed(RuntimeError):
    """The demo's end state is not what it must be; the message says what differs."""


def progress_line(task_id: int) -> tuple[str, bool]:
    """Return one line of a task's counters, and whether every record has finished."""
    db.session.rollback()  # read what the other processes committed since
    task = db.session.get(UpgradeTask, task_id)
    if task.status == TaskStatus.FAILED:
        with force_locale("en"):
            raise DemoFailed(f"task {task_id} ended 创建失败: {task_service.failure_message(task)}")
    if task.status != TaskStatus.CREATED:
        return f"task {task_id}: {TaskStatus.LABELS[task.status]} (the worker is writing its device list)", False
    counts = upgrades.status_counts(task_id)
    stages = Counter(db.session.execute(db.select(DeviceUpgrade.stage).where(
        DeviceUpgrade.task_id == task_id, DeviceUpgrade.status == UpgradeStatus.UPGRADING)).scalars())
    parts = [f"{ZH[s]} {counts[s]}" for s in UpgradeStatus.ALL if counts[s]]
    if stages:
        parts.append(f"(下载中 {stages.get('downloading', 0)}, 烧录中 {stages.get('burning', 0)})")
    active = sum(counts[s] for s in UpgradeStatus.ACTIVE)
    return f"task {task_id} of {task.device_count}: " + " · ".join(parts), active == 0


def wait_task(task_id: int, timeout: float, keep_alive, every: float = 3.0) -> None:
    """Print a task's counters every few seconds until all its records finished; raise after timeout."""
    deadline = time.monotonic() + timeout
    last = ""
    next_print = 0.0
    while True:
        line, finished = progress_line(task_id)
        now = time.monotonic()
        if finished or (line != last and now >= next_print):
            print(f"    {line}", flush=True)
            last, next_print = line, now + every
        if finished:
            return
        if now > deadline:
            raise DemoFailed(f"task {task_id} did not finish in {timeout:.0f} s: {line}")
        keep_alive()
        time.sleep(0.5)


def failed_records(task_id: int) -> list[tuple[DeviceUpgrade, str, str]]:
    """Return (record, DeviceName, English error) of a task's failed records."""
    db.session.rollback()
    rows = db.session.execute(
        db.select(DeviceUpgrade, Device.name).join(Device, Device.id == DeviceUpgrade.device_id)
        .where(DeviceUpgrade.task_id == task_id, DeviceUpgrade.status == UpgradeStatus.FAILED)
        .order_by(Device.name)).all()
    with force_locale("en"):
        return [(u, name, upgrades.error_message(u.error_code, u.error_detail)) for u, name in rows]


def wait_versions(product_id: int, version: str, count: int, timeout: float, keep_alive) -> int:
    """Wait until `count` devices of the product report `version`; return how many do."""
    deadline = time.monotonic() + timeout
    while True:
        db.session.rollback()
        n = db.session.execute(db.select(db.func.count()).where(
            Device.product_id == product_id, Device.version == version)).scalar_one()
        if n >= count or time.monotonic() > deadline:
            return n
        keep_alive()
        time.sleep(0.5)


def summary(product_id: int, task_ids: list[int], sdk_name: str, expected_devices: int,
            target: str) -> tuple[list[str], list[str]]:
    """Return the summary table's lines and the list of problems (empty when the end state is right)."""
    db.session.rollback()
    problems: list[str] = []
    lines = ["| status | 中文 | " + " | ".join(f"task {t}" for t in task_ids) + " |",
             "|---|---|" + "---|" * len(task_ids)]
    per_task = {t: upgrades.status_counts(t) for t in task_ids}
    for s in UpgradeStatus.ALL:
        lines.append(f"| {s} | {ZH[s]} | " + " | ".join(str(per_task[t][s]) for t in task_ids) + " |")
    for t in task_ids:
        task = db.session.get(UpgradeTask, t)
        bad = task.device_count - per_task[t][UpgradeStatus.SUCCEEDED]
        if task.status != TaskStatus.CREATED or bad:
            problems.append(f"task {t} is {task.status} with {bad} of {task.device_count} records not 升级成功")
    versions = Counter(db.session.execute(db.select(Device.version).where(Device.product_id == product_id)).scalars())
    lines.append("")
    lines.append("devices by reported version: " + ", ".join(f"{v} × {n}" for v, n in sorted(versions.items(),
                                                                                            key=str)))
    if versions.get(target, 0) != expected_devices or sum(versions.values()) != expected_devices:
        problems.append(f"expected {expected_devices} devices on {target}, found {dict(versions)}")
    row = db.session.execute(
        db.select(DeviceUpgrade, Device).join(Device, Device.id == DeviceUpgrade.device_id)
        .where(Device.product_id == product_id, Device.name == sdk_name)
        .order_by(DeviceUpgrade.id.desc()).limit(1)).first()
    if row is None:
        problems.append(f"the SDK device {sdk_name} has no upgrade record")
    else:
        u, dev = row
        lines.append(f"SDK device {sdk_name}: task {u.task_id}, {u.status} ({ZH[u.status]}), percent {u.percent}, "
                     f"from {u.from_version} -> reports {dev.version}, pushes {u.push_count}, retries "
                     f"{u.retry_count}, finished {u.finished_at:%H:%M:%S} UTC" if u.finished_at else
                     f"SDK device {sdk_name}: {u.status}")
        if u.status != UpgradeStatus.SUCCEEDED or dev.version != target:
            problems.append(f"the SDK device's record is {u.status} and it reports {dev.version}")
    return lines, problems


def firmware_lines(product_id: int) -> list[Firmware]:
    """Return the product's firmware, by version."""
    db.session.rollback()
    return db.session.execute(db.select(Firmware).where(Firmware.product_id == product_id)
                              .order_by(Firmware.version)).scalars().all()
