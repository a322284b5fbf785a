"""The firmware detail page's monitoring sections: device statistics, its tasks, its device records."""
from dataclasses import dataclass, field

from sqlalchemy import func

from ota.extensions import db
from ota.models import Device, DeviceUpgrade, UpgradeStatus, UpgradeTask, User
from ota.web import page_arg

PER_PAGE = 20
TABS = ("tasks", "devices")


@dataclass(frozen=True)
class View:
    """What one monitoring section shows: the tab, its filter and search, and the page."""

    tab: str = "tasks"
    status: str = ""
    q: str = ""
    page: int = 1
    per_page: int = PER_PAGE

    @classmethod
    def from_args(cls, args) -> "View":
        """Read the view from query args, ignoring values that are not allowed."""
        tab = args.get("tab", "tasks")
        status = args.get("status", "")
        return cls(
            tab=tab if tab in TABS else "tasks",
            status=status if status in UpgradeStatus.ALL else "",
            q=(args.get("q") or "").strip()[:48],
            page=page_arg(args),
        )

    def args(self, **changes) -> dict:
        """Return the query args of this view (with changes), leaving out the defaults."""
        values = {"tab": self.tab, "status": self.status, "q": self.q, "page": self.page, **changes}
        defaults = {"tab": "tasks", "status": "", "q": "", "page": 1}
        return {k: v for k, v in values.items() if v != defaults[k]}


@dataclass
class Page:
    """One page of rows and where it sits in the whole list."""

    items: list
    page: int
    per_page: int
    total: int
    ids: tuple = field(default=())

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def shape(self) -> tuple:
        """What decides whether the page's rows are still the same rows (ids and total)."""
        return self.ids, self.total


def device_stats(firmware_id: int) -> dict:
    """Return {"total": n, <status>: n, ...} over every device record of the firmware (one GROUP BY)."""
    counts = dict.fromkeys(UpgradeStatus.ALL, 0)
    rows = db.session.execute(
        db.select(DeviceUpgrade.status, func.count())
        .where(DeviceUpgrade.firmware_id == firmware_id)
        .group_by(DeviceUpgrade.status)
    ).all()
    for status, n in rows:
        counts[status] = n
    counts["total"] = sum(counts[s] for s in UpgradeStatus.ALL)
    return counts


def _paged(query, count_query, view: View, id_of) -> Page:
    total = db.session.execute(count_query).scalar_one()
    pages = max(1, -(-total // view.per_page))
    page = min(view.page, pages)
    items = db.session.execute(query.limit(view.per_page).offset((page - 1) * view.per_page)).all()
    return Page(items=items, page=page, per_page=view.per_page, total=total,
                ids=tuple(id_of(r) for r in items))


def task_page(account_id: int, firmware_id: int, view: View) -> Page:
    """Return a page of the firmware's tasks (newest first) as (task, creator username) rows."""
    where = (UpgradeTask.firmware_id == firmware_id, UpgradeTask.account_id == account_id)
    query = (
        db.select(UpgradeTask, User.username)
        .outerjoin(User, User.id == UpgradeTask.created_by_id)
        .where(*where)
        .order_by(UpgradeTask.id.desc())
    )
    count = db.select(func.count()).select_from(UpgradeTask).where(*where)
    return _paged(query, count, view, lambda r: r[0].id)


def tasks_by_id(account_id: int, task_ids) -> list:
    """Return (task, creator username) rows for the given task ids of the account."""
    if not task_ids:
        return []
    return db.session.execute(
        db.select(UpgradeTask, User.username)
        .outerjoin(User, User.id == UpgradeTask.created_by_id)
        .where(UpgradeTask.id.in_(list(task_ids)), UpgradeTask.account_id == account_id)
    ).all()


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _record_filters(firmware_id: int, view: View) -> list:
    where = [DeviceUpgrade.firmware_id == firmware_id]
    if view.status:
        where.append(DeviceUpgrade.status == view.status)
    if view.q:
        where.append(Device.name.like(f"%{_escape_like(view.q)}%", escape="\\"))
    return where


def record_page(firmware_id: int, view: View) -> Page:
    """Return a page of the firmware's device records (newest first) as (record, DeviceName) rows."""
    where = _record_filters(firmware_id, view)
    query = (
        db.select(DeviceUpgrade, Device.name)
        .join(Device, Device.id == DeviceUpgrade.device_id)
        .where(*where)
        .order_by(DeviceUpgrade.id.desc())
    )
    count = db.select(func.count()).select_from(DeviceUpgrade)
    if view.q:
        count = count.join(Device, Device.id == DeviceUpgrade.device_id)
    return _paged(query, count.where(*where), view, lambda r: r[0].id)


def records_by_id(firmware_id: int, ids) -> list:
    """Return (record, DeviceName) rows for the given record ids of the firmware."""
    if not ids:
        return []
    return db.session.execute(
        db.select(DeviceUpgrade, Device.name)
        .join(Device, Device.id == DeviceUpgrade.device_id)
        .where(DeviceUpgrade.id.in_(list(ids)), DeviceUpgrade.firmware_id == firmware_id)
    ).all()
