"""The gateway under faults, on the real broker, Redis and database: nothing a device sends stops it,
and if its ingest thread ever dies the heartbeat goes and the process exits 1."""
import json
import signal
import threading
import time

import pytest
import redis

from ota.devicechannel import gateway as gateway_module
from ota.devicechannel.gateway import Gateway, run_gateway
from ota.devicechannel.reports import Report
from ota.extensions import db
from ota.models import Device, DeviceUpgrade
from ota.services.health import GATEWAY_HEARTBEAT_KEY
from tests.devicechannel_fixtures import *  # noqa: F401,F403


class Boom(BaseException):
    """What no `except Exception` catches: the ingest thread's last line of defence must notice."""


@pytest.fixture
def pushed(fleet, mqtt_device):
    """A device whose upgrade to 1.2.0 was pushed, connected to the broker."""
    fw = fleet.firmware("1.2.0")
    dev = fleet.devices(1)[0]
    up = fleet.upgrade([dev], fw)[0]
    return up, mqtt_device(fleet.code, dev.name)


def percent_of(up_id):
    return db.session.get(DeviceUpgrade, up_id).percent


def test_deeply_nested_json_is_dropped_and_the_gateway_hears_on(pushed, gateway, logs):
    """50 KB of '[' (under the 64 KB limit) is a RecursionError in json.loads, not a ValueError."""
    up, device = pushed
    device.send(b"[" * 50_000)
    assert wait_for(lambda: f"dropped $ota/report/{device.code}/{device.name}: not JSON (RecursionError" in logs.text)
    device.progress("downloading", "1.2.0", percent=7)
    assert wait_for(lambda: percent_of(up.id) == 7)
    assert all(t.is_alive() for t in gateway._threads) and not gateway.failed.is_set()


def test_a_parser_bug_on_one_message_drops_only_that_message(pushed, gateway, logs, monkeypatch):
    """Any exception while parsing (not just Malformed) is logged with its traceback; the loop goes on."""
    up, device = pushed
    real = gateway_module.parse

    def buggy(topic, payload, received=0.0):
        if payload.startswith(b"[["):
            raise RecursionError("a parser bug")
        return real(topic, payload, received)

    monkeypatch.setattr(gateway_module, "parse", buggy)
    device.send(b"[[]]")
    assert wait_for(lambda: "the parser failed on it" in logs.text)
    assert any(r.exc_info and r.exc_info[0] is RecursionError for r in logs.records)
    device.progress("downloading", "1.2.0", percent=9)
    assert wait_for(lambda: percent_of(up.id) == 9)
    assert gateway._threads[0].is_alive()


def test_an_unexpected_error_in_a_batch_is_logged_and_the_next_batch_lands(pushed, gateway, logs, monkeypatch):
    up, device = pushed
    real, calls = Gateway._apply, []

    def once_broken(self, reports):
        calls.append(len(reports))
        if len(calls) == 1:
            raise KeyError("a bug")
        return real(self, reports)

    monkeypatch.setattr(Gateway, "_apply", once_broken)
    device.progress("downloading", "1.2.0", percent=3)
    assert wait_for(lambda: "ingest: unexpected error" in logs.text)
    device.progress("downloading", "1.2.0", percent=4)
    assert wait_for(lambda: percent_of(up.id) == 4)
    assert gateway._threads[0].is_alive()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # Boom, on purpose
def test_if_the_ingest_thread_dies_the_heartbeat_goes(app):
    r = redis.Redis.from_url(app.config["REDIS_URL"])
    gw = Gateway(app, batch_seconds=0.05).start()
    try:
        assert gw.wait_ready(10)
        assert wait_for(lambda: r.get(GATEWAY_HEARTBEAT_KEY) == gw.name.encode())

        def boom():
            raise Boom()

        gw._collect = boom  # the running loop picks it up on its next round
        assert gw.failed.wait(5)
        assert wait_for(lambda: not r.exists(GATEWAY_HEARTBEAT_KEY), timeout=5)  # the banner shows now
        time.sleep(0.3)
        assert not r.exists(GATEWAY_HEARTBEAT_KEY)  # and it is not set again
        assert not any(t.is_alive() for t in gw._threads)
    finally:
        gw.stop()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # Boom, on purpose
def test_run_gateway_exits_1_when_the_ingest_thread_dies(app, monkeypatch, logs):
    """The launcher (ota.runtime.stack) restarts a role that exits; a deaf process that lives would not be."""
    def boom(self):
        raise Boom()

    monkeypatch.setattr(Gateway, "_collect", boom)
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    timer = threading.Timer(20, lambda: signal.raise_signal(signal.SIGTERM))  # never hang the suite
    timer.start()
    try:
        with pytest.raises(SystemExit) as exited:
            run_gateway(app)
    finally:
        timer.cancel()
        for s, handler in saved.items():
            signal.signal(s, handler)
    assert exited.value.code == 1
    assert "ingest thread died" in logs.text
    assert not redis.Redis.from_url(app.config["REDIS_URL"]).exists(GATEWAY_HEARTBEAT_KEY)


