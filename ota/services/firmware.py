"""Firmware: the console's rules (DESIGN.md section 5) and create / edit / delete.

Every rule is a function returning a message or None, shared by the web form and the CLI.
create_firmware() is the one way a firmware comes to exist, whichever path its bytes took.
"""
import logging
import re

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from ota.extensions import db
from ota.models import Account, DeviceUpgrade, Firmware, Product, TaskStatus, UpgradeStatus, UpgradeTask
from ota.services.storage import get_storage, new_key
from ota.services.uploads import Receiver

log = logging.getLogger(__name__)

NAME_MAX = 32
VERSION_MAX = 32
DESCRIPTION_MAX = 100
FILENAME_MAX = 255
# What "Chinese characters" means on the console: 〇, CJK Unified Ideographs with Extension A,
# the compatibility ideographs, and the supplementary planes' Extensions B-H and compatibility
# supplement (rare characters of people's and places' names, which input methods type).
_HAN = ("\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
        "\U00020000-\U0002ebef\U0002f800-\U0002fa1f\U00030000-\U000323af")
_NAME_FIRST = re.compile(f"[0-9A-Za-z{_HAN}]")
_NAME_CHARS = re.compile(f"[0-9A-Za-z{_HAN}_\\-()\uff08\uff09]*")
_VERSION = re.compile(r"[0-9A-Za-z._-]*")
# Longest first, so "x.tar.gz" is a gzip archive and not "x.tar" plus something.
EXTENSIONS = ((".tar.gz", "gzip"), (".tgz", "gzip"), (".gz", "gzip"), (".zip", "zip"),
              (".tar", "tar"), (".bin", "bin"))


class FirmwareError(ValueError):
    """A refused firmware action; field names the form field the message belongs at (None: the form)."""

    def __init__(self, field: str | None, message):
        super().__init__(field, message)  # the message is lazy: rendered where a locale is known
        self.field = field
        self.message = message

    def __str__(self) -> str:
        return str(self.message)


def name_error(name: str | None) -> str | None:
    """Check a firmware name: 1-32 characters, Chinese/letters/digits/_/-/parentheses, no odd start."""
    name = name or ""
    if not name:
        return _l("Enter a firmware name.")
    if len(name) > NAME_MAX:
        return _l("The firmware name may have at most %(n)s characters (this one has %(len)s).", n=NAME_MAX, len=len(name))
    if not _NAME_FIRST.fullmatch(name[0]):
        return _l("The firmware name must start with a Chinese character, a letter or a digit.")
    if not _NAME_CHARS.fullmatch(name):
        return _l("The firmware name may contain only Chinese characters, letters, digits, _, - and parentheses.")
    return None


def version_error(version: str | None) -> str | None:
    """Check a version: 1-32 of letters, digits, '.', '-', '_'."""
    version = version or ""
    if not version:
        return _l("Enter a firmware version.")
    if len(version) > VERSION_MAX:
        return _l("The version may have at most %(n)s characters.", n=VERSION_MAX)
    if not _VERSION.fullmatch(version):
        return _l("The version may contain only letters, digits, '.', '-' and '_'.")
    return None


def description_error(description: str | None) -> str | None:
    """Check a description: 0-100 characters."""
    if len(description or "") > DESCRIPTION_MAX:
        return _l("The description may have at most %(n)s characters.", n=DESCRIPTION_MAX)
    return None


def clean_text(value: str | None) -> str:
    """Trim surrounding spaces and count a line break as one character, as the browser does."""
    return (value or "").replace("\r\n", "\n").strip()


def clean_filename(filename: str | None) -> str:
    """Return the display name of an uploaded file: its last path segment, printable, <= 255 chars."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable()).strip()
    if len(name) > FILENAME_MAX:
        kind_ext = next((e for e, _k in EXTENSIONS if name.lower().endswith(e)), "")
        name = name[: FILENAME_MAX - len(kind_ext)] + name[len(name) - len(kind_ext):]
    return name


def file_kind(filename: str) -> str | None:
    """Return gzip/zip/tar/bin by the file's extension (any case), or None."""
    lower = (filename or "").lower()
    return next((kind for ext, kind in EXTENSIONS if lower.endswith(ext) and len(lower) > len(ext)), None)


def filename_error(filename: str | None) -> str | None:
    """Check that a file was chosen and its extension is one the console takes."""
    if not filename:
        return _l("Choose a firmware file.")
    if file_kind(filename) is None:
        return _l("The file must be a .bin, .tar, .gz, .tar.gz, .tgz or .zip file.")
    return None


