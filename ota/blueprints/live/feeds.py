"""What each live page shows, rendered with the same partials the page itself includes."""
from flask import render_template
from werkzeug.datastructures import MultiDict

from ota.extensions import db
from ota.models import Firmware
from ota.services.events import firmware_channel
from ota.services.health import MESSAGES
from ota.services.live import Changes, Feed


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

    def snapshot(self) -> str:
        firmware, m = self._load()
        if firmware is None:
            return ""
        self.shape = m.page.shape
        return self._stats(firmware, m) + self._block(firmware, m)

    def render(self, changes: Changes) -> str:
        firmware, m = self._load()
        if firmware is None:
            return ""
        out = [self._stats(firmware, m)]
        if m.page.shape != self.shape:
            # Rows came, went or moved (a new task, a record leaving the filter): resend the
            # table, at most one page, exactly as a reload would show it.
            self.shape = m.page.shape
            out.append(self._block(firmware, m))
        elif m.view.tab == "devices":
            for u, device_name in m.page.items:
                if u.id in changes.upgrades:
                    out.append(render_template("firmware/_record_row.html", firmware=firmware, m=m,
                                               u=u, device_name=device_name, oob=True))
        else:
            for t, creator in m.page.items:
                if t.id in changes.tasks:
                    out.append(render_template("firmware/_task_row.html", firmware=firmware, m=m,
                                               t=t, creator=creator, oob=True))
        return "".join(out)
