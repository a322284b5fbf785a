"""`flask ota firmware add|list|cleanup`: the firmware actions for automation."""
from pathlib import Path

import click
from flask_babel import force_locale
from sqlalchemy import select

from ota.cli import ota_cli
from ota.extensions import db
from ota.models import Firmware, Product
from ota.services import firmware as service
from ota.services import uploads
from ota.services.storage import get_storage


@ota_cli.group("firmware")
def firmware_cli() -> None:
    """Add and list firmware."""


def _product(code: str) -> Product:
    product = db.session.execute(select(Product).filter_by(code=code.strip().upper())).scalar_one_or_none()
    if product is None:
        raise click.ClickException(f"no product with ProductId {code!r}")
    return product


@firmware_cli.command("add")
@click.option("--product", "product_code", required=True, help="The ProductId (10 characters).")
@click.option("--version", required=True, help="1-32 of letters, digits, '.', '-', '_'.")
@click.option("--name", required=True, help="1-32 characters; Chinese, letters, digits, _ - ( ) （ ）.")
@click.option("--description", default="", help="0-100 characters.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def add_cmd(product_code: str, version: str, name: str, description: str, file: Path) -> None:
    """Add FILE as firmware of a product (same rules as the console); print the new firmware id."""
    with force_locale("en"):
        product = _product(product_code)
        try:
            # Fail fast on the fields before reading a large file.
            service.check_fields(product.account_id, product.id, service.clean_text(name),
                                 service.clean_text(version), service.clean_text(description))
            with file.open("rb") as f:
                received = uploads.receive_stream(f, file.name)
            fw = service.create_firmware(product.account_id, product.id, name, version, description, received)
        except service.FirmwareError as e:
            where = f"{e.field}: " if e.field else ""
            raise click.ClickException(f"{where}{e.message}")
    click.echo(fw.id)


@firmware_cli.command("list")
@click.option("--product", "product_code", help="Only this ProductId.")
def list_cmd(product_code: str | None) -> None:
    """List firmware: id, ProductId, version, size, MD5, name (tab-separated)."""
    q = select(Firmware, Product.code).join(Product).order_by(Firmware.id)
    if product_code:
        q = q.where(Firmware.product_id == _product(product_code).id)
    for fw, code in db.session.execute(q):
        click.echo("\t".join([str(fw.id), code, fw.version, str(fw.size), fw.md5, fw.name]))


@firmware_cli.command("cleanup")
@click.option("--max-age", default=3600, show_default=True, help="Seconds a leftover must be old.")
def cleanup_cmd(max_age: int) -> None:
    """Remove unfinished uploads and stored files no firmware refers to (older than --max-age)."""
    store = get_storage()
    staged = store.cleanup_stale(max_age)
    # Files younger than max_age may belong to an upload committing right now.
    orphans = store.remove_orphans(set(db.session.execute(select(Firmware.storage_key)).scalars()), max_age)
    click.echo(f"removed {staged} unfinished upload(s) and {orphans} orphan file(s)")
