"""Views of the devices blueprint: products (list, create, rename) and their devices."""
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from ota.access import account_id, owned_or_404
from ota.blueprints.devices import bp
from ota.blueprints.devices.forms import DeviceForm, ImportForm, ProductForm
from ota.models import Product
from ota.services import csvnames
from ota.services import devices as device_service
from ota.services import products as product_service
from ota.web import page_arg, wants_fragment

ERRORS_SHOWN = 200  # bad CSV lines listed in the page; the count says how many more
SKIPPED_SHOWN = 20


def _go(url: str):
    """Finish a mutation: a full-page load for htmx (HX-Redirect), else 303."""
    if wants_fragment():
        return "", 200, {"HX-Redirect": url}
    return redirect(url, code=303)


def _refuse(status: int, message: str, url: str):
    """Refuse an action with a message: the error fragment for htmx (shown as a toast), else a flash."""
    if wants_fragment():
        return render_template("errors/_message.html", status=status, message=message), status
    flash(message, "error")
    return redirect(url, code=303)


@bp.get("/products")
def products():
    """List the account's products with their device counts."""
    return render_template("devices/products.html", rows=product_service.list_products(account_id()),
                           form=ProductForm())


@bp.post("/products")
def create_product():
    """Create a product with a generated ProductId."""
    form = ProductForm()
    if not form.validate_on_submit():
        if wants_fragment():
            return render_template("devices/_product_form.html", form=form), 422
        rows = product_service.list_products(account_id())
        return render_template("devices/products.html", rows=rows, form=form), 422
    product = product_service.create_product(account_id(), form.name.data)
    flash(_("Product “%(name)s” created; its ProductId is %(code)s.", name=product.name, code=product.code),
          "success")
    return _go(url_for("devices.product", product_id=product.id))


@bp.get("/products/<int:product_id>/row")
def product_row(product_id: int):
    """Return a product's table row (leaving rename)."""
    product = owned_or_404(Product, product_id)
    return render_template("devices/_product_row.html", product=product,
                           count=device_service.count_devices(product.id))


@bp.get("/products/<int:product_id>/edit")
def edit_product(product_id: int):
    """Return the row with the rename form in place."""
    product = owned_or_404(Product, product_id)
    return render_template("devices/_product_edit.html", product=product, form=ProductForm(obj=product))


@bp.post("/products/<int:product_id>/name")
def rename_product(product_id: int):
    """Rename a product; the row comes back (or the form with its error, 422)."""
    product = owned_or_404(Product, product_id)
    form = ProductForm()
    if not form.validate_on_submit():
        return render_template("devices/_product_edit.html", product=product, form=form), 422
    if not product_service.rename_product(account_id(), product.id, form.name.data):
        abort(404)
    if not wants_fragment():
        return redirect(url_for("devices.products"), code=303)
    return render_template("devices/_product_row.html", product=product,
                           count=device_service.count_devices(product.id))


def _device_page(product: Product, add_form=None, import_form=None, import_problems=None, status=200):
    """Render a product's page (or only its device table, for an htmx search or page change)."""
    q = request.args.get("q", "").strip()
    version = request.args.get("version", "").strip()
    page = device_service.page_devices(product.id, q, version, page_arg())
    context = {"product": product, "page": page, "q": q, "version": version}
    # A history restore (back button after a search) wants the whole page, not the table.
    if wants_fragment() and request.method == "GET" and not request.headers.get("HX-History-Restore-Request"):
        return render_template("devices/_device_table.html", **context)
    return render_template(
        "devices/product.html", **context, versions=device_service.versions(product.id),
        add_form=add_form or DeviceForm(product.id), import_form=import_form or ImportForm(),
        import_problems=import_problems, errors_shown=ERRORS_SHOWN,
    ), status


@bp.get("/products/<int:product_id>")
def product(product_id: int):
    """Show a product and its devices: search by DeviceName or version, 100 a page."""
    return _device_page(owned_or_404(Product, product_id))


