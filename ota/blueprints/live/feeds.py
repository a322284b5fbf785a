"""What each live page shows, rendered with the same partials the page itself includes."""
from flask import render_template, url_for
from werkzeug.datastructures import MultiDict

from ota.extensions import db
from ota.models import DeviceUpgrade, Firmware, UpgradeStatus, UpgradeTask
from ota.services.events import firmware_channel, task_channel
from ota.services.health import MESSAGES
from ota.services.live import Changes, Feed
from ota.web import page_arg


def banner_html(codes: list[str]) -> str:
    """Return #service-banner as an out-of-band swap (empty when nothing is down)."""
    inner = render_template("_service_banner.html", service_problems=[MESSAGES[c] for c in codes])
    return f'<div id="service-banner" hx-swap-oob="true">{inner}</div>'


class PageFeed(Feed):
    """A feed that remembers which rows it last sent, to tell a changed page from changed rows."""

    def __init__(self):
        self.shape = None

    def banner(self, codes: list[str]) -> str:
        return banner_html(codes)


class FirmwareFeed(PageFeed):
    """The firmware detail page: statistics and the current tab (任务明细 or 设备明细)."""

    def __init__(self, firmware_id: int, account_id: int, args):
        super().__init__()
        self.firmware_id, self.account_id = firmware_id, account_id
        self.args = MultiDict(args)
        self.channels = [firmware_channel(firmware_id)]

    def _load(self):
        from ota.blueprints.firmware.monitoring import load

        firmware = db.session.get(Firmware, self.firmware_id)
        if firmware is None or firmware.account_id != self.account_id:
            self.done = True  # deleted while watched: nothing left to show
            return None, None
        return firmware, load(firmware, self.args, account_id=self.account_id)

    def _block(self, firmware, m) -> str:
        template = "firmware/_records_table.html" if m.view.tab == "devices" else "firmware/_task_list.html"
        return render_template(template, firmware=firmware, m=m, oob=True)

    def _stats(self, firmware, m) -> str:
        return render_template("firmware/_stats.html", firmware=firmware, m=m, oob=True)

    def snapshot(self) -> list[str]:
        firmware, m = self._load()
        if firmware is None:
            return []
        self.shape = m.page.shape
        return [self._stats(firmware, m) + self._block(firmware, m)]

    def render(self, changes: Changes) -> list[str]:
        firmware, m = self._load()
        if firmware is None:
            return []
        head = self._stats(firmware, m)
        if m.page.shape != self.shape:
            # Rows came, went or moved (a new task, a record leaving the filter): resend the
            # table, at most one page, exactly as a reload would show it.
            self.shape = m.page.shape
            return [head + self._block(firmware, m)]
        rows = []
        if m.view.tab == "devices":
            for u, device_name in m.page.items:
                if u.id in changes.upgrades:
                    rows.append(render_template("firmware/_record_row.html", firmware=firmware, m=m,
                                                u=u, device_name=device_name, oob=True))
        else:
            for t, creator in m.page.items:
                if t.id in changes.tasks:
                    rows.append(render_template("firmware/_task_row.html", firmware=firmware, m=m,
                                                t=t, creator=creator, oob=True))
        return [head, "".join(rows)]


class TaskFeed(PageFeed):
    """The task page: its status, counters and the device rows of its current filter and page."""

    MAX_ROWS = 100  # the page's own page size: one message never carries more rows than a page

    def __init__(self, task_id: int, account_id: int, args):
        super().__init__()
        self.task_id, self.account_id = task_id, account_id
        status = args.get("status")
        self.status = status if status in UpgradeStatus.ALL else None
        self.q = (args.get("q") or "").strip()[:64]
        self.page_no = page_arg(args)
        self.channels = [task_channel(task_id)]
        self.shown: set[int] = set()

    def _task(self):
        task = db.session.get(UpgradeTask, self.task_id)
        if task is None or task.account_id != self.account_id:
            self.done = True
            return None
        return task

    def _page(self):
        from ota.blueprints.tasks.detail_views import PER_PAGE
        from ota.services.upgrades import records_query

        return db.paginate(records_query(self.task_id, self.status, self.q), page=self.page_no,
                           per_page=min(PER_PAGE, self.MAX_ROWS), error_out=False, count=False)

    def _ctx(self, task) -> dict:
        back = url_for("tasks.detail", task_id=task.id, status=self.status, q=self.q or None,
                       page=self.page_no if self.page_no > 1 else None)
        return {"task": task, "status_filter": self.status, "q": self.q, "back_url": back, "oob": True}

    def _head(self, task, ctx) -> str:
        from ota.services.upgrades import status_counts

        return (render_template("tasks/_task_status.html", **ctx)
                + render_template("tasks/_counters.html", counts=status_counts(task.id), **ctx))

    def _rows(self, rows, ctx) -> str:
        return "".join(render_template("tasks/_device_row.html", u=u, **ctx) for u in rows)

    def _tbody(self, task, rows, ctx) -> str:
        return render_template("live/_task_rows.html", rows=rows, **ctx)

    def snapshot(self) -> list[str]:
        task = self._task()
        if task is None:
            return []
        ctx, rows = self._ctx(task), self._page().items
        self.shown = {u.id for u in rows}
        return [self._head(task, ctx), self._tbody(task, rows, ctx)]

    def render(self, changes: Changes) -> list[str]:
        task = self._task()
        if task is None:
            return []
        ctx, rows = self._ctx(task), self._page().items
        head = self._head(task, ctx)  # counters and status: once per flush
        ids = {u.id for u in rows}
        if ids - self.shown:
            # New rows belong on this page (records being created, a device entering the
            # filter): resend the page's rows, exactly as a reload would list them.
            self.shown = ids
            return [head, self._tbody(task, rows, ctx)]
        changed = [u for u in rows if u.id in changes.upgrades]
        # A row that left the filter stays where it is, re-rendered with its new status.
        gone = (changes.upgrades & self.shown) - ids
        if gone:
            from ota.services.upgrades import records_query

            changed += db.session.execute(records_query(self.task_id).where(DeviceUpgrade.id.in_(gone))).scalars()
        return [head, self._rows(changed, ctx)]
