"""`make demo`: the whole job, live, on real files and a real SDK device, on the embedded defaults.

Starts the console (web, worker, gateway, private Redis and Mosquitto) with a fresh database under
instance/demo/, creates product DoorCam with 200 simulated devices on 1.0.0 and one device that
runs Tencent's own SDK, uploads Debian's ath9k_htc firmware image (as 1.2.0, through the raw-body
path the page's JS uses) and the tencent-iot-device 1.0.0 sdist (as 1.1.0, through the multipart
form), runs a gray release to five hand-picked devices, then a by-CSV task for the rest, retries
the injected failures, checks every device's final status, and keeps the console up until Ctrl-C.
"""
import argparse
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from ota import create_app
from ota.devicechannel.simulator import SimDevice, Timing
from ota.extensions import db, get_redis
from ota.models import Device, DeviceUpgrade, Product
from ota.runtime import demo_inputs, services
from ota.runtime.demo_client import Console, ConsoleError
from ota.runtime.demo_devices import SdkDevice, SimFleet
from ota.runtime.demo_report import DemoFailed, failed_records, firmware_lines, summary, wait_task, wait_versions
from ota.runtime.stack import ROOT, Stack
from ota.services.health import GATEWAY_HEARTBEAT_KEY

DEMO_DIR = ROOT / "instance" / "demo"
CACHE = ROOT / "instance" / "cache"
SIMULATED = 200
GRAY = ("doorcam-007", "doorcam-042", "doorcam-099", "doorcam-123", "doorcam-186")
SDK_NAME = "doorcam-sdk"
# Injected faults (outside the gray release): two failures the demo retries once the device is
# "repaired", and two dropped links that resume with Range on their own.
FAULTS = {"doorcam-013": "md5-mismatch", "doorcam-077": "burn-fail", "doorcam-150": "drop", "doorcam-151": "drop"}
RETRIED = [n for n, f in FAULTS.items() if f != "drop"]
TARGET, OLD = "1.2.0", "1.0.0"


class DemoStack(Stack):
    """The stack with each role's output in instance/demo/logs/ so the terminal tells the demo's story."""

    def start(self, name: str) -> None:
        logs = self.instance / "logs"
        logs.mkdir(exist_ok=True)
        with (logs / f"{name}.log").open("a") as log:
            self.children[name] = subprocess.Popen(self.roles()[name], cwd=ROOT, env=self.env, stdout=log,
                                                   stderr=subprocess.STDOUT)


def parse(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="make demo", description=__doc__.splitlines()[0])
    ap.add_argument("--exit", action="store_true", help="Stop everything when the demo is done (for tests).")
    ap.add_argument("--fast", action="store_true", help="Short device timings and no push rate (tests).")
    ap.add_argument("--port", type=int, help="Web port (default: 5000 when free, else any free port).")
    ap.add_argument("--dir", type=Path, default=DEMO_DIR,
                    help="Folder for the demo's database, files, services and logs (emptied first).")
    return ap.parse_args(argv)


def step(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def fresh_environment(folder: Path, port: int | None) -> None:
    """Point this process (and so the stack's children) at a fresh demo database and storage."""
    marker = folder / ".ota-demo"
    if folder.exists() and any(folder.iterdir()) and not marker.exists():
        raise DemoFailed(f"{folder} is not empty and not a demo folder; choose another --dir")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    marker.write_text("Made by `make demo`; emptied by each run.\n")
    os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'ota.db'}"
    os.environ["STORAGE_DIR"] = str(folder / "firmware")
    if port is None:
        port = 5000 if not services.port_open(5000) else services.free_port()
    os.environ["PORT"] = str(port)
    os.environ.pop("PUBLIC_BASE_URL", None)  # downloads must point at this web