def _progress(state, version="1.2.0", percent=None, code="0") -> bytes:
    p = {"state": state, "result_code": code, "result_msg": ""}
    if percent is not None:
        p["percent"] = percent
    return json.dumps({"type": "report_progress", "report": {"progress": p, "version": version}}).encode()


def test_one_devices_bad_values_cost_only_its_own_report(fleet, mqtt_device, gateway, logs):
    """A 300-digit result_code (error_detail is 255 on PostgreSQL) or a formula for a version, sent
    among other devices' reports in the same batch: only the bad report is dropped."""
    fw = fleet.firmware("1.2.0")
    devs = fleet.devices(21)
    ups = fleet.upgrade(devs, fw)
    bad, good = devs[0], devs[1:]
    sender = mqtt_device(fleet.code, "sender")
    for i, d in enumerate(good):
        sender.client.publish(f"$ota/report/{fleet.code}/{d.name}", _progress("downloading", percent=i), qos=1)
        if i == 10:
            sender.client.publish(f"$ota/report/{fleet.code}/{bad.name}", _progress("fail", code="9" * 300), qos=1)
            sender.client.publish(f"$ota/report/{fleet.code}/{bad.name}", json.dumps(
                {"type": "report_version", "report": {"version": '=HYPERLINK("http://e.vil","x")'}}), qos=1)
    want = {u.id: i for i, u in enumerate(ups[1:])}
    assert wait_for(lambda: dict(db.session.execute(db.select(DeviceUpgrade.id, DeviceUpgrade.percent)
                                                    .where(DeviceUpgrade.id.in_(want)))
                                 .all()) == want)
    assert wait_for(lambda: "result_code 99999999999999999999... (300 digits) is out of range" in logs.text)
    assert wait_for(lambda: "'=HYPERLINK" in logs.text and "is not 1-32 of letters" in logs.text)
    r = fresh(DeviceUpgrade, ups[0].id)
    assert (r.status, r.error_detail) == ("pushed", None)
    assert fresh(Device, bad.id).version == "1.0.0"


@pytest.mark.parametrize("poison", ["unencodable version", "300-digit result_code"])
def test_a_report_the_database_refuses_costs_only_itself(app, fleet, mqtt_device, gateway, logs, poison):
    """Defence in depth behind parse: a report that fails the batch's transaction for its data is
    isolated (the batch is bisected) and dropped alone; every other report lands and is answered."""
    if poison == "300-digit result_code" and db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite does not enforce varchar lengths")
    fw = fleet.firmware("1.2.0")
    devs = fleet.devices(200)
    ups = fleet.upgrade(devs, fw)
    listeners = [mqtt_device(fleet.code, d.name) for d in devs[:2]]
    code, victim = fleet.code, devs[100].name
    reports = [Report(code, devs[0].name, "version", "1.0.0"), Report(code, devs[1].name, "version", "1.0.1")]
    reports += [Report(code, d.name, "progress", "1.2.0", state="downloading", percent=i % 100)
                for i, d in enumerate(devs[2:], start=2)]
    bad = (Report(code, victim, "version", "1.0\ud800") if poison == "unencodable version"
           else Report(code, victim, "progress", "1.2.0", state="fail", result_code=10**300))
    reports.insert(150, bad)  # after the victim's own good report: that one must still land
    started = time.monotonic()
    gateway._apply(reports)
    took = time.monotonic() - started
    want = {u.id: i % 100 for i, u in enumerate(ups) if i >= 2}
    got = dict(db.session.execute(db.select(DeviceUpgrade.id, DeviceUpgrade.percent)
                                  .where(DeviceUpgrade.id.in_(want))).all())
    assert got == want
    assert fresh(DeviceUpgrade, ups[100].id).status == "upgrading"
    assert [fresh(Device, d.id).version for d in devs[:2]] == ["1.0.0", "1.0.1"]
    assert fresh(Device, devs[100].id).version == "1.0.0"
    assert f"dropped $ota/report/{code}/{victim}: the database refused it" in logs.text
    for device, version in zip(listeners, ["1.0.0", "1.0.1"]):
        assert device.receive(kind="report_version_rsp")["version"] == version  # still answered
        assert device.receive(kind="update_firmware")["version"] == "1.2.0"  # and pushed again
    assert gateway.stats["dropped"] >= 1
    print(f"\n{poison}: {len(reports)} reports, 1 refused, applied in {took:.2f} s")
