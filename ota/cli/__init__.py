"""`flask ota ...`: scriptable commands for automation, one module per domain."""
from flask import Flask
from flask.cli import AppGroup

ota_cli = AppGroup("ota", help="OTA console commands (users, products, devices, firmware, tasks).")


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """Return "1 line" / "2 lines": the commands speak English, in the right number."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def register_cli(app: Flask) -> None:
    """Attach the `ota` command group and every domain's subcommands."""
    from ota.cli import users  # noqa: F401  (each module adds its commands to ota_cli)

    for name in ("products", "devices", "firmware", "tasks", "simulate"):
        try:
            __import__(f"ota.cli.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"ota.cli.{name}":
                raise
    app.cli.add_command(ota_cli)