def size_error(size: int | None) -> str | None:
    """Check a file size: not empty, at most FIRMWARE_MAX_BYTES (1024 MB)."""
    limit = current_app.config["FIRMWARE_MAX_BYTES"]
    if not size:
        return _l("The file is empty.")
    if size > limit:
        return _l("The file is larger than %(mb)s MB; firmware may be at most %(mb)s MB.", mb=limit // (1024 * 1024))
    return None


def signature_error(filename: str, head: bytes) -> str | None:
    """Check the file's first bytes against what its extension promises."""
    kind = file_kind(filename)
    ok = {
        "gzip": head[:2] == b"\x1f\x8b",
        "zip": head[:4] in (b"PK\x03\x04", b"PK\x05\x06"),
        "tar": head[257:262] == b"ustar",
        "bin": len(head) > 0,
    }.get(kind, False)
    if ok:
        return None
    labels = {"gzip": "gzip", "zip": "zip", "tar": "tar"}
    return _l("The file's content is not a %(kind)s archive, although its name says so.", kind=labels.get(kind, kind))


def limit_error(account_id: int) -> str | None:
    """Say so when the account already has FIRMWARE_LIMIT firmware (a hint; the insert decides)."""
    limit = current_app.config["FIRMWARE_LIMIT"]
    count = db.session.execute(select(Account.firmware_count).where(Account.id == account_id)).scalar()
    if (count or 0) >= limit:
        return limit_message()
    return None


def limit_message():
    """The message for the 101st firmware."""
    return _l("An account can have at most %(n)s firmware. Delete old versions before adding more.",
              n=current_app.config["FIRMWARE_LIMIT"])


def version_taken(product_id: int, version: str) -> bool:
    """Return whether the product already has this version."""
    q = select(Firmware.id).where(Firmware.product_id == product_id, Firmware.version == version)
    return db.session.execute(q).first() is not None


def version_taken_message(version: str):
    return _l("This product already has firmware version %(v)s.", v=version)


def account_product(account_id: int, product_id: int | None) -> Product | None:
    """Return the account's product with this id, else None."""
    if product_id is None:
        return None
    product = db.session.get(Product, product_id)
    return product if product is not None and product.account_id == account_id else None


def check_fields(account_id: int, product_id: int | None, name: str, version: str,
                 description: str) -> None:
    """Raise FirmwareError for the first field that breaks a rule."""
    for field, msg in (("name", name_error(name)), ("version", version_error(version)),
                       ("description", description_error(description))):
        if msg:
            raise FirmwareError(field, msg)
    product = account_product(account_id, product_id)
    if product is None:
        raise FirmwareError("product", _l("Choose one of your products."))
    if version_taken(product.id, version):
        raise FirmwareError("version", version_taken_message(version))


def create_firmware(account_id: int, product_id: int, name: str, version: str, description: str,
                    upload: Receiver, user_id: int | None = None) -> Firmware:
    """Check every rule, then store the staged file and insert the row together, or neither.

    The account's firmware_count is raised by a conditional UPDATE in the same transaction as the
    insert, so two uploads racing at 99 end at 100; the unique (product, version) constraint
    decides two uploads of the same version.
    """
    key = new_key()
    placed = False
    try:
        name, version, description = clean_text(name), clean_text(version), clean_text(description)
        filename = clean_filename(upload.filename)
        check_fields(account_id, product_id, name, version, description)
        for msg in (filename_error(filename), size_error(upload.size),
                    signature_error(filename, upload.head)):
            if msg:
                raise FirmwareError("file", msg)
        reserved = db.session.execute(
            update(Account)
            .where(Account.id == account_id, Account.firmware_count < current_app.config["FIRMWARE_LIMIT"])
            .values(firmware_count=Account.firmware_count + 1)
        ).rowcount
        if reserved != 1:
            raise FirmwareError(None, limit_message())
        fw = Firmware(
            account_id=account_id, product_id=product_id, name=name, version=version,
            description=description, filename=filename, storage_key=key, size=upload.size,
            md5=upload.md5, sha256=upload.sha256, created_by_id=user_id,
        )
        db.session.add(fw)
        try:
            db.session.flush()
        except IntegrityError:
            db.session.rollback()
            if version_taken(product_id, version):
                raise FirmwareError("version", version_taken_message(version))
            raise
        placed = True  # from here a failure must remove the file too (a missing one is fine)
        upload.commit(key)
        db.session.commit()
        return fw
    except BaseException:
        db.session.rollback()
        upload.discard()
        if placed:
            get_storage().delete(key)
        raise


def update_firmware(account_id: int, firmware_id: int, name: str, description: str) -> None:
    """Rename a firmware and change its description (same rules as when adding it)."""
    name, description = clean_text(name), clean_text(description)
    for field, msg in (("name", name_error(name)), ("description", description_error(description))):
        if msg:
            raise FirmwareError(field, msg)
    done = db.session.execute(
        update(Firmware).where(Firmware.id == firmware_id, Firmware.account_id == account_id)
        .values(name=name, description=description)
    ).rowcount
    db.session.commit()
    if done != 1:
        raise LookupError(firmware_id)


def blocking_task_id(firmware_id: int) -> int | None:
    """Return the id of an unfinished upgrade task of this firmware, if there is one."""
    task = db.session.execute(
        select(UpgradeTask.id).where(UpgradeTask.firmware_id == firmware_id,
                                     UpgradeTask.status.in_(TaskStatus.UNFINISHED)).limit(1)
    ).scalar()
    if task is not None:
        return task
    return db.session.execute(
        select(DeviceUpgrade.task_id).where(DeviceUpgrade.firmware_id == firmware_id,
                                            DeviceUpgrade.status.in_(UpgradeStatus.ACTIVE)).limit(1)
    ).scalar()


def task_count(firmware_id: int) -> int:
    """Return how many upgrade tasks (finished ones, when deletion is possible) target this firmware."""
    return db.session.execute(
        select(func.count()).select_from(UpgradeTask).where(UpgradeTask.firmware_id == firmware_id)
    ).scalar()


def finished_task_counts(firmware_ids: list[int]) -> dict[int, int]:
    """Return {firmware id: its finished upgrade tasks} (deleted with it): what the delete confirmation says."""
    if not firmware_ids:
        return {}
    return dict(db.session.execute(
        select(UpgradeTask.firmware_id, func.count()).where(
            UpgradeTask.firmware_id.in_(firmware_ids), UpgradeTask.status.not_in(TaskStatus.UNFINISHED))
        .group_by(UpgradeTask.firmware_id)
    ).all())


def in_use_message(task_id: int):
    return _l("Upgrade task #%(task)s to this firmware is not finished; cancel or finish it before deleting the firmware.", task=task_id)


def delete_firmware(account_id: int, firmware_id: int) -> str:
    """Delete a firmware, its finished tasks' records and its file; return its name.

    Refused while an upgrade task of it is unfinished. Finished tasks go with it: the console
    tells users to delete old versions to make room, and old versions are the ones with history.
    """
    fw = db.session.get(Firmware, firmware_id)
    if fw is None or fw.account_id != account_id:
        raise LookupError(firmware_id)
    blocker = blocking_task_id(firmware_id)
    if blocker is not None:
        raise FirmwareError(None, in_use_message(blocker))
    key, name = fw.storage_key, fw.name
    tasks = select(UpgradeTask.id).where(UpgradeTask.firmware_id == firmware_id)
    try:
        # Only finished history goes; a record that became active meanwhile keeps its task,
        # and the foreign key then refuses the firmware's delete below.
        db.session.execute(delete(DeviceUpgrade).where(
            DeviceUpgrade.task_id.in_(tasks), DeviceUpgrade.status.not_in(UpgradeStatus.ACTIVE)))
        db.session.execute(delete(UpgradeTask).where(
            UpgradeTask.firmware_id == firmware_id, UpgradeTask.status.not_in(TaskStatus.UNFINISHED)))
        gone = db.session.execute(
            delete(Firmware).where(Firmware.id == firmware_id, Firmware.account_id == account_id)
        ).rowcount
        if gone != 1:
            raise LookupError(firmware_id)
        db.session.execute(
            update(Account).where(Account.id == account_id, Account.firmware_count > 0)
            .values(firmware_count=Account.firmware_count - 1)
        )
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise FirmwareError(None, in_use_message(blocking_task_id(firmware_id) or "?"))
    except BaseException:
        db.session.rollback()
        raise
    try:
        get_storage().delete(key)
    except OSError:
        # The row is gone; a leftover file is only wasted space, removed by `flask ota firmware cleanup`.
        log.exception("could not delete the file of firmware %s (key %s)", firmware_id, key)
    return name
