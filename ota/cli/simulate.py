"""`flask ota simulate`: run a fleet of virtual devices of one product against the broker and web."""
import base64
import logging
import os
from pathlib import Path

import click
from flask import current_app
from sqlalchemy import insert, select

from ota.cli import counted, ota_cli
from ota.devicechannel.simulator import FAULTS, SimDevice, Timing, assign_faults, run_fleet, summary_line
from ota.extensions import db
from ota.models import Device, Product, utcnow
from ota.services.csvnames import read_device_names


def _secret() -> str:
    return base64.b64encode(os.urandom(16)).decode()


def load_devices(product: Product, count: int | None, names_file: Path | None, create: bool) -> list[Device]:
    """Return the product's devices to simulate: the named ones, or the first `count` (creating as asked)."""
    if names_file is not None:
        result = read_device_names(names_file.read_bytes(), max_bytes=None)
        if result.errors:
            line, code, value = result.errors[0]
            raise click.ClickException(f"{names_file}: line {line}: {code} {value}".strip())
        names = result.names
    else:
        have = db.session.execute(select(Device.name).where(Device.product_id == product.id)
                                  .order_by(Device.name).limit(count)).scalars().all()
        names = list(have) + [f"sim-{i:05d}" for i in range(count) if f"sim-{i:05d}" not in have][:count - len(have)]
    rows = {d.name: d for d in db.session.execute(
        select(Device).where(Device.product_id == product.id, Device.name.in_(names))).scalars()}
    missing = [n for n in names if n not in rows]
    if missing and not create:
        raise click.ClickException(
            f"{len(missing)} of {len(names)} devices are not in product {product.code} "
            f"(first: {missing[0]}); add --create to create them")
    if missing:
        db.session.execute(insert(Device), [{"product_id": product.id, "name": n, "secret": _secret(),
                                              "created_at": utcnow()} for n in missing])
        db.session.commit()
        click.echo(f"created {counted(len(missing), 'device')} in product {product.code}")
        rows = {d.name: d for d in db.session.execute(
            select(Device).where(Device.product_id == product.id, Device.name.in_(names))).scalars()}
    return [rows[n] for n in names]


@ota_cli.command("simulate")
@click.option("--product", "product_code", required=True, help="ProductId (10 characters) of the devices.")
@click.option("--devices", "count", type=click.IntRange(1, 20000), help="Simulate this many devices.")
@click.option("--names", "names_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A CSV/text file of DeviceNames (first column) to simulate.")
@click.option("--create", is_flag=True, help="Create the devices that are not in the product yet.")
@click.option("--version", "start_version", default="1.0.0", show_default=True, help="Version the devices run.")
@click.option("--md5-mismatch", default=0, help="Devices whose downloaded file fails the MD5 check.")
@click.option("--stall", default=0, help="Devices whose download stalls, then times out (-1).")
@click.option("--drop", default=0, help="Devices whose download connection drops halfway and resumes with Range.")
@click.option("--burn-fail", default=0, help="Devices whose burn fails halfway (-5).")
@click.option("--offline", default=0, help="Devices that never come online.")
@click.option("--rollback", default=0, help="Devices that report done, then reboot into the old version.")
@click.option("--download-seconds", default=5.0, show_default=True, help="Pace each download to last this long.")
@click.option("--burn-seconds", default=3.0, show_default=True)
@click.option("--reboot-seconds", default=2.0, show_default=True)
@click.option("--stall-seconds", default=15.0, show_default=True)
@click.option("--ramp-seconds", default=5.0, show_default=True, help="Spread the devices' connects over this time.")
@click.option("--duration", type=float, help="Stop after this many seconds.")
@click.option("--exit-when-done", is_flag=True, help="Stop when every online device has finished one upgrade.")
@click.option("--seed", type=int, help="Random seed for choosing the faulty devices.")
@click.option("--mqtt-url", help="Broker (default: the app's MQTT_URL).")
def simulate_cmd(product_code, count, names_file, create, start_version, download_seconds, burn_seconds,
                 reboot_seconds, stall_seconds, ramp_seconds, duration, exit_when_done, seed, mqtt_url, **faults):
    """Run virtual devices that report, download with Range, verify MD5, burn, reboot, report again."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if (count is None) == (names_file is None):
        raise click.UsageError("give exactly one of --devices N or --names FILE")
    product = db.session.execute(select(Product).where(Product.code == product_code)).scalar_one_or_none()
    if product is None:
        raise click.ClickException(f"no product with ProductId {product_code}")
    rows = load_devices(product, count, names_file, create)
    sims = [SimDevice(product.code, d.name, d.secret, start_version) for d in rows]
    counts = {f: faults[f.replace("-", "_")] for f in FAULTS}
    try:
        assign_faults(sims, counts, seed)
    except ValueError as e:
        raise click.UsageError(str(e))
    db.session.remove()  # the fleet needs no database; do not hold a connection for hours
    url = mqtt_url or current_app.config["MQTT_URL"]
    click.echo(f"simulating {len(sims)} devices of {product.code} on {start_version} via {url} (Ctrl-C stops)")
    timing = Timing(download=download_seconds, burn=burn_seconds, reboot=reboot_seconds, stall=stall_seconds)
    result = run_fleet(sims, url, timing, ramp=ramp_seconds, exit_when_done=exit_when_done,
                       duration=duration, printer=click.echo)
    click.echo(summary_line(sims))
    versions: dict[str, int] = {}
    for d in sims:
        versions[d.version] = versions.get(d.version, 0) + 1
    click.echo("versions now: " + ", ".join(f"{v} × {n}" for v, n in sorted(versions.items())))
    click.echo(f"{result.seconds:.1f} s wall, {result.cpu_seconds:.1f} s CPU "
               f"({100 * result.cpu_seconds / max(result.seconds, 0.001):.0f}% of one core), "
               f"peak RSS {result.max_rss_mb:.0f} MB")
    failed = [d for d in sims if d.phase == "failed"]
    for d in failed[:20]:
        click.echo(f"  {d.name}: failed ({d.fault or 'no fault injected'}): {d.error}")
    if len(failed) > 20:
        click.echo(f"  ... and {len(failed) - 20} more failed devices")
