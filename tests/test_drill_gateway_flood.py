"""Drill: flood the gateway process with garbage alongside real reports: every real report lands, the gateway stays up."""
import json
import threading
import time

import paho.mqtt.client as paho
import pytest

from ota.devicechannel import mqtt, protocol
from ota.extensions import db, get_redis
from ota.models import Device, DeviceUpgrade
from ota.services.health import GATEWAY_HEARTBEAT_KEY
from tests.devicechannel_fixtures import fleet  # noqa: F401  (fixture)
from tests.drill_fixtures import stack, until  # noqa: F401  (fixture)

REAL = 30
FLOOD_SECONDS = 4.0


def progress(state: str, version="1.2.0", percent=None, code="0") -> bytes:
    p = {"state": state, "result_code": code, "result_msg": "" if code == "0" else "time_out"}
    if percent is not None:
        p["percent"] = percent
    return json.dumps({"type": "report_progress", "report": {"progress": p, "version": version}}).encode()


def garbage(code: str, noisy: list[str]):
    """Yield (topic, payload) of every kind of bad message, forever."""
    big = b"{" + b'"x": "' + b"A" * (1024 * 1024) + b'"}'
    known = [protocol.report_topic(code, n) for n in noisy]
    kinds = [
        (known[0], b"{not json"),
        (known[1], b"\xff\xfe\x00garbage"),
        (known[2], b'[1, 2, 3]'),
        (known[0], b'{"type": 7, "report": "x"}'),
        (known[1], b'{"type": "report_progress", "report": {"progress": {"state": "downloading", "percent": []}}}'),
        (known[2], b'{"type": "report_progress", "report": {"progress": {"state": "exploding"}, "version": "1.2.0"}}'),
        (known[0], b'{"type": "report_version", "report": {"version": 120}}'),
        (known[1], json.dumps({"type": "report_version", "report": {"version": "9" * 300}}).encode()),
        # Valid-looking, but a NUL in the version (PostgreSQL refuses NUL in text).
        (known[2], json.dumps({"type": "report_version", "report": {"version": "1.0\u0000"}}).encode()),
        (known[0], b'{"type": "report_version", "report": {"version": "1.0\\ud800"}}'),  # a lone surrogate
        (known[0], progress("fail", code="1e400")),
        (known[1], progress("downloading", percent="NaN")),
        (protocol.report_topic(code, "ghost-device"), progress("downloading", percent="50")),
        (protocol.report_topic("NOSUCHPROD", "dev0000"), progress("done")),
        ("$ota/report/too/many/levels", b"{}"),
        (known[2], big),
    ]
    while True:
        yield from kinds


@pytest.mark.slow
def test_garbage_flood_alongside_real_reports(stack, fleet):
    fw = fleet.firmware("1.2.0")
    real = fleet.devices(REAL)
    noisy = fleet.devices(3, prefix="noisy")
    ups = {u.device_id: u.id for u in fleet.upgrade(real + noisy, fw)}
    gw = stack.start("gateway")
    stack.wait_gateway()

    flooder = mqtt.client(stack.mqtt_url)
    mqtt.connect(flooder)
    flooder.loop_start()
    sent = {"garbage": 0, "big": 0}
    stop = threading.Event()

    bad = garbage(fleet.code, [d.name for d in noisy])  # built here: the thread has no app context

    def flood():
        for topic, payload in bad:
            if stop.is_set():
                return
            info = flooder.publish(topic, payload, qos=0)
            sent["garbage"] += 1
            if len(payload) > 1000:
                sent["big"] += 1
                info.wait_for_publish(5)  # pace the 1 MB ones by the socket, not by memory
            elif sent["garbage"] % 500 == 0:
                time.sleep(0.005)

    thread = threading.Thread(target=flood, daemon=True)
    thread.start()
    # Real reports, each device ending in its own state: a percent, a failure, or success.
    reporter = mqtt.client(stack.mqtt_url)
    mqtt.connect(reporter)
    reporter.loop_start()
    expected = {}
    started = time.monotonic()
    for step in range(3):
        for i, d in enumerate(real):
            topic = protocol.report_topic(fleet.code, d.name)
            if step < 2:
                payload, want = progress("downloading", percent=str(10 + step * 40 + i % 7)), None
            elif i % 3 == 0:
                payload, want = progress("downloading", percent=str(60 + i)), ("upgrading", 60 + i, None)
            elif i % 3 == 1:
                payload, want = progress("fail", code="-4"), ("failed", None, "-4")
            else:
                payload, want = progress("done"), ("succeeded", 100, None)
            reporter.publish(topic, payload, qos=1).wait_for_publish(10)
            if want:
                expected[ups[d.id]] = want
        time.sleep(FLOOD_SECONDS / 3)
    stop.set()
    thread.join(10)
    flood_seconds = time.monotonic() - started

    def landed():
        got = {u.id: (u.status, u.percent if u.status != "failed" else None, u.error_detail)
               for u in db.session.execute(db.select(DeviceUpgrade).where(DeviceUpgrade.id.in_(expected))).scalars()}
        return got == expected

    until(landed, 20, "every real report applied")
    seen = db.session.execute(db.select(db.func.count()).where(
        Device.id.in_([d.id for d in real]), Device.last_seen_at.is_not(None))).scalar_one()
    assert seen == REAL
    assert gw.poll() is None, stack.log("gateway")[-3000:]
    get_redis().delete(GATEWAY_HEARTBEAT_KEY)
    until(lambda: get_redis().exists(GATEWAY_HEARTBEAT_KEY), 10, "the heartbeat after the flood")
    log = stack.log("gateway")
    assert "dropped" in log and "unknown device" in log and "failed (attempt" not in log, log[-3000:]
    print(f"\nflood: {sent['garbage']} bad messages ({sent['big']} of 1 MB) in {flood_seconds:.1f} s "
          f"alongside {3 * REAL} real reports")
    for c in (flooder, reporter):
        c.disconnect()
        c.loop_stop()
