"""`flask ota product create|list`."""
import click
from flask_babel import force_locale

from ota.cli import ota_cli
from ota.extensions import db
from ota.models import Account
from ota.services import products as product_service



def english(message) -> str:
    """Render a (lazy) message in English: command output is for scripts and logs."""
    with force_locale("en"):
        return str(message)


@ota_cli.group("product")
def product_cli() -> None:
    """Products: create and list."""


def resolve_account(account_id: int | None) -> int:
    """Return --account-id when given (and real), else the only account; fail clearly otherwise."""
    if account_id is not None:
        if db.session.get(Account, account_id) is None:
            raise click.ClickException(f"no account with id {account_id}")
        return account_id
    ids = db.session.execute(db.select(Account.id).limit(2)).scalars().all()
    if len(ids) == 1:
        return ids[0]
    if not ids:
        raise click.ClickException("no account yet: create a user first (flask ota create-user NAME)")
    raise click.ClickException("there are several accounts: pass --account-id N")


@product_cli.command("create")
@click.argument("name")
@click.option("--account-id", type=int, help="The account to own it (default: the only account).")
def create_cmd(name: str, account_id: int | None) -> None:
    """Create a product and print its ProductId."""
    try:
        product = product_service.create_product(resolve_account(account_id), name)
    except product_service.ProductNameError as e:
        raise click.ClickException(english(e.args[0]))
    click.echo(product.code)


@product_cli.command("list")
@click.option("--account-id", type=int, help="Only this account's products (default: every account).")
def list_cmd(account_id: int | None) -> None:
    """Print every product: ProductId, device count, account id, name (tab-separated)."""
    ids = [account_id] if account_id is not None else db.session.execute(
        db.select(Account.id).order_by(Account.id)).scalars().all()
    for acc in ids:
        for product, count in product_service.list_products(acc):
            click.echo(f"{product.code}\t{count}\t{acc}\t{product.name}")
