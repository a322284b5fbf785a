"""Actions on device records: 取消 / 重试 per row, and the bulk ones per task (POST, CSRF)."""
from urllib.parse import urlsplit

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from ota.access import owned_or_404
from ota.blueprints.tasks import bp
from ota.extensions import db
from ota.models import DeviceUpgrade, UpgradeStatus, UpgradeTask
from ota.services import upgrades
from ota.web import wants_fragment


def _own_upgrade(upgrade_id: int) -> DeviceUpgrade:
    u = db.session.get(DeviceUpgrade, upgrade_id)
    if u is None or u.task.account_id != current_user.account_id:
        abort(404)
    return u


def _next(task_id: int, target: str) -> str:
    """Return target when it is a path on this site (the filtered task page), else the task page."""
    parts = urlsplit(target)
    if not (target.startswith("/") and not target.startswith("//") and not parts.scheme and not parts.netloc):
        target = url_for("tasks.detail", task_id=task_id)
    return target


def _back(task_id: int):
    target = _next(task_id, request.form.get("next", ""))
    if wants_fragment():  # a bulk action from htmx: reload the page (its counts and flash) where it was
        return "", 204, {"HX-Redirect": target}
    return redirect(target, code=303)


def _confirm(task: UpgradeTask, title: str, question: str, action: str):
    """Render the no-JS confirmation page of a cancel (htmx asks with hx-confirm instead)."""
    return render_template("tasks/confirm.html", task=task, title=title, question=question, action=action,
                           back=_next(task.id, request.args.get("next", "")))


def _refused(message: str):
    template = "errors/_message.html" if wants_fragment() else "errors/page.html"
    return render_template(template, status=409, message=message), 409


def _row_action(upgrade_id: int, action):
    u = _own_upgrade(upgrade_id)
    task_id = u.task_id
    try:
        action(u)
    except upgrades.Refused as e:
        return _refused(str(e))
    if not wants_fragment():
        return _back(task_id)
    db.session.expire_all()
    u = db.session.execute(upgrades.records_query(task_id).where(DeviceUpgrade.id == upgrade_id)).scalar_one()
    task = db.session.get(UpgradeTask, task_id)
    return (render_template("tasks/_device_row.html", u=u)
            + render_template("tasks/_counters.html", task=task, counts=upgrades.status_counts(task_id), oob=True))


@bp.post("/upgrades/<int:upgrade_id>/cancel")
def cancel(upgrade_id: int):
    """Cancel one device's upgrade (it becomes 升级失败 “已取消”)."""
    return _row_action(upgrade_id, upgrades.cancel)


@bp.get("/upgrades/<int:upgrade_id>/cancel")
def confirm_cancel(upgrade_id: int):
    """Ask before cancelling one device's upgrade (the no-JS path)."""
    u = _own_upgrade(upgrade_id)
    question = _("Cancel the upgrade of %(name)s? It ends as “Upgrade failed: Cancelled”.", name=u.device.name)
    return _confirm(u.task, _("Cancel the upgrade"), question, url_for("tasks.cancel", upgrade_id=u.id))


@bp.post("/upgrades/<int:upgrade_id>/retry")
def retry(upgrade_id: int):
    """Retry one failed device (it becomes 待推送 and is pushed again)."""
    return _row_action(upgrade_id, upgrades.retry)


@bp.get("/tasks/<int:task_id>/cancel-all")
def confirm_cancel_all(task_id: int):
    """Ask before cancelling every unfinished device of the task (the no-JS path)."""
    task = owned_or_404(UpgradeTask, task_id)
    counts = upgrades.status_counts(task.id)
    n = sum(counts[s] for s in UpgradeStatus.ACTIVE)
    question = ngettext("Cancel the %(num)s unfinished device upgrade of task #%(id)s? It ends as “Upgrade failed: Cancelled”.",
                        "Cancel the %(num)s unfinished device upgrades of task #%(id)s? They end as “Upgrade failed: Cancelled”.",
                        n, id=task.id)
    return _confirm(task, _("Cancel all unfinished"), question, url_for("tasks.cancel_all", task_id=task.id))


@bp.post("/tasks/<int:task_id>/cancel-all")
def cancel_all(task_id: int):
    """Cancel every unfinished device of the task."""
    task = owned_or_404(UpgradeTask, task_id)
    n = upgrades.cancel_all(task.id)
    flash(ngettext("%(num)s unfinished upgrade cancelled.", "%(num)s unfinished upgrades cancelled.", n),
          "success" if n else "info")
    return _back(task.id)


@bp.post("/tasks/<int:task_id>/retry-all")
def retry_all(task_id: int):
    """Retry every failed device of the task whose device is not busy elsewhere."""
    task = owned_or_404(UpgradeTask, task_id)
    try:
        n, left = upgrades.retry_all(task.id)
    except upgrades.Refused as e:
        return _refused(str(e))
    flash(ngettext("%(num)s failed upgrade retried.", "%(num)s failed upgrades retried.", n), "success" if n else "info")
    if left:
        flash(ngettext("%(num)s failed device was not retried: it is in another unfinished task.",
                       "%(num)s failed devices were not retried: each is in another unfinished task.", left), "error")
    return _back(task.id)
