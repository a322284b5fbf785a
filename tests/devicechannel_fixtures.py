"""Fixtures for the device channel: a product with firmware and devices, a running gateway, MQTT devices.

Import the fixtures into a test module with `from tests.devicechannel_fixtures import *`.
"""
import base64
import hashlib
import json
import logging
import os
import queue
import secrets
import threading
import time
from dataclasses import dataclass, field

import paho.mqtt.client as paho
import pytest

from ota.devicechannel import mqtt, protocol
from ota.devicechannel.files import save_firmware_bytes
from ota.devicechannel.gateway import Gateway
from ota.extensions import db
from ota.models import Device, DeviceUpgrade, Firmware, Product, UpgradeStatus, UpgradeTask
from ota.services import products
from ota.services.accounts import create_user

__all__ = ["fleet", "gateway", "mqtt_device", "wait_for", "Fleet", "FakeDevice", "fresh", "logs", "http_server"]


@pytest.fixture
def logs(caplog):
    """caplog, with the ota loggers back on: alembic's fileConfig() (migrations/env.py) disables
    every logger that existed before the migrations ran."""
    for name, logger in logging.root.manager.loggerDict.items():
        if name.startswith("ota") and isinstance(logger, logging.Logger):
            logger.disabled = False
    caplog.set_level(logging.INFO)
    return caplog


def wait_for(predicate, timeout: float = 10, every: float = 0.05):
    """Poll predicate until it returns something truthy; return it, or fail the test."""
    deadline = time.monotonic() + timeout
    while True:
        db.session.rollback()  # see other threads' commits (SQLite WAL snapshots)
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {getattr(predicate, '__name__', predicate)}")
        time.sleep(every)


def fresh(model, ident):
    """Re-read a row as committed by other threads."""
    db.session.rollback()
    db.session.expire_all()
    return db.session.get(model, ident)


@dataclass
class Fleet:
    """An account with one product; helpers add firmware, devices and pushed upgrades."""

    account_id: int
    product: Product
    firmwares: dict = field(default_factory=dict)

    @property
    def code(self) -> str:
        return self.product.code

    def firmware(self, version: str = "1.2.0", data: bytes | None = None) -> Firmware:
        data = data if data is not None else os.urandom(51_008)
        key = secrets.token_hex(16)
        save_firmware_bytes(key, data)
        fw = Firmware(account_id=self.account_id, product_id=self.product.id, name=f"fw{version}",
                      version=version, filename=f"fw-{version}.bin", storage_key=key, size=len(data),
                      md5=hashlib.md5(data).hexdigest(), sha256=hashlib.sha256(data).hexdigest())
        db.session.add(fw)
        db.session.commit()
        fw.data = data
        self.firmwares[version] = fw
        return fw

    def devices(self, n: int, version: str = "1.0.0", prefix: str = "dev") -> list[Device]:
        devs = [Device(product_id=self.product.id, name=f"{prefix}{i:04d}", version=version,
                       secret=base64.b64encode(os.urandom(16)).decode()) for i in range(n)]
        db.session.add_all(devs)
        db.session.commit()
        return devs

    def upgrade(self, devices, fw: Firmware, status: str = UpgradeStatus.PUSHED) -> list[DeviceUpgrade]:
        task = UpgradeTask(account_id=self.account_id, firmware_id=fw.id, method=UpgradeTask.METHOD_NAMES,
                           status="created", device_count=len(devices))
        db.session.add(task)
        db.session.flush()
        ups = [DeviceUpgrade(task_id=task.id, device_id=d.id, firmware_id=fw.id, from_version=d.version,
                             status=status, push_count=1) for d in devices]
        db.session.add_all(ups)
        db.session.commit()
        return ups


@pytest.fixture
def fleet(app):
    """An account with a product (no firmware or devices yet)."""
    user = create_user(f"ops{secrets.token_hex(3)}", "correct-horse")
    return Fleet(user.account_id, products.create_product(user.account_id, "DoorCam"))


@pytest.fixture
def gateway(app):
    """A gateway running in this process against the session's broker."""
    gw = Gateway(app, batch_seconds=0.05).start()
    assert gw.wait_ready(10), "gateway did not subscribe"
    yield gw
    gw.stop()


class FakeDevice:
    """A bare MQTT device: publish reports, read what the server sends it."""

    def __init__(self, url: str, code: str, name: str):
        self.code, self.name = code, name
        self.inbox: queue.Queue = queue.Queue()
        self.client = mqtt.client(url, client_id=f"{code}{name}")
        self.client.on_message = lambda _c, _u, m: self.inbox.put(json.loads(m.payload))
        mqtt.connect(self.client)
        self.client.loop_start()
        info = self.client.subscribe(protocol.update_topic(code, name), qos=1)
        assert info[0] == paho.MQTT_ERR_SUCCESS
        time.sleep(0.1)

    def send(self, message, qos: int = 1) -> None:
        payload = message if isinstance(message, bytes) else json.dumps(message).encode()
        self.client.publish(protocol.report_topic(self.code, self.name), payload, qos=qos).wait_for_publish(5)

    def version(self, version: str) -> None:
        self.send({"type": "report_version", "report": {"version": version}})

    def progress(self, state: str, version: str, percent=None, code="0") -> None:
        progress = {"state": state, "result_code": code, "result_msg": "" if code == "0" else "time_out"}
        if percent is not None:
            progress["percent"] = percent
        self.send({"type": "report_progress", "report": {"progress": progress, "version": version}})

    def receive(self, timeout: float = 5, kind: str | None = None) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            msg = self.inbox.get(timeout=max(0.01, deadline - time.monotonic()))
            if kind is None or msg.get("type") == kind:
                return msg

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def mqtt_device(mqtt_url):
    """Make FakeDevices; all are disconnected after the test."""
    made = []

    def make(code: str, name: str) -> FakeDevice:
        d = FakeDevice(mqtt_url, code, name)
        made.append(d)
        return d

    yield make
    for d in made:
        d.close()


@pytest.fixture
def http_server(app):
    """The app served over real HTTP in a thread; PUBLIC_BASE_URL points at it; .ranges logs Range headers."""
    from werkzeug.serving import make_server

    ranges: list = []

    def wsgi(environ, start_response):
        if environ.get("PATH_INFO", "").startswith("/fw_"):
            ranges.append(environ.get("HTTP_RANGE"))
        return app(environ, start_response)

    server = make_server("127.0.0.1", 0, wsgi, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    old = app.config["PUBLIC_BASE_URL"]
    app.config["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{server.server_port}"
    server.ranges = ranges
    yield server
    app.config["PUBLIC_BASE_URL"] = old
    server.shutdown()
    thread.join(5)
