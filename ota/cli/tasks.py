"""`flask ota task create|show`: upgrade tasks for automation (same rules as the form)."""
import click
from flask import current_app
from flask_babel import force_locale

from ota.cli import counted, ota_cli
from ota.extensions import db
from ota.models import Device, Firmware, UpgradeTask
from ota.services import tasks, upgrades


@ota_cli.group("task")
def task_cli() -> None:
    """Upgrade tasks."""


def _refuse(errors: dict) -> None:
    with force_locale("en"):
        raise click.ClickException("; ".join(f"{field}: {m}" for field, ms in errors.items() for m in ms))


@task_cli.command("create")
@click.option("--firmware", "firmware_id", type=int, required=True, help="Target firmware id.")
@click.option("--from-version", "versions", multiple=True, help="A source version (repeat for several).")
@click.option("--devices", "device_names", multiple=True, help="Only these DeviceNames (repeat, or comma-separated).")
@click.option("--csv", "csv_file", type=click.File("rb"), help="A CSV of DeviceNames (按设备名称).")
@click.option("--timeout", type=int, default=tasks.TIMEOUT_DEFAULT, show_default=True, help="Seconds without progress.")
@click.option("--push-rate", type=int, help="Devices per minute (default: unlimited).")
@click.option("--override", is_flag=True, help="Take devices out of their other unfinished tasks.")
def create_cmd(firmware_id, versions, device_names, csv_file, timeout, push_rate, override) -> None:
    """Save an upgrade task, queue its creation and print its id."""
    firmware = db.session.get(Firmware, firmware_id)
    if firmware is None:
        raise click.ClickException(f"no firmware {firmware_id}")
    if bool(versions) == bool(csv_file):
        raise click.ClickException("give either --from-version (with optional --devices) or --csv")
    names = [n.strip() for arg in device_names for n in arg.split(",") if n.strip()]
    try:
        if csv_file:
            check = tasks.check_csv(firmware, csv_file.read(), current_app.config["CSV_MAX_DEVICES"])
            if check.errors:
                _refuse({"csv": check.errors})
            for name, line in check.duplicates:
                click.echo(f"note: line {line}: {name} repeated, counted once", err=True)
            task = tasks.save_task(firmware, None, method=UpgradeTask.METHOD_NAMES, selection=check.device_ids,
                                   csv_filename=csv_file.name.rsplit("/", 1)[-1][:255], override=override,
                                   timeout=timeout, push_rate=push_rate)
        else:
            selection = None
            if names:
                found = dict(db.session.execute(db.select(Device.name, Device.id).where(
                    Device.product_id == firmware.product_id, Device.name.in_(names))).all())
                unknown = [n for n in names if n not in found]
                if unknown:
                    _refuse({"devices": [f"no device named {n} in this product" for n in unknown]})
                selection = sorted(set(found.values()))
            task = tasks.save_task(firmware, None, method=UpgradeTask.METHOD_VERSION, versions=list(versions),
                                   scope=UpgradeTask.SCOPE_SELECTED if names else UpgradeTask.SCOPE_ALL,
                                   selection=selection, override=override, timeout=timeout, push_rate=push_rate)
    except tasks.TaskRefused as e:
        _refuse(e.errors)
    click.echo(task.id)


@task_cli.command("show")
@click.argument("task_id", type=int)
def show_cmd(task_id: int) -> None:
    """Print a task's status and the count of its devices in each status."""
    task = db.session.get(UpgradeTask, task_id)
    if task is None:
        raise click.ClickException(f"no task {task_id}")
    with force_locale("en"):
        reason = f" ({tasks.failure_message(task)})" if task.failure_code else ""
    click.echo(f"task {task.id}: {task.status}{reason}")
    click.echo(f"firmware {task.firmware_id} ({task.firmware.version}), {counted(task.device_count or 0, 'device')}, "
               f"{len(task.skipped or [])} skipped")
    for status, n in upgrades.status_counts(task.id).items():
        click.echo(f"{status}: {n}")
