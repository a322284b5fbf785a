"""Devices of a product: add one, import many, search and page, reveal the secret, delete."""
import base64
import secrets
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, exists, func, select
from sqlalchemy.exc import IntegrityError

from ota.extensions import db
from ota.models import Device, DeviceUpgrade, Product, UpgradeStatus, utcnow
from ota.services.csvnames import valid_device_name

PER_PAGE = 100
NOT_REPORTED = "-"  # the version filter's value for devices that never reported one


class DeviceError(ValueError):
    """A device cannot be added or deleted; str() is the message for the user."""


def new_secret() -> str:
    """Return a device secret: base64 of 16 random bytes (24 characters)."""
    return base64.b64encode(secrets.token_bytes(16)).decode("ascii")


def check_name(name: str | None) -> str:
    """Return the stripped DeviceName, or raise DeviceError when it breaks Tencent's rule."""
    name = (name or "").strip()
    if not name:
        raise DeviceError(_l("Enter a DeviceName."))
    if not valid_device_name(name):
        raise DeviceError(_l("A DeviceName is 1–48 letters, digits, or the characters _ - . : @"))
    return name


def name_taken(product_id: int, name: str) -> bool:
    """Return whether the product already has a device with this name."""
    return db.session.execute(
        select(Device.id).where(Device.product_id == product_id, Device.name == name)
    ).first() is not None


def add_device(product: Product, name: str) -> Device:
    """Add one device with a fresh secret; DeviceError if the name is invalid or taken."""
    name = check_name(name)
    taken = DeviceError(_l("The product already has a device named “%(name)s”.", name=name))
    if name_taken(product.id, name):
        raise taken
    device = Device(product_id=product.id, name=name, secret=new_secret())
    db.session.add(device)
    try:
        db.session.commit()
    except IntegrityError:  # added by someone else since the check: the constraint decides
        db.session.rollback()
        raise taken from None
    return device


@dataclass
class ImportResult:
    """How many devices an import created, and the names it skipped because they exist."""

    created: int = 0
    skipped: list[str] = field(default_factory=list)


def _insert_missing(rows: list[dict]) -> set[str]:
    """Insert rows whose name the product lacks (one executemany); return the names inserted."""
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert
    # ON CONFLICT lets the unique constraint pick out existing names: no check-then-insert race,
    # and no IN list over a product that may hold 100,000 devices.
    stmt = (upsert(Device.__table__)
            .on_conflict_do_nothing(index_elements=["product_id", "name"])
            .returning(Device.__table__.c.name))
    return set(db.session.connection().execute(stmt, rows).scalars())


def import_devices(product_id: int, names: list[str]) -> ImportResult:
    """Create every name the product lacks in one transaction (all or nothing); skip existing ones."""
    if not names:
        return ImportResult()
    now = utcnow()
    rows = [{"product_id": product_id, "name": n, "secret": new_secret(), "created_at": now} for n in names]
    try:
        created = _insert_missing(rows)
        db.session.commit()
    except Exception:
        db.session.rollback()  # nothing half-written
        raise
    return ImportResult(created=len(created), skipped=[n for n in names if n not in created])


def escape_like(text: str) -> str:
    """Escape LIKE wildcards so a search for "a_b" finds exactly "a_b"."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def device_query(product_id: int, q: str = "", version: str = ""):
    """Return the SELECT of a product's devices matching a DeviceName search and a version, by name."""
    query = select(Device).where(Device.product_id == product_id)
    q = (q or "").strip()
    if q:
        query = query.where(Device.name.ilike(f"%{escape_like(q)}%", escape="\\"))
    version = (version or "").strip()
    if version == NOT_REPORTED:
        query = query.where(Device.version.is_(None))
    elif version:
        query = query.where(Device.version == version)
    return query.order_by(Device.name)


def page_devices(product_id: int, q: str = "", version: str = "", page: int = 1, per_page: int = PER_PAGE):
    """Return one page of the product's matching devices (a Flask-SQLAlchemy Pagination)."""
    return db.paginate(device_query(product_id, q, version), page=page, per_page=per_page,
                       error_out=False, max_per_page=per_page)


def versions(product_id: int) -> list[str]:
    """Return the distinct versions the product's devices reported, for the version filter."""
    return list(db.session.execute(
        select(Device.version).where(Device.product_id == product_id, Device.version.is_not(None))
        .distinct().order_by(Device.version)
    ).scalars())


def count_devices(product_id: int) -> int:
    """Return how many devices the product has."""
    return db.session.execute(select(func.count()).where(Device.product_id == product_id)).scalar_one()


def get_device(product_id: int, device_id: int) -> Device | None:
    """Return a device of the product, else None."""
    device = db.session.get(Device, device_id)
    return device if device is not None and device.product_id == product_id else None


def active_upgrade_id(device_id: int) -> int | None:
    """Return the task id of the device's unfinished upgrade, if it has one."""
    return db.session.execute(
        select(DeviceUpgrade.task_id).where(
            DeviceUpgrade.device_id == device_id, DeviceUpgrade.status.in_(UpgradeStatus.ACTIVE))
    ).scalar()


def delete_device(device_id: int) -> None:
    """Delete a device and its finished upgrade records; refuse while an upgrade is unfinished."""
    task_id = active_upgrade_id(device_id)
    if task_id is not None:
        raise DeviceError(_l("The device is in unfinished upgrade task %(task)s; cancel it or wait "
                             "until it ends.", task=task_id))
    db.session.execute(delete(DeviceUpgrade).where(
        DeviceUpgrade.device_id == device_id, DeviceUpgrade.status.not_in(UpgradeStatus.ACTIVE)))
    # Guarded: an upgrade created since the check keeps the device (and rolls the history back).
    result = db.session.execute(delete(Device).where(
        Device.id == device_id,
        ~exists().where(DeviceUpgrade.device_id == device_id),
    ))
    if result.rowcount != 1:
        db.session.rollback()
        raise DeviceError(_l("The device has just been added to an upgrade task; try again later."))
    db.session.commit()