def run(args, stack: Stack, extras: list) -> int:
    timing = Timing(download=1.0, burn=0.5, reboot=0.5) if args.fast else Timing(download=4.0, burn=3.0, reboot=2.0)
    push_rate = None if args.fast else 300  # devices per minute: the fleet upgrades in waves

    step("Fetching the real input files (cached in instance/cache/)")
    fw_file = demo_inputs.ath9k_firmware(CACHE)
    sdist = demo_inputs.sdk_sdist(CACHE)
    print(f"    {fw_file.relative_to(CACHE)}  {fw_file.stat().st_size:,} bytes  (from {demo_inputs.deb_name(CACHE)})")
    print(f"    {sdist.name}  {sdist.stat().st_size:,} bytes  (PyPI sdist)")

    step("Starting the console on the embedded defaults")
    stack.start_services()
    admin = stack.prepare()
    if admin is None:
        raise DemoFailed(f"{stack.instance} was not fresh: its database already had a user")
    stack.start_all()
    app = create_app()  # this process reads the database to follow and check the job
    ctx = app.app_context()
    ctx.push()
    deadline = time.monotonic() + 30
    while not get_redis().exists(GATEWAY_HEARTBEAT_KEY):
        if time.monotonic() > deadline:
            raise DemoFailed("the gateway did not come up in 30 s")
        time.sleep(0.2)

    def keep_alive():
        if not stack.supervise_once():
            raise DemoFailed("a console process keeps exiting")

    print(f"\n    Watch it live:  {stack.url}    sign in as  {admin[0]} / {admin[1]}")
    print(f"    (saved in {stack.instance / 'admin-credentials.txt'}; logs in {stack.instance / 'logs'})", flush=True)
    web = Console(stack.url)
    web.login(*admin)

    step(f"Creating product DoorCam with {SIMULATED} simulated devices and one Tencent-SDK device")
    product_id = web.create_product("DoorCam")
    names = [f"doorcam-{i:03d}" for i in range(1, SIMULATED + 1)]
    web.import_devices(product_id, names + [SDK_NAME])
    product = db.session.get(Product, product_id)
    secrets = dict(db.session.execute(db.select(Device.name, Device.secret).where(Device.product_id == product_id)).all())
    print(f"    ProductId {product.code}: {len(secrets)} devices  {stack.url}products/{product_id}")
    sims = [SimDevice(product.code, n, secrets[n], OLD, fault=FAULTS.get(n)) for n in names]
    fleet = SimFleet(sims, os.environ["MQTT_URL"], timing, ramp=1.0 if args.fast else 5.0)
    fleet.start()
    sdk = SdkDevice(stack.instance / "sdk-device", product.code, SDK_NAME, secrets[SDK_NAME], os.environ["MQTT_URL"],
                    OLD, wait=900, pace=1.0 if args.fast else 6.0)
    extras += [fleet, sdk]
    online = wait_versions(product_id, OLD, len(secrets), 60, keep_alive)
    print(f"    {online} of {len(secrets)} devices online and reporting {OLD}")
    if online != len(secrets):
        raise DemoFailed(f"only {online} of {len(secrets)} devices reported {OLD}; see {sdk.log_path}")

    step("Uploading the real firmware through the console's upload paths")
    fw_id = web.upload_raw(fw_file, "htc_9271-1.4.0.bin", product_id, "ath9k_htc-AR9271", TARGET,
                           f"Debian firmware-ath9k-htc: lib/firmware/ath9k_htc/{fw_file.name}")
    web.upload_form(sdist, sdist.name, product_id, "tencent-iot-device-sdk", "1.1.0",
                             "Release archive: tencent-iot-device 1.0.0 sdist from PyPI")
    for fw in firmware_lines(product_id):
        local = fw_file if fw.id == fw_id else sdist
        same = hashlib.md5(local.read_bytes()).hexdigest() == fw.md5 and local.stat().st_size == fw.size
        print(f"    {fw.version}  {fw.filename}  {fw.size:,} bytes  MD5 {fw.md5}  "
              f"{'= the file' if same else 'DIFFERS from the file'}  {stack.url}firmware/{fw.id}")
        if not same:
            raise DemoFailed(f"firmware {fw.version} was not stored byte for byte")

    step(f"Gray release: {TARGET} to five hand-picked devices (按固件版本, 指定设备)")
    ids = dict(db.session.execute(db.select(Device.name, Device.id).where(Device.product_id == product_id)).all())
    gray = web.task_by_version(fw_id, OLD, [ids[n] for n in GRAY], timeout=300)
    print(f"    task {gray}: {', '.join(GRAY)}   {stack.url}tasks/{gray}", flush=True)
    wait_task(gray, 120, keep_alive)

    rest = [SDK_NAME] + [n for n in names if n not in GRAY]
    step(f"Everyone else: {len(rest)} devices by CSV (按设备名称), the SDK device first"
         + (f", pushed at {push_rate} a minute" if push_rate else ""))
    bulk = web.task_by_names(fw_id, rest, timeout=300, push_rate=push_rate)
    print(f"    task {bulk}   {stack.url}tasks/{bulk}", flush=True)
    wait_task(bulk, 300, keep_alive)

    failed = failed_records(bulk)
    step(f"{len(failed)} devices failed as injected; repairing them and pressing 重试 on each")
    for u, name, error in failed:
        print(f"    {name}: 升级失败 {error}")
    if sorted(n for _u, n, _e in failed) != sorted(RETRIED):
        raise DemoFailed(f"expected exactly {RETRIED} to fail, got {[n for _u, n, _e in failed]}")
    for sim in sims:
        if sim.name in RETRIED:
            sim.fault = None  # the "repaired" device: its next attempt is clean
    for u, _name, _error in failed:
        web.retry(u.id)
    wait_task(bulk, 120, keep_alive)

    step("Checking every device's final status")
    code = sdk.wait(30)
    wait_versions(product_id, TARGET, len(secrets), 30, keep_alive)
    lines, problems = summary(product_id, [gray, bulk], SDK_NAME, len(secrets), TARGET)
    out = sdk.result()
    if code != 0 or not out.get("md5_ok") or out.get("version") != TARGET:
        problems.append(f"the SDK device ended with exit {code} and {out}; see {sdk.log_path}")
    else:
        lines.append(f"SDK process: {out['size']:,} bytes via Range from {out['offset']}, SDK MD5 check passed, "
                     f"report_version_rsp result_code {out['rsp'].get('result_code')!r}, now reports {out['version']}")
    resumed = {d.name: d.resumed for d in sims if d.fault == "drop"}
    lines.append("dropped links resumed with Range: " + ", ".join(f"{n} × {k}" for n, k in resumed.items()))
    lines.append("injected failures retried: " + ", ".join(
        f"{n} ({e}) -> {db.session.get(DeviceUpgrade, u.id).status}" for u, n, e in failed))
    not_done = [d.name for d in sims if d.phase != "done" or d.version != TARGET]
    if not_done or fleet.crashed:
        problems.append(f"simulated devices not done on {TARGET}: {not_done[:10]} {fleet.crashed[:3]}")
    print("\n".join("    " + ln for ln in lines))
    if problems:
        raise DemoFailed("; ".join(problems))
    print(f"\n    OK: all {len(secrets)} devices of DoorCam run {TARGET}; both tasks 升级成功 for every device.")
    return 0


