"""The upgrade form (固件升级): show it, swap its method fields, preview the reach, save the task."""
from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ota.access import account_id, owned_or_404
from ota.blueprints.tasks import bp
from ota.blueprints.tasks.forms import UpgradeForm
from ota.models import Firmware, UpgradeTask
from ota.services import csvnames, picker, submissions, tasks
from ota.web import wants_fragment

TEMPLATE_CSV = "\ufeffDeviceName\r\ndevice_001\r\n"  # BOM: Excel then reads UTF-8 (and Chinese) correctly


def _form(firmware: Firmware, formdata=False) -> UpgradeForm:
    kwargs = {} if formdata is False else {"formdata": formdata}  # default: the POSTed form and files
    form = UpgradeForm(firmware, account_id(), **kwargs)
    if not form.picker.data:
        form.picker.data = picker.new_token()
    if not form.submission.data:
        form.submission.data = submissions.new_token()
    return form


def _page(firmware: Firmware, form: UpgradeForm, status: int = 200):
    if wants_fragment() and request.headers.get("HX-Target") == "method-fields":
        return render_template("tasks/_method_fields.html", firmware=firmware, form=form), status
    return render_template("tasks/new.html", firmware=firmware, form=form), status


@bp.get("/firmware/<int:firmware_id>/upgrade")
def new(firmware_id: int):
    """Show the upgrade form; `?method=` / `?scope=` re-render it for that choice (htmx or not)."""
    firmware = owned_or_404(Firmware, firmware_id)
    return _page(firmware, _form(firmware, request.args if request.args else None))


@bp.post("/firmware/<int:firmware_id>/upgrade")
def create(firmware_id: int):
    """Save the task (未开始), then queue its creation; any refusal re-renders the form at its field."""
    firmware = owned_or_404(Firmware, firmware_id)
    form = _form(firmware)
    # Claimed before validating: the first post may clear the picker selection a repeat would need.
    claim = submissions.claim(account_id(), "task", form.submission.data)
    if not claim.first:
        return _already_saved(firmware, claim.result)
    task_id = None
    try:
        response, task_id = _save(firmware, form)
        return response
    finally:
        if task_id is None:  # refused (or failed): the corrected form may be sent with the same token
            submissions.release(account_id(), "task", form.submission.data)


def _already_saved(firmware: Firmware, task_id: int | None):
    """Answer a repeated post of one form: go to the task its first post saved (303), not save another."""
    if task_id is None:  # the first post is still saving
        flash(_("This form was already sent and its task is still being saved."), "info")
        return redirect(url_for("firmware.detail", firmware_id=firmware.id), code=303)
    flash(_("This form was already sent; this is the task it saved."), "info")
    return redirect(url_for("tasks.detail", task_id=task_id), code=303)


def _save(firmware: Firmware, form: UpgradeForm):
    """Validate and save the task; return the response and the saved task's id (None when refused)."""
    if not form.validate():
        return _page(firmware, form, 422), None
    by_version = form.by_version
    try:
        task = tasks.save_task(
            firmware, current_user.id, method=form.method.data,
            versions=form.source_versions.data if by_version else None,
            scope=form.scope.data if by_version else None,
            selection=form.device_ids or None,
            csv_filename=None if by_version else form.csv_file.data.filename[:255],
            override=form.override.data, timeout=form.timeout.data or tasks.TIMEOUT_DEFAULT,
            push_rate=form.push_rate.data,
        )
    except tasks.TaskRefused as e:
        for name, messages in e.errors.items():
            getattr(form, name).errors = list(messages)
        return _page(firmware, form, 422), None
    submissions.record(account_id(), "task", form.submission.data, task.id)
    if by_version and form.scope.data == UpgradeTask.SCOPE_SELECTED:
        picker.clear(account_id(), form.picker.data)
    if form.duplicates:
        flash(csvnames.repeats_notice(form.csv_problems), "info")
    flash(_("Task %(id)s saved; its device list is being created.", id=task.id), "success")
    return redirect(url_for("tasks.detail", task_id=task.id), code=303), task.id


@bp.get("/firmware/<int:firmware_id>/upgrade/preview")
def preview(firmware_id: int):
    """Say how many devices a by-version task would reach, before saving."""
    firmware = owned_or_404(Firmware, firmware_id)
    scope = request.args.get("scope", UpgradeTask.SCOPE_ALL)
    selection = picker.chosen(account_id(), request.args.get("picker")) if scope == UpgradeTask.SCOPE_SELECTED else None
    result = tasks.preview(firmware, request.args.getlist("source_versions"), scope, selection,
                           override=bool(request.args.get("override")))
    return render_template("tasks/_preview.html", p=result, scope=scope,
                           versions=request.args.getlist("source_versions"))


@bp.get("/firmware/<int:firmware_id>/upgrade/template.csv")
def csv_template(firmware_id: int):
    """Download the CSV template (UTF-8 with BOM, a DeviceName header and one example row)."""
    owned_or_404(Firmware, firmware_id)
    return Response(TEMPLATE_CSV.encode("utf-8"), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=device_names_template.csv"})


@bp.app_context_processor
def _limits():
    return {"csv_max_devices": current_app.config["CSV_MAX_DEVICES"]}
