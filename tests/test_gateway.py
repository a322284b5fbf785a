"""The gateway against the real broker: every message type, every malformed variant, events, heartbeat."""
import json
import time

import pytest
import redis

from ota.extensions import db
from ota.models import Device, DeviceUpgrade
from ota.services import events
from ota.services.downloads import read_token
from ota.services.health import GATEWAY_HEARTBEAT_KEY
from tests.devicechannel_fixtures import *  # noqa: F401,F403


@pytest.fixture
def pushed(fleet, mqtt_device, gateway):
    """A device on 1.0.0 whose upgrade to 1.2.0 was pushed, connected to the broker."""
    fw = fleet.firmware("1.2.0")
    dev = fleet.devices(1)[0]
    up = fleet.upgrade([dev], fw)[0]
    return fw, dev, up, mqtt_device(fleet.code, dev.name)


def status_of(up_id):
    return db.session.get(DeviceUpgrade, up_id)


def test_report_version_is_answered_recorded_and_repushed(app, pushed):
    fw, dev, up, device = pushed
    device.version("1.0.0")
    rsp = device.receive(kind="report_version_rsp")
    assert rsp["result_code"] == 0 and isinstance(rsp["result_code"], int) and rsp["version"] == "1.0.0"
    push = device.receive(kind="update_firmware")
    assert push["version"] == "1.2.0" and push["md5sum"] == fw.md5 and push["file_size"] == fw.size
    assert isinstance(push["file_size"], int)
    token = push["url"].rsplit("/fw_", 1)[1][:-len(".bin")]
    assert read_token(token) == (fw.id, dev.id)
    row = wait_for(lambda: (d := db.session.get(Device, dev.id)).last_seen_at and d)
    assert row.version == "1.0.0"
    assert wait_for(lambda: status_of(up.id).push_count == 2)


def test_a_device_without_an_upgrade_only_gets_the_answer(fleet, mqtt_device, gateway):
    dev = fleet.devices(1)[0]
    device = mqtt_device(fleet.code, dev.name)
    device.version("1.0.7")
    assert device.receive()["type"] == "report_version_rsp"
    assert wait_for(lambda: db.session.get(Device, dev.id).version == "1.0.7")
    time.sleep(0.3)
    assert device.inbox.empty()


def test_the_whole_upgrade_through_the_broker(app, pushed):
    fw, dev, up, device = pushed
    device.progress("downloading", "1.2.0", percent="0")
    device.progress("downloading", "1.2.0", percent="37")
    assert wait_for(lambda: (r := status_of(up.id)).percent == 37 and r)
    assert (status_of(up.id).status, status_of(up.id).stage) == ("upgrading", "downloading")
    device.progress("burning", "1.2.0")
    assert wait_for(lambda: status_of(up.id).stage == "burning")
    device.progress("done", "1.2.0")
    assert wait_for(lambda: status_of(up.id).status == "succeeded")
    device.version("1.2.0")
    assert wait_for(lambda: db.session.get(Device, dev.id).version == "1.2.0")
    assert status_of(up.id).finished_at is not None


def test_fail_is_stored_with_the_result_code(pushed):
    fw, dev, up, device = pushed
    device.progress("fail", "1.2.0", code="-4")
    device.progress("fail", "1.2.0", code="-5")
    r = wait_for(lambda: (r := status_of(up.id)).status == "failed" and r)
    time.sleep(0.2)
    r = fresh(DeviceUpgrade, up.id)
    assert (r.error_code, r.error_detail) == ("device", "-4")


def test_changes_are_published_as_events(app, pushed):
    fw, dev, up, device = pushed
    sub = redis.Redis.from_url(app.config["REDIS_URL"]).pubsub()
    sub.subscribe(events.task_channel(up.task_id))
    sub.get_message(timeout=1)
    device.progress("downloading", "1.2.0", percent=12)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        msg = sub.get_message(timeout=0.5)
        if msg and msg["type"] == "message":
            assert json.loads(msg["data"]) == {"kind": "upgrades", "task": up.task_id, "ids": [up.id]}
            break
    else:
        pytest.fail("no event")
    sub.close()


