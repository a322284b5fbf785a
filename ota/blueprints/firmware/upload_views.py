"""添加固件: the form, the JS path (check fields, then the file as a raw body) and the no-JS fallback."""
from flask import current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from ota.access import account_id
from ota.blueprints.firmware import bp
from ota.blueprints.firmware.forms import FirmwareForm
from ota.errors import body_too_large, field_too_large_message
from ota.services import firmware as service
from ota.services import uploads
from ota.services.storage import get_storage
from ota.web import bounded_int, form_in_query

STALE_STAGING_SECONDS = 24 * 3600


def _render(form: FirmwareForm, status: int, partial: bool):
    """Return the add form, as the partial the JS swaps in or as the whole page."""
    template = "firmware/_form.html" if partial else "firmware/new.html"
    return render_template(template, form=form), status


def _attach(form: FirmwareForm, error: service.FirmwareError) -> None:
    """Show a service refusal at its field (or above the form)."""
    target = getattr(form, error.field).errors if error.field else form.form_errors
    if isinstance(target, tuple):  # WTForms keeps errors of unvalidated fields as a tuple
        target = []
        getattr(form, error.field).errors = target
    target.append(error.message)


def _create(form: FirmwareForm, upload) -> "service.Firmware":
    return service.create_firmware(
        account_id(), form.product_id(), form.name.data, form.version.data,
        form.description.data, upload, user_id=current_user.id)


@bp.get("/firmware/new")
def new():
    """Show the 添加固件 form."""
    form = FirmwareForm(account_id())
    product = bounded_int(request.args.get("product"))
    if product and service.account_product(account_id(), product):
        form.product.data = str(product)
    return render_template("firmware/new.html", form=form)


@bp.post("/firmware/new")
@uploads.streamed_upload
def create():
    """Add a firmware from a plain multipart form (the no-JS fallback)."""
    get_storage().cleanup_stale(STALE_STAGING_SECONDS)
    form = FirmwareForm(account_id())
    if form.validate():
        try:
            fw = _create(form, form.file.data.stream)
        except service.FirmwareError as e:
            _attach(form, e)
        else:
            flash(_("Firmware %(name)s %(version)s added.", name=fw.name, version=fw.version), "success")
            return redirect(url_for("firmware.detail", firmware_id=fw.id), code=303)
    return _render(form, 422, partial=False)


@bp.post("/firmware/new/check")
def check():
    """Validate the fields and the file's declared name and size before the JS sends the file."""
    declared = uploads.Declared(request.form.get("filename"), request.form.get("size", type=int))
    form = FirmwareForm(account_id(), upload=declared)
    if form.validate():
        return "", 204
    return _render(form, 422, partial=True)


@bp.put("/firmware/upload")
@form_in_query
def upload():
    """Receive the file as a raw body (fields in the query string) and add the firmware."""
    get_storage().cleanup_stale(STALE_STAGING_SECONDS)
    declared = uploads.Declared(request.args.get("filename"), request.content_length)
    form = FirmwareForm(account_id(), formdata=request.args, meta={"csrf": False}, upload=declared)
    if not form.validate():
        # Refused before a byte of the body is read: a too-large file is never written.
        too_big = (declared.size or 0) > current_app.config["FIRMWARE_MAX_BYTES"]
        return _render(form, 413 if too_big else 422, partial=True)
    received = uploads.receive_stream(request.stream, declared.filename)
    try:
        fw = _create(form, received)
    except service.FirmwareError as e:
        _attach(form, e)
        return _render(form, 413 if received.too_large else 422, partial=True)
    flash(_("Firmware %(name)s %(version)s added.", name=fw.name, version=fw.version), "success")
    return jsonify(id=fw.id, location=url_for("firmware.detail", firmware_id=fw.id)), 201


@bp.errorhandler(RequestEntityTooLarge)
def too_large(e):
    """Answer a body beyond MAX_CONTENT_LENGTH with the form and a clear message, not a bare 413."""
    if request.endpoint not in ("firmware.create", "firmware.upload"):
        message = _("The upload is larger than the 1024 MB limit.") if body_too_large() else field_too_large_message()
        return render_template("errors/page.html", status=413, message=message), 413
    raw = request.endpoint == "firmware.upload"
    # The body was never parsed: only the query string (the JS path's fields) is safe to read.
    form = FirmwareForm(account_id(), formdata=request.args if raw else None, meta={"csrf": False})
    if body_too_large():
        form.file.errors = [service.size_error(current_app.config["FIRMWARE_MAX_BYTES"] + 1)]
    else:  # a text field past MAX_FORM_MEMORY_SIZE: not the file's fault
        form.form_errors.append(field_too_large_message())
    return _render(form, 413, partial=raw)

