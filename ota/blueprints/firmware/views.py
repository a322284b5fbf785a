"""固件列表, 固件详情, 编辑, 删除 and the console user's download."""
import json

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload
from werkzeug.routing import BuildError

from ota.access import account_id, owned_or_404
from ota.blueprints.firmware import bp
from ota.blueprints.firmware.forms import FirmwareInfoForm
from ota.extensions import db
from ota.models import Account, Firmware, Product
from ota.services import firmware as service
from ota.services.storage import StorageError, get_storage
from ota.web import wants_fragment

PER_PAGE = 20


def upgrade_url(firmware_id: int) -> str | None:
    """Return the 固件升级 form's URL, or None while the tasks blueprint does not offer it."""
    try:
        return url_for("tasks.new", firmware_id=firmware_id)
    except BuildError:
        return None


@bp.context_processor
def _helpers():
    return {"upgrade_url": upgrade_url}


def _products():
    return db.session.execute(
        select(Product).filter_by(account_id=account_id()).order_by(Product.name, Product.id)
    ).scalars().all()


@bp.get("/firmware")
def index():
    """List the account's firmware (固件列表), filtered by product and searched by name or version."""
    products = _products()
    q = select(Firmware).where(Firmware.account_id == account_id()).options(joinedload(Firmware.product))
    product = next((p for p in products if p.code == request.args.get("product")), None)
    if product:
        q = q.where(Firmware.product_id == product.id)
    search = (request.args.get("q") or "").strip()
    if search:
        q = q.where(or_(Firmware.name.icontains(search, autoescape=True),
                        Firmware.version.icontains(search, autoescape=True)))
    page = db.paginate(q.order_by(Firmware.created_at.desc(), Firmware.id.desc()),
                       per_page=PER_PAGE, error_out=False)
    count = db.session.get(Account, account_id()).firmware_count
    template = "firmware/_table.html" if wants_fragment() else "firmware/index.html"
    return render_template(template, page=page, products=products, product=product, search=search,
                           count=count, finished_tasks=service.finished_task_counts([fw.id for fw in page.items]))


@bp.get("/firmware/<int:firmware_id>")
def detail(firmware_id: int):
    """Show one firmware (固件详情); htmx asks for just the info card (编辑's 取消)."""
    fw = owned_or_404(Firmware, firmware_id)
    if wants_fragment():
        return render_template("firmware/_info_card.html", fw=fw)
    return render_template("firmware/detail.html", fw=fw, finished_tasks=_finished_tasks(fw.id))


@bp.route("/firmware/<int:firmware_id>/edit", methods=["GET", "POST"])
def edit(firmware_id: int):
    """Change a firmware's name and description: in place with htmx, or as a page without JS."""
    fw = owned_or_404(Firmware, firmware_id)
    form = FirmwareInfoForm(obj=fw)
    if form.validate_on_submit():
        try:
            service.update_firmware(account_id(), fw.id, form.name.data, form.description.data)
        except LookupError:
            abort(404)
        except service.FirmwareError as e:
            getattr(form, e.field).errors = [e.message]
        else:
            if wants_fragment():
                return _saved_in_place(db.session.get(Firmware, fw.id))
            flash(_("Firmware saved."), "success")
            return redirect(url_for("firmware.detail", firmware_id=fw.id), code=303)
    status = 422 if form.errors else 200
    template = "firmware/_info_form.html" if wants_fragment() else "firmware/edit.html"
    return render_template(template, fw=fw, form=form), status


def _finished_tasks(firmware_id: int) -> int:
    return service.finished_task_counts([firmware_id]).get(firmware_id, 0)


def _saved_in_place(fw: Firmware):
    """Answer a saved in-place edit: the info card, the page heading (oob: it shows the name) and a toast."""
    body = (render_template("firmware/_info_card.html", fw=fw)
            + render_template("firmware/_page_head.html", fw=fw, finished_tasks=_finished_tasks(fw.id), oob=True))
    # ASCII JSON: a header carries no Chinese as such; htmx parses it and console.js shows the toast.
    toast = json.dumps({"ota:toast": {"value": _("Firmware saved."), "kind": "success"}})
    return body, 200, {"HX-Trigger": toast}


@bp.get("/firmware/<int:firmware_id>/delete")
def confirm_delete(firmware_id: int):
    """Ask before deleting (the no-JS path; htmx asks with hx-confirm)."""
    fw = owned_or_404(Firmware, firmware_id)
    return render_template("firmware/delete.html", fw=fw, blocker=service.blocking_task_id(fw.id),
                           tasks=service.task_count(fw.id))


@bp.post("/firmware/<int:firmware_id>/delete")
def delete(firmware_id: int):
    """Delete a firmware and its file, unless an unfinished upgrade task targets it."""
    fw = owned_or_404(Firmware, firmware_id)
    try:
        name = service.delete_firmware(account_id(), fw.id)
    except LookupError:
        abort(404)
    except service.FirmwareError as e:
        if wants_fragment():
            return render_template("errors/_message.html", status=409, message=e.message), 409
        flash(e.message, "error")
        return redirect(url_for("firmware.detail", firmware_id=firmware_id), code=303)
    flash(_("Firmware %(name)s deleted.", name=name), "success")
    target = url_for("firmware.index")
    if wants_fragment():
        # A full reload: the list's counts and pages change, and the detail page is gone.
        return "", 204, {"HX-Redirect": target}
    return redirect(target, code=303)


@bp.get("/firmware/<int:firmware_id>/download")
def download(firmware_id: int):
    """Send the stored file to the console user, under its original name."""
    fw = owned_or_404(Firmware, firmware_id)
    store = get_storage()
    try:
        f, size = store.open(fw.storage_key), store.size(fw.storage_key)
    except (StorageError, OSError):
        abort(404)
    # send_file encodes a non-ASCII name as filename*=UTF-8'' with an ASCII fallback; it cannot
    # know a store's file size, so the length and Range handling are added here.
    rv = send_file(f, mimetype="application/octet-stream", as_attachment=True,
                   download_name=fw.filename, conditional=False, etag=False, max_age=0)
    rv.content_length = size
    rv.set_etag(fw.md5)
    return rv.make_conditional(request, accept_ranges=True, complete_length=size)
