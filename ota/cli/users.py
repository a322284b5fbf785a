"""`flask ota create-user`."""
import click

from ota.cli import ota_cli
from ota.services.accounts import UserExists, create_user


@ota_cli.command("create-user")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--account-id", type=int, help="Join an existing account instead of creating one.")
def create_user_cmd(username: str, password: str, account_id: int | None) -> None:
    """Create a console user (in a new account unless --account-id is given); print its id."""
    try:
        user = create_user(username, password, account_id=account_id)
    except UserExists:
        raise click.ClickException(f"user {username!r} already exists")
    except ValueError as e:
        raise click.ClickException(str(e))
    click.echo(user.id)
