"""Upgrade tasks: the rules any front end (form, CLI) shares, saving a task, and resolving its targets."""
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import distinct, func, or_

from ota.extensions import db
from ota.models import Device, DeviceUpgrade, Firmware, Product, TaskStatus, UpgradeStatus, UpgradeTask
from ota.services import csvnames
from ota.services.firmware import clean_filename

TIMEOUT_DEFAULT = 600
TIMEOUT_MIN, TIMEOUT_MAX = 60, 24 * 3600
PUSH_RATE_MAX = 100_000
CHUNK = 900  # ids per IN (...) list: below every database's bound-parameter limit

# Why a task could not be created (failure_code -> message; failure_detail fills %(detail)s).
FAILURES = {
    "no_devices": _l("No device matched the task."),
    "all_on_target": _l("Every matched device already runs the target version."),
    "all_busy": _l("Every matched device is in another unfinished task (tick “Override” to replace those)."),
    "none_eligible": _l("No matched device can be upgraded: each already runs the target version or is in another unfinished task."),
    "firmware_deleted": _l("The target firmware was deleted."),
    "stale": _l("The worker creating this task stopped and creation was given up; create the task again."),
    "error": _l("Creation failed: %(detail)s"),
}
# Why a matched device was left out (skipped[i]["reason"] -> message).
SKIP_REASONS = {
    "on_target": _l("Already runs the target version"),
    "busy": _l("In unfinished task %(task)s"),
    "not_on_version": _l("Not on a selected version"),
}


def failure_message(task: UpgradeTask) -> str:
    """Return a failed task's reason in the page's language."""
    msg = FAILURES.get(task.failure_code)
    if msg is None:
        return task.failure_detail or task.failure_code or ""
    return str(msg) % {"detail": task.failure_detail or ""} if "%(detail)s" in str(msg) else str(msg)


def skip_message(item: dict) -> str:
    """Return why a device was skipped, in the page's language."""
    msg = SKIP_REASONS.get(item.get("reason"))
    return str(msg) % {"task": item.get("task_id")} if msg else str(item.get("reason"))


class TaskRefused(ValueError):
    """A task cannot be saved as given; errors maps a field name to its messages."""

    def __init__(self, errors: dict[str, list]):
        super().__init__(", ".join(errors))  # the field names; messages are rendered where shown
        self.errors = errors


def _chunks(items: list, size: int = CHUNK):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def source_versions(firmware: Firmware) -> list[str]:
    """Return the versions devices of the firmware's product report, plus its firmware versions, target excluded."""
    reported = db.session.execute(
        db.select(Device.version).distinct().where(Device.product_id == firmware.product_id,
                                                   Device.version.is_not(None))
    ).scalars()
    uploaded = db.session.execute(
        db.select(Firmware.version).where(Firmware.product_id == firmware.product_id)
    ).scalars()
    versions = {v for v in (*reported, *uploaded) if v and v != firmware.version}
    return sorted(versions, key=_version_key, reverse=True)


def _version_key(v: str):
    """Sort "1.10.0" after "1.9.0": compare numeric parts as numbers."""
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in v.replace("-", ".").replace("_", ".").split(".")]


def busy_device_ids(device_ids: list[int], exclude_task: int | None = None) -> dict[int, tuple[int, int]]:
    """Return {device_id: (upgrade_id, task_id)} for the devices with an unfinished upgrade elsewhere."""
    found: dict[int, tuple[int, int]] = {}
    for part in _chunks(device_ids):
        q = db.select(DeviceUpgrade.device_id, DeviceUpgrade.id, DeviceUpgrade.task_id).where(
            DeviceUpgrade.device_id.in_(part), DeviceUpgrade.status.in_(UpgradeStatus.ACTIVE))
        if exclude_task is not None:
            q = q.where(DeviceUpgrade.task_id != exclude_task)
        found.update({d: (u, t) for d, u, t in db.session.execute(q)})
    return found


@dataclass
class Preview:
    """How many devices a by-version task would reach, before it is saved."""

    matched: int = 0
    on_target: int = 0
    busy: int = 0
    not_on_version: int = 0

    @property
    def reach(self) -> int:
        return self.matched - self.on_target - self.busy


