"""The firmware detail page's monitoring sections (固件升级设备统计, 任务明细, 设备明细), live over /ws/firmware/<id>."""
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import redirect, render_template, request, url_for
from flask_login import current_user

from ota.access import owned_or_404
from ota.blueprints.firmware import bp
from ota.models import Firmware
from ota.services import monitoring
from ota.web import wants_fragment


@dataclass
class Monitoring:
    """Everything _monitoring.html shows for one firmware and one view."""

    firmware: Firmware
    view: monitoring.View
    stats: dict
    page: monitoring.Page

    def url(self, **changes) -> str:
        """Return the fragment URL of this section with changed view args (htmx swaps it)."""
        return url_for("firmware.monitoring", firmware_id=self.firmware.id, **self.view.args(**changes))

    def page_url(self, **changes) -> str:
        """Return the full firmware page with changed view args (plain links, no JS)."""
        return url_for("firmware.detail", firmware_id=self.firmware.id, **self.view.args(**changes))

    @property
    def ws_url(self) -> str:
        """Return the live feed of exactly this view."""
        # A path, not Werkzeug's absolute ws:// URL: the browser picks ws or wss from the page.
        full = urlsplit(url_for("live.firmware_feed", firmware_id=self.firmware.id, **self.view.args()))
        return full.path + (f"?{full.query}" if full.query else "")

    @property
    def target(self) -> str:
        return f"#fw-{self.firmware.id}-monitoring"


def load(firmware: Firmware, args, account_id: int | None = None) -> Monitoring:
    """Read the statistics and the current tab's page for firmware, as the query args choose."""
    view = monitoring.View.from_args(args)
    if view.tab == "devices":
        page = monitoring.record_page(firmware.id, view)
    else:
        page = monitoring.task_page(account_id or current_user.account_id, firmware.id, view)
    return Monitoring(firmware=firmware, view=view, stats=monitoring.device_stats(firmware.id), page=page)


@bp.app_context_processor
def _monitoring_helpers():
    # The firmware detail page includes _monitoring.html without computing its data; the
    # include calls this with the page's own query args, so both stay in step.
    return {"firmware_monitoring": lambda fw: load(fw, request.args)}


@bp.get("/firmware/<int:firmware_id>/monitoring", endpoint="monitoring")
def monitoring_section(firmware_id: int):
    """Render the monitoring sections as a fragment for htmx (tabs, filters, pages)."""
    firmware = owned_or_404(Firmware, firmware_id)
    m = load(firmware, request.args)
    # A reload or a history restore of the pushed URL gets the whole page, on the same view.
    if not wants_fragment() or request.headers.get("HX-History-Restore-Request"):
        return redirect(m.page_url())
    return render_template("firmware/_monitoring.html", firmware=firmware, m=m)