def test_the_heartbeat_is_kept_while_connected(app, gateway):
    r = redis.Redis.from_url(app.config["REDIS_URL"])
    assert wait_for(lambda: r.exists(GATEWAY_HEARTBEAT_KEY))
    assert 0 < r.ttl(GATEWAY_HEARTBEAT_KEY) <= 15


BAD = {
    "not json": b"{nope",
    "a list": b"[]",
    "oversized": b'{"type": "report_version", "report": {"version": "1.0.0"}, "pad": "' + b"x" * 70_000 + b'"}',
    "unknown type": b'{"type": "report_weather", "report": {}}',
    "no report": b'{"type": "report_version"}',
    "version not a string": b'{"type": "report_version", "report": {"version": 100}}',
    "unknown state": b'{"type": "report_progress", "report": {"progress": {"state": "dancing"}, "version": "1.2.0"}}',
    "percent not a number": b'{"type": "report_progress", "report": {"progress": {"state": "downloading", '
                            b'"percent": "lots"}, "version": "1.2.0"}}',
    "percent over 100": b'{"type": "report_progress", "report": {"progress": {"state": "downloading", '
                        b'"percent": "1000"}, "version": "1.2.0"}}',
    "percent below 0": b'{"type": "report_progress", "report": {"progress": {"state": "burning", '
                       b'"percent": -5}, "version": "1.2.0"}}',
    "percent NaN": b'{"type": "report_progress", "report": {"progress": {"state": "downloading", '
                   b'"percent": NaN}, "version": "1.2.0"}}',
    "fail without code": b'{"type": "report_progress", "report": {"progress": {"state": "fail"}, "version": "1.2.0"}}',
    "binary": bytes(range(256)),
}


@pytest.mark.parametrize("name", list(BAD))
def test_malformed_messages_are_logged_dropped_and_the_gateway_lives_on(pushed, gateway, logs, name):
    fw, dev, up, device = pushed
    device.send(BAD[name])
    assert wait_for(lambda: f"dropped $ota/report/{device.code}/{device.name}:" in logs.text)
    assert gateway.stats["dropped"] >= 1
    device.progress("downloading", "1.2.0", percent=5)
    assert wait_for(lambda: status_of(up.id).percent == 5)
    assert status_of(up.id).status == "upgrading"


def test_unknown_devices_are_logged_and_dropped(fleet, mqtt_device, gateway, logs):
    ghost = mqtt_device(fleet.code, "ghost")
    ghost.version("1.0.0")
    assert wait_for(lambda: f"dropped $ota/report/{fleet.code}/ghost: unknown device" in logs.text)
    time.sleep(0.2)
    assert ghost.inbox.empty()


def test_a_cancelled_upgrade_ignores_the_device(pushed):
    fw, dev, up, device = pushed
    db.session.execute(db.update(DeviceUpgrade).where(DeviceUpgrade.id == up.id)
                       .values(status="failed", error_code="cancelled"))
    db.session.commit()
    device.progress("downloading", "1.2.0", percent=50)
    device.progress("done", "1.2.0")
    device.version("1.0.0")
    device.receive(kind="report_version_rsp")
    time.sleep(0.3)
    r = fresh(DeviceUpgrade, up.id)
    assert (r.status, r.error_code, r.percent) == ("failed", "cancelled", None)
    assert device.inbox.empty()  # no update_firmware for a cancelled upgrade


def test_reports_are_batched(fleet, mqtt_device, gateway):
    fw = fleet.firmware()
    devs = fleet.devices(50)
    ups = fleet.upgrade(devs, fw)
    sender = mqtt_device(fleet.code, "sender")
    for p in range(1, 11):
        for d in devs:
            sender.client.publish(f"$ota/report/{fleet.code}/{d.name}", json.dumps(
                {"type": "report_progress", "report": {"progress": {"state": "downloading", "percent": str(p * 10)},
                                                       "version": fw.version}}), qos=0)
    wait_for(lambda: gateway.stats["applied"] >= 500, timeout=15)
    assert gateway.stats["batches"] < 100
    percents = wait_for(lambda: (p := [status_of(u.id).percent for u in ups]) and all(x == 100 for x in p) and p)
    assert set(percents) == {100}
