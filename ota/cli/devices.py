"""`flask ota device add|import`, addressed by ProductId (the 10-character code)."""
from pathlib import Path

import click

from ota.cli import counted, ota_cli
from ota.cli.products import english
from ota.services import csvnames
from ota.services import devices as device_service
from ota.services import products as product_service



@ota_cli.group("device")
def device_cli() -> None:
    """Devices: add one, import a CSV of DeviceNames."""


def _product(code: str):
    product = product_service.by_code(code)
    if product is None:
        raise click.ClickException(f"no product with ProductId {code!r}")
    return product


@device_cli.command("add")
@click.argument("product_id")
@click.argument("name")
def add_cmd(product_id: str, name: str) -> None:
    """Add one device to the product PRODUCT_ID; print the device's id."""
    try:
        device = device_service.add_device(_product(product_id), name)
    except device_service.DeviceError as e:
        raise click.ClickException(english(e.args[0]))
    click.echo(device.id)


@device_cli.command("import")
@click.argument("product_id")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_cmd(product_id: str, file: Path) -> None:
    """Import the DeviceNames of a CSV file into PRODUCT_ID; print how many were created.

    Bad lines are listed on stderr with their line numbers and nothing is imported (exit 1).
    """
    product = _product(product_id)
    result = csvnames.read_device_names(file.read_bytes(), max_bytes=None)  # no upload limit here
    if result.errors:
        for line, code, value in result.errors:
            click.echo(f"{file.name}:{line}: {english(csvnames.describe_error(code, value))}", err=True)
        raise click.ClickException(f"{counted(len(result.errors), 'bad line')}; nothing imported")
    try:
        outcome = device_service.import_devices(product.id, result.names)
    except device_service.DeviceError as e:
        raise click.ClickException(english(e.args[0]))
    for name in outcome.skipped:
        click.echo(f"skipped (exists): {name}", err=True)
    for name, line in result.duplicates:
        click.echo(f"{file.name}:{line}: repeated, ignored: {name}", err=True)
    click.echo(outcome.created)
