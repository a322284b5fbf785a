"""任务详情: a task's information, its counters by status and its device list (filter, search, page, export)."""
import csv
import io

from flask import Response, render_template, request
from flask_babel import gettext as _

from ota.access import owned_or_404
from ota.blueprints.tasks import bp
from ota.extensions import db
from ota.models import UpgradeStatus, UpgradeTask, User
from ota.services import tasks, upgrades
from ota.web import page_arg, when

PER_PAGE = 100


def _filters() -> tuple[str | None, str]:
    status = request.args.get("status")
    return (status if status in UpgradeStatus.ALL else None), request.args.get("q", "").strip()[:64]


@bp.get("/tasks/<int:task_id>")
def detail(task_id: int):
    """Show the task page; an htmx request for the device table gets only the table."""
    task = owned_or_404(UpgradeTask, task_id)
    status, q = _filters()
    page = db.paginate(upgrades.records_query(task.id, status, q), page=page_arg(),
                       per_page=PER_PAGE, error_out=False, count=True)
    ctx = {"task": task, "counts": upgrades.status_counts(task.id), "status_filter": status, "q": q, "page": page}
    if request.headers.get("HX-Target") == "task-devices" and request.headers.get("HX-Request"):
        return render_template("tasks/_device_table.html", **ctx)
    creator = db.session.execute(db.select(User.username).where(User.id == task.created_by_id)).scalar()
    return render_template("tasks/detail.html", creator=creator, **ctx)


# What makes a spreadsheet read a cell as a formula (OWASP "CSV injection"); a DeviceName may
# start with - or @, and a device's error text and version come from the device.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value) -> str:
    """Return value as text a spreadsheet shows as text: one starting a formula gets a leading '."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def status_detail(u) -> str:
    """Return the 状态详情 text of a record as plain text (for the CSV export)."""
    if u.status == UpgradeStatus.UPGRADING:
        stage = _("Burning") if u.stage == "burning" else _("Downloading")
        return f"{stage} {u.percent}%" if u.percent is not None else stage
    if u.status == UpgradeStatus.FAILED:
        return upgrades.error_message(u.error_code, u.error_detail)
    return ""


@bp.get("/tasks/<int:task_id>/devices.csv")
def export(task_id: int):
    """Download the device list with the current filter as CSV (UTF-8 with BOM, for Excel)."""
    task = owned_or_404(UpgradeTask, task_id)
    status, q = _filters()
    buf = io.StringIO()
    buf.write("\ufeff")
    out = csv.writer(buf, lineterminator="\r\n")
    out.writerow(["DeviceName", _("Version before"), _("Status"), _("Status detail"), _("Retries"), _("Last update")])
    for u in db.session.execute(upgrades.records_query(task.id, status, q)).scalars():
        out.writerow([spreadsheet_cell(c) for c in (u.device.name, u.from_version, UpgradeStatus.LABELS[u.status],
                                                     status_detail(u), u.retry_count, when(u.updated_at))])
    name = f"task_{task.id}_devices{'_' + status if status else ''}.csv"
    return Response(buf.getvalue().encode("utf-8"), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={name}"})


@bp.app_template_filter("upgrade_error")
def _upgrade_error(u) -> str:
    return upgrades.error_message(u.error_code, u.error_detail)


@bp.app_template_filter("task_failure")
def _task_failure(task) -> str:
    return tasks.failure_message(task)


@bp.app_template_filter("skip_reason")
def _skip_reason(item) -> str:
    return tasks.skip_message(item)