def preview(firmware: Firmware, versions: list[str], scope: str, selection: list[int] | None,
            override: bool) -> Preview:
    """Count the devices a by-version task would reach (and those it would skip)."""
    p = Preview()
    if not versions:
        return p
    base = db.select(Device.id).where(Device.product_id == firmware.product_id, Device.version.in_(versions))
    if scope == UpgradeTask.SCOPE_SELECTED:
        ids = list(selection or [])
        matched = []
        for part in _chunks(ids):
            matched += db.session.execute(base.where(Device.id.in_(part))).scalars().all()
        p.not_on_version = len(ids) - len(matched)
        p.matched = len(matched)
        if not override:
            p.busy = len(busy_device_ids(matched))
        return p
    p.matched = db.session.execute(db.select(func.count()).select_from(base.subquery())).scalar_one()
    if not override:
        p.busy = db.session.execute(
            db.select(func.count(distinct(DeviceUpgrade.device_id))).join(Device, Device.id == DeviceUpgrade.device_id)
            .where(Device.product_id == firmware.product_id, Device.version.in_(versions),
                   DeviceUpgrade.status.in_(UpgradeStatus.ACTIVE))
        ).scalar_one()
    return p


@dataclass
class CsvCheck:
    """An uploaded CSV checked against a product: device ids, or the problems with their lines."""

    device_ids: list[int] = field(default_factory=list)
    errors: list = field(default_factory=list)  # messages, "Line N: ..." (lazy strings), in line order
    duplicates: list[tuple[str, int]] = field(default_factory=list)
    problems: list[csvnames.Problem] = field(default_factory=list)  # errors and repeated lines, in line order

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.device_ids)


def check_csv(firmware: Firmware, data: bytes, max_rows: int) -> CsvCheck:
    """Read a CSV of DeviceNames and match every name to a device of the firmware's product."""
    check = CsvCheck()
    result = csvnames.read_device_names(data, max_rows=max_rows)
    check.duplicates = result.duplicates
    extra: list[csvnames.Problem] = []
    if result.too_many:
        extra.append(csvnames.Problem(0, _l("The file lists %(count)s devices; one task takes at most %(max)s.",
                                            count=len(result.names), max=max_rows)))
    if not (result.file_error or result.too_many):  # a bad file is not matched name by name
        extra += _unknown_names(firmware, result, check)
    check.problems = csvnames.problems(result, extra)
    check.errors = [p.message for p in check.problems if not p.repeat]
    return check


def _unknown_names(firmware: Firmware, result: csvnames.CsvResult, check: CsvCheck) -> list:
    """Match the names to the product's devices (into check.device_ids); return a Problem per unknown name."""
    by_name: dict[str, int] = {}
    for part in _chunks(result.names):
        by_name.update(db.session.execute(
            db.select(Device.name, Device.id).where(Device.product_id == firmware.product_id, Device.name.in_(part))
        ).all())
    missing = [n for n in result.names if n not in by_name]
    elsewhere: dict[str, str] = {}
    for part in _chunks(missing):
        elsewhere.update(db.session.execute(
            db.select(Device.name, Product.name).join(Product, Product.id == Device.product_id)
            .where(Product.account_id == firmware.account_id, Device.name.in_(part))
        ).all())
    unknown = []
    for name in missing:
        line = result.lines[name]
        if name in elsewhere:
            message = _l("Line %(line)s: “%(name)s” belongs to product %(product)s, not to this firmware’s product.",
                         line=line, name=name, product=elsewhere[name])
        else:
            message = _l("Line %(line)s: no device named “%(name)s” in this product.", line=line, name=name)
        unknown.append(csvnames.Problem(line, message))
    check.device_ids = [by_name[n] for n in result.names if n in by_name]
    return unknown


