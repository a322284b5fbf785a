"""The device picker of 指定设备: search, page, tick, select all matching, clear; selection kept in Redis."""
from flask import abort, render_template, request

from ota.access import account_id, owned_or_404
from ota.blueprints.tasks import bp
from ota.extensions import db
from ota.models import Device, Firmware
from ota.services import picker, tasks
from ota.web import page_arg


def _token() -> str:
    token = request.values.get("token", "")
    if not picker._valid(token):
        abort(400)
    return token


def _versions(firmware: Firmware) -> list[str]:
    """Return the source versions chosen in the form (?source_versions=, repeated), those offered only."""
    offered = set(tasks.source_versions(firmware))
    return list(dict.fromkeys(v for v in request.args.getlist("source_versions") if v in offered))


def _render(firmware: Firmware, token: str):
    q = request.args.get("q", "").strip()  # always in the URL (hx-params="none"); the query string is checked
    versions = _versions(firmware)
    page = db.paginate(picker.matching(firmware.product_id, q, versions), page=page_arg(),
                       per_page=picker.PAGE_SIZE, error_out=False)
    ids = [d.id for d in page.items]
    return render_template("tasks/_picker.html", firmware=firmware, token=token, q=q, page=page, versions=versions,
                           chosen=picker.which_chosen(account_id(), token, ids),
                           count=picker.count(account_id(), token))


@bp.get("/firmware/<int:firmware_id>/upgrade/picker")
def picker_list(firmware_id: int):
    """Show one page of the product's devices on the chosen source versions, filtered by name, chosen ones ticked."""
    return _render(owned_or_404(Firmware, firmware_id), _token())


@bp.post("/firmware/<int:firmware_id>/upgrade/picker/<token>/toggle/<int:device_id>")
def picker_toggle(firmware_id: int, token: str, device_id: int):
    """Tick or untick one device; answer with the new running count."""
    firmware = owned_or_404(Firmware, firmware_id)
    if not picker._valid(token):
        abort(400)
    device = db.session.get(Device, device_id)
    if device is None or device.product_id != firmware.product_id:
        abort(404)
    picker.toggle(account_id(), token, device_id)
    return render_template("tasks/_picker_count.html", token=token, count=picker.count(account_id(), token),
                           oob=True), 200, {"HX-Trigger": "picker-changed"}


@bp.post("/firmware/<int:firmware_id>/upgrade/picker/<token>/all")
def picker_all(firmware_id: int, token: str):
    """Choose every device on the chosen source versions matching the search (select all matching)."""
    firmware = owned_or_404(Firmware, firmware_id)
    if not picker._valid(token):
        abort(400)
    picker.add_matching(account_id(), token, firmware.product_id, request.args.get("q", ""), _versions(firmware))
    return _render(firmware, token), 200, {"HX-Trigger": "picker-changed"}


@bp.post("/firmware/<int:firmware_id>/upgrade/picker/<token>/clear")
def picker_clear(firmware_id: int, token: str):
    """Unchoose every device."""
    firmware = owned_or_404(Firmware, firmware_id)
    if not picker._valid(token):
        abort(400)
    picker.clear(account_id(), token)
    return _render(firmware, token), 200, {"HX-Trigger": "picker-changed"}