@bp.post("/products/<int:product_id>/devices")
def add_device(product_id: int):
    """Add one device to the product."""
    product = owned_or_404(Product, product_id)
    form = DeviceForm(product.id)
    if not form.validate_on_submit():
        if wants_fragment():
            return render_template("devices/_device_add.html", product=product, add_form=form), 422
        return _device_page(product, add_form=form, status=422)
    try:
        device = device_service.add_device(product, form.name.data)
    except device_service.DeviceError as e:  # lost a race for the name
        form.name.errors.append(str(e))
        return render_template("devices/_device_add.html", product=product, add_form=form), 422
    flash(_("Device “%(name)s” added.", name=device.name), "success")
    return _go(url_for("devices.device", product_id=product.id, device_id=device.id))


@bp.post("/products/<int:product_id>/devices/import")
def import_devices(product_id: int):
    """Import DeviceNames from a CSV: every bad line reported, existing names skipped, all or nothing."""
    product = owned_or_404(Product, product_id)
    form = ImportForm()
    if not form.validate_on_submit():
        problems = csvnames.problems(form.result) if form.result and not form.result.file_error else None
        if wants_fragment():
            return render_template("devices/_device_import.html", product=product, import_form=form,
                                   import_problems=problems, errors_shown=ERRORS_SHOWN), 422
        return _device_page(product, import_form=form, import_problems=problems, status=422)
    try:
        result = device_service.import_devices(product.id, form.result.names)
    except device_service.DeviceError as e:
        return _refuse(409, str(e), url_for("devices.product", product_id=product.id))
    message = ngettext("%(num)s device imported.", "%(num)s devices imported.", result.created)
    if result.skipped:
        names = ", ".join(result.skipped[:SKIPPED_SHOWN]) + ("…" if len(result.skipped) > SKIPPED_SHOWN else "")
        message += " " + ngettext("%(num)s already existed and was skipped: %(names)s.",
                                  "%(num)s already existed and were skipped: %(names)s.",
                                  len(result.skipped), names=names)
    if form.result.duplicates:
        message += " " + csvnames.repeats_notice(csvnames.problems(form.result), SKIPPED_SHOWN)
    flash(message, "success")
    return _go(url_for("devices.product", product_id=product.id))


@bp.get("/products/devices-template.csv")
def csv_template():
    """Download the import template: a DeviceName header and two sample rows (with a BOM, for Excel)."""
    body = "\ufeffDeviceName\r\ndevice-001\r\ndevice-002\r\n"
    return body, 200, {"Content-Type": "text/csv; charset=utf-8",
                       "Content-Disposition": "attachment; filename=devices-template.csv"}


def _owned_device(product_id: int, device_id: int):
    product = owned_or_404(Product, product_id)
    device = device_service.get_device(product.id, device_id)
    if device is None:
        abort(404)
    return product, device


@bp.get("/products/<int:product_id>/devices/<int:device_id>")
def device(product_id: int, device_id: int):
    """Show a device; its secret stays hidden until asked for."""
    product, device = _owned_device(product_id, device_id)
    return render_template("devices/device.html", product=product, device=device,
                           active_task=device_service.active_upgrade_id(device.id))


@bp.get("/products/<int:product_id>/devices/<int:device_id>/secret")
def device_secret(product_id: int, device_id: int):
    """Reveal a device's secret (device makers flash it into the device); never cached."""
    product, device = _owned_device(product_id, device_id)
    template = "devices/_secret.html" if wants_fragment() else "devices/device.html"
    page = render_template(template, product=product, device=device, shown=True,
                           active_task=device_service.active_upgrade_id(device.id))
    return page, 200, {"Cache-Control": "no-store"}


@bp.post("/products/<int:product_id>/devices/<int:device_id>/delete")
def delete_device(product_id: int, device_id: int):
    """Delete a device unless an upgrade of it is unfinished."""
    product, device = _owned_device(product_id, device_id)
    name = device.name
    try:
        device_service.delete_device(device.id)
    except device_service.DeviceError as e:
        return _refuse(409, str(e), url_for("devices.device", product_id=product.id, device_id=device_id))
    flash(_("Device “%(name)s” deleted.", name=name), "success")
    return _go(url_for("devices.product", product_id=product.id))