def validate_options(timeout: int | None, push_rate: int | None) -> dict[str, list]:
    """Return field errors for the task options (empty when they are fine)."""
    errors: dict[str, list] = {}
    if timeout is None or not TIMEOUT_MIN <= timeout <= TIMEOUT_MAX:
        errors["timeout"] = [_l("Enter a timeout from %(min)s to %(max)s seconds.", min=TIMEOUT_MIN, max=TIMEOUT_MAX)]
    if push_rate is not None and not 1 <= push_rate <= PUSH_RATE_MAX:
        errors["push_rate"] = [_l("Enter 1 to %(max)s devices per minute, or leave it empty for no limit.", max=PUSH_RATE_MAX)]
    return errors


def save_task(firmware: Firmware, user_id: int | None, *, method: str, versions=None, scope=None,
              selection=None, csv_filename=None, override=False, timeout=TIMEOUT_DEFAULT,
              push_rate=None) -> UpgradeTask:
    """Validate and save a task as not_started, commit, then enqueue its creation job."""
    errors = validate_options(timeout, push_rate)
    if method == UpgradeTask.METHOD_VERSION:
        choices = set(source_versions(firmware))
        if not versions:
            errors["source_versions"] = [_l("Choose at least one version to upgrade from.")]
        elif set(versions) - choices:
            errors["source_versions"] = [_l("Choose versions from the list.")]
        if scope not in (UpgradeTask.SCOPE_ALL, UpgradeTask.SCOPE_SELECTED):
            errors["scope"] = [_l("Choose the upgrade scope.")]
        elif scope == UpgradeTask.SCOPE_SELECTED and not selection:
            errors["scope"] = [_l("Choose at least one device.")]
    elif method == UpgradeTask.METHOD_NAMES:
        if not selection:
            errors["csv_file"] = [_l("Upload a CSV file of DeviceNames.")]
    else:
        errors["method"] = [_l("Choose how to pick the devices.")]
    if errors:
        raise TaskRefused(errors)
    task = UpgradeTask(
        account_id=firmware.account_id, firmware_id=firmware.id, method=method,
        scope=scope if method == UpgradeTask.METHOD_VERSION else None,
        source_versions=list(versions) if method == UpgradeTask.METHOD_VERSION else None,
        selection=list(selection) if selection and (method == UpgradeTask.METHOD_NAMES or
                                                     scope == UpgradeTask.SCOPE_SELECTED) else None,
        # Printable, one path segment: a multipart filename may hold a NUL (PostgreSQL refuses it).
        csv_filename=(clean_filename(csv_filename) or None) if method == UpgradeTask.METHOD_NAMES else None,
        override=bool(override), timeout_seconds=timeout, push_rate=push_rate,
        status=TaskStatus.NOT_STARTED, created_by_id=user_id,
        # Said at once, so the page adds up (指定设备 N = devices + skipped) before creation runs.
        skipped=off_version(firmware, selection, versions) or None
        if method == UpgradeTask.METHOD_VERSION and scope == UpgradeTask.SCOPE_SELECTED else None,
    )
    db.session.add(task)
    db.session.commit()
    from ota.jobs.tasks import enqueue_create

    enqueue_create(task.id)
    return task


def off_version(firmware: Firmware, device_ids: list[int], versions: list[str]) -> list[dict]:
    """Return a skipped entry (reason not_on_version) for each chosen device not on one of versions, by name."""
    found = []
    for part in _chunks(list(device_ids)):
        found += db.session.execute(
            db.select(Device.id, Device.name).where(
                Device.id.in_(part), Device.product_id == firmware.product_id,
                or_(Device.version.is_(None), Device.version.not_in(list(versions))))
        ).all()
    return [{"device_id": d, "name": n, "reason": "not_on_version"} for d, n in sorted(found, key=lambda r: r[1])]


def target_rows(task: UpgradeTask) -> list[tuple[int, str, str | None]]:
    """Return (device_id, name, version) of every device the task names, before any skipping."""
    fw = task.firmware
    q = db.select(Device.id, Device.name, Device.version).where(Device.product_id == fw.product_id)
    if task.method == UpgradeTask.METHOD_VERSION and task.scope == UpgradeTask.SCOPE_ALL:
        return list(db.session.execute(q.where(Device.version.in_(task.source_versions or []))).all())
    rows = []
    for part in _chunks(list(task.selection or [])):
        rows += db.session.execute(q.where(Device.id.in_(part))).all()
    return rows