def _interrupt(*_):
    raise KeyboardInterrupt  # SIGTERM stops the demo the way Ctrl-C does, children included


def main(argv: list[str] | None = None) -> int:
    """Run the demo; with --exit stop at the end, else keep the console running until Ctrl-C."""
    args = parse(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _interrupt)
    args.dir = args.dir.resolve()
    try:
        fresh_environment(args.dir, args.port)
    except DemoFailed as e:
        print(f"DEMO FAILED: {e}", file=sys.stderr)
        return 2
    stack = DemoStack(instance=args.dir)
    extras: list = []
    rc = 1
    try:
        rc = run(args, stack, extras)
        if not args.exit:
            print(f"\n    The console keeps running at {stack.url} (Ctrl-C stops everything).", flush=True)
            while stack.supervise_once():
                time.sleep(0.5)
    except KeyboardInterrupt:
        print("\n    Stopping.")
    except (DemoFailed, ConsoleError, demo_inputs.InputError, services.ServiceError, FileNotFoundError) as e:
        print(f"\nDEMO FAILED: {e}", file=sys.stderr)
        rc = 1
    finally:
        try:
            for extra in extras:
                extra.stop()
        finally:
            stack.stop()  # never leave the console's processes behind
    return rc


if __name__ == "__main__":
    sys.exit(main())
