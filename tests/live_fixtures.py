"""Fixtures for the live feed and monitoring tests: seeded tasks, a real threaded server, a login."""
import re
import threading
from datetime import timedelta

import pytest
import requests
from werkzeug.serving import make_server

from ota.extensions import db
from ota.models import Device, DeviceUpgrade, Firmware, TaskStatus, UpgradeStatus, UpgradeTask, utcnow


def seed_firmware(account_id: int, product, version="1.2.0", name="DoorCam-FW", user_id=None) -> Firmware:
    """Insert a firmware row directly (the file itself does not matter to these pages)."""
    fw = Firmware(
        account_id=account_id, product_id=product.id, name=name, version=version,
        filename=f"doorcam-{version}.bin", storage_key=f"key-{product.id}-{version}", size=51008,
        md5="0" * 32, sha256="0" * 64, created_by_id=user_id,
    )
    db.session.add(fw)
    db.session.commit()
    return fw


def seed_task(fw: Firmware, devices, statuses, *, user_id=None, method="version", scope="all",
              versions=("1.0.0",), csv_filename=None, status=TaskStatus.CREATED) -> UpgradeTask:
    """Insert a task with one record per device, the record statuses cycling through statuses."""
    task = UpgradeTask(
        account_id=fw.account_id, firmware_id=fw.id, method=method,
        scope=scope if method == "version" else None,
        source_versions=list(versions) if method == "version" else None,
        selection=[d.id for d in devices] if (method == "names" or scope == "selected") else None,
        csv_filename=csv_filename, status=status, device_count=len(devices), created_by_id=user_id,
    )
    db.session.add(task)
    db.session.flush()
    now = utcnow()
    for i, d in enumerate(devices):
        st = statuses[i % len(statuses)]
        u = DeviceUpgrade(task_id=task.id, device_id=d.id, firmware_id=fw.id, from_version="1.0.0",
                          status=st, updated_at=now - timedelta(seconds=i))
        if st == UpgradeStatus.UPGRADING:
            u.stage, u.percent = "downloading", 40
        if st == UpgradeStatus.FAILED:
            u.error_code, u.error_detail = "device", "-4"
        db.session.add(u)
    db.session.commit()
    return task


def seed_devices(product, n: int, prefix="cam") -> list[Device]:
    """Insert n devices named prefix-000.. on version 1.0.0."""
    devices = [Device(product_id=product.id, name=f"{prefix}-{i:03d}", secret="c2VjcmV0c2VjcmV0c2VjcmV0",
                      version="1.0.0") for i in range(n)]
    db.session.add_all(devices)
    db.session.commit()
    return devices


@pytest.fixture
def seeded(app, user, make_product):
    """Alice's firmware with two tasks: 10 records in all statuses, 3 records (by name) all pushed."""
    product = make_product(user.account_id)
    devices = seed_devices(product, 13)
    fw = seed_firmware(user.account_id, product, user_id=user.id)
    t1 = seed_task(fw, devices[:10], UpgradeStatus.ALL, user_id=user.id, versions=("1.0.0", "1.0.1"))
    t2 = seed_task(fw, devices[10:], [UpgradeStatus.PUSHED], user_id=user.id, method="names",
                   csv_filename="gray.csv")
    return {"product": product, "devices": devices, "firmware": fw, "tasks": (t1, t2), "user": user}


@pytest.fixture
def live_server(app):
    """The app served by a real threaded Werkzeug server on a free port; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


def http_login(base: str, username="alice", password="correct-horse") -> requests.Session:
    """Log in through the real form; return the session holding the cookie."""
    s = requests.Session()
    page = s.get(f"{base}/login").text
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    r = s.post(f"{base}/login", data={"username": username, "password": password, "csrf_token": token},
               allow_redirects=False)
    assert r.status_code == 303, r.text
    return s


def cookie_header(session: requests.Session) -> str:
    """Return the Cookie header a browser would send for session."""
    return "; ".join(f"{c.name}={c.value}" for c in session.cookies)
