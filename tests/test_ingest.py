"""The report parser and the batch state machine, on the real database (no broker needed)."""
import json
from datetime import timedelta

import pytest

from ota.devicechannel import ingest
from ota.devicechannel.reports import MAX_PAYLOAD, Malformed, parse
from ota.extensions import db
from ota.models import Device, DeviceUpgrade, UpgradeStatus, utcnow
from tests.devicechannel_fixtures import *  # noqa: F401,F403

T = "$ota/report/ABCDEFGHIJ/dev0000"


def progress(state, version="1.2.0", percent=None, code="0"):
    p = {"state": state, "result_code": code, "result_msg": ""}
    if percent is not None:
        p["percent"] = percent
    return json.dumps({"type": "report_progress", "report": {"progress": p, "version": version}}).encode()


def version(v):
    return json.dumps({"type": "report_version", "report": {"version": v}}).encode()


# --- parsing -------------------------------------------------------------------------------
@pytest.mark.parametrize("given,expected", [("37", 37), (37, 37), (" 40 ", 40), ("0", 0), (100, 100), ("100.0", 100),
                                            ("-0", 0), ("12.7", 12), (99.9, 99), (None, None), ("", None)])
def test_percent_as_string_or_number(given, expected):
    assert parse(T, progress("downloading", percent=given)).percent == expected


@pytest.mark.parametrize("given,reason", [("150", "outside 0-100"), (-3, "outside 0-100"), ("-5", "outside 0-100"),
                                          (1000, "outside 0-100"), (100.5, "outside 0-100"), (-0.1, "outside 0-100"),
                                          ("NaN", "not a finite number"), (float("nan"), "not a finite number"),
                                          ("inf", "not a finite number"), ("-Infinity", "not a finite number"),
                                          ("1e400", "not a finite number"), ("9" * 5000, "not a finite number"),
                                          (10**30, "outside 0-100")])
def test_a_percent_outside_0_to_100_or_not_finite_drops_the_report(given, reason):
    """DESIGN.md: percent is 0-100; a device saying -5 or 1000 is broken, and clamping would show 1000 as done."""
    with pytest.raises(Malformed, match=reason):
        parse(T, progress("downloading", percent=given))
    with pytest.raises(Malformed, match=reason):
        parse(T, progress("burning", percent=given))


def test_the_sdks_spaced_json_parses():
    raw = b'{"type": "report_progress", "report": {"progress": {"state": "fail", "result_code": "-4", ' \
          b'"result_msg": "time_out"}, "version": "1.2.0"}}'
    r = parse(T, raw)
    assert (r.kind, r.state, r.result_code, r.version, r.device) == ("progress", "fail", -4, "1.2.0", "dev0000")


@pytest.mark.parametrize("payload,reason", [
    (b"not json", "not JSON"),
    (b"[1, 2]", "not a JSON object"),
    (b'{"type": "report_version"}', "no report object"),
    (b'{"type": "report_version", "report": {"version": 3}}', "version"),
    (b'{"type": "report_version", "report": {"version": ""}}', "version"),
    (b'{"type": "hello", "report": {}}', "unknown type"),
    (b'{"type": "report_progress", "report": {"progress": "x", "version": "1"}}', "progress object"),
    (progress("exploding"), "unknown progress state"),
    (progress("downloading", percent="abc"), "not a number"),
    (progress("downloading", percent=True), "boolean"),
    (progress("downloading", percent=[1]), "type list"),
    (progress("fail", code=""), "fail without result_code"),
    (progress("fail", code="bad"), "not a number"),
    (b"\xff\xfe", "not JSON"),
    (b"[" * 50_000, "not JSON \\(RecursionError"),  # under MAX_PAYLOAD, too deep for json.loads
    (b" " * (MAX_PAYLOAD + 1), "over"),
    (b'{"type": "report_version", "report": {"version": "1.0\\u0000"}}', "unprintable"),
    (b'{"type": "report_version", "report": {"version": "1.0\\ud800"}}', "unprintable"),
    (progress("done", version="1.2\n0"), "unprintable"),
    # DESIGN.md section 5: 1-32 of letters, digits, '.', '-', '_' (also no CSV formula in an export).
    (version('=HYPERLINK("http://e.vil","x")'), "is not 1-32 of letters"),
    (version("@SUM(1+1)"), "is not 1-32 of letters"),
    (version("1.0 beta"), "is not 1-32 of letters"),
    (version("1.0+build7"), "is not 1-32 of letters"),
    (version("版本1"), "is not 1-32 of letters"),
    (version("1" * 33), "1-32 characters"),
    (progress("downloading", version="=1+1", percent=5), "is not 1-32 of letters"),
    # result_code is stored as text in error_detail (255): a 32-bit int, as the SDK sends.
    (progress("fail", code="9" * 300), r"\(300 digits\) is out of range"),
    (progress("fail", code=str(2**31)), "result_code 2147483648 is out of range"),
    (progress("fail", code=-2**31 - 1), "out of range"),
    (progress("fail", code="1e15"), "out of range|not a number|type"),
])
def test_malformed_reports_say_why(payload, reason):
    with pytest.raises(Malformed, match=reason):
        parse(T, payload)


@pytest.mark.parametrize("given,expected", [("V1.2.3-rc_1", "V1.2.3-rc_1"), (" 1.0.0 ", "1.0.0"), ("a" * 32, "a" * 32)])
def test_versions_by_the_consoles_rule_are_accepted(given, expected):
    assert parse(T, version(given)).version == expected


@pytest.mark.parametrize("code", [-2**31, 2**31 - 1, "-4", " 0 "])
def test_result_codes_within_32_bits_are_accepted(code):
    assert parse(T, progress("fail", code=code)).result_code == int(code)


def test_a_topic_that_is_not_a_report_is_refused():
    with pytest.raises(Malformed, match="not a report topic"):
        parse("$ota/update/ABCDEFGHIJ/dev0000", version("1.0.0"))


# --- the state machine, batch by batch ------------------------------------------------------
@pytest.fixture
def one(fleet):
    """One device on 1.0.0 with a pushed upgrade to 1.2.0."""
    fw = fleet.firmware("1.2.0")
    dev = fleet.devices(1)[0]
    up = fleet.upgrade([dev], fw)[0]
    return fleet, dev, up


def run(fleet, dev, *payloads):
    topic = f"$ota/report/{fleet.code}/{dev.name}"
    out = ingest.apply([parse(topic, p) for p in payloads])
    db.session.commit()
    return out


def row(up):
    return fresh(DeviceUpgrade, up.id)


def test_report_version_records_the_version_and_answers(one):
    fleet, dev, up = one
    out = run(fleet, dev, version("1.0.1"))
    d = fresh(Device, dev.id)
    assert d.version == "1.0.1" and d.last_seen_at is not None
    assert json.loads(out.replies[0][1]) == {"type": "report_version_rsp", "result_code": 0,
                                             "result_msg": "success", "version": "1.0.1"}
    assert out.resend == [up.id] and row(up).push_count == 2 and row(up).status == "pushed"


def test_report_version_at_the_target_succeeds(one):
    fleet, dev, up = one
    out = run(fleet, dev, version("1.2.0"))
    r = row(up)
    assert r.status == UpgradeStatus.SUCCEEDED and r.finished_at and out.resend == []
    assert out.changed == [(up.task_id, up.firmware_id, up.id)]


def test_a_batch_keeps_the_latest_percent_and_every_state(one):
    fleet, dev, up = one
    run(fleet, dev, progress("downloading", percent="10"), progress("downloading", percent=40))
    r = row(up)
    assert (r.status, r.stage, r.percent) == ("upgrading", "downloading", 40) and r.last_progress_at
    run(fleet, dev, progress("burning"))
    assert (row(up).stage, row(up).percent) == ("burning", None)
    run(fleet, dev, progress("burning", percent="60"))
    assert (row(up).stage, row(up).percent) == ("burning", 60)
    run(fleet, dev, progress("done"))
    assert row(up).status == "succeeded" and row(up).finished_at


def test_done_without_burning_succeeds(one):
    fleet, dev, up = one
    run(fleet, dev, progress("downloading", percent="100"), progress("done"))
    assert row(up).status == "succeeded"


def test_fail_keeps_the_first_result_code(one):
    fleet, dev, up = one
    run(fleet, dev, progress("downloading", percent=30), progress("fail", code="-4"), progress("fail", code="-5"))
    r = row(up)
    assert (r.status, r.error_code, r.error_detail) == ("failed", "device", "-4") and r.finished_at
    run(fleet, dev, progress("fail", code="-5"))
    assert row(up).error_detail == "-4"


def test_progress_for_another_version_changes_nothing(one):
    fleet, dev, up = one
    out = run(fleet, dev, progress("downloading", version="9.9.9", percent=50), progress("done", version="1.1.0"))
    assert row(up).status == "pushed" and out.changed == []


@pytest.mark.parametrize("status,code", [("failed", "cancelled"), ("succeeded", None)])
def test_messages_for_a_finished_upgrade_change_nothing(one, status, code):
    fleet, dev, up = one
    db.session.execute(db.update(DeviceUpgrade).where(DeviceUpgrade.id == up.id)
                       .values(status=status, error_code=code))
    db.session.commit()
    out = run(fleet, dev, progress("downloading", percent=50), progress("done"), version("1.0.0"))
    r = row(up)
    assert (r.status, r.error_code, r.percent) == (status, code, None)
    assert out.changed == [] and out.resend == []


def test_coming_back_on_the_old_version_after_done_fails_as_a_rollback(one):
    fleet, dev, up = one
    run(fleet, dev, progress("downloading", percent=100), progress("done"))
    assert row(up).status == "succeeded"
    out = run(fleet, dev, version("1.0.0"))
    r = row(up)
    assert (r.status, r.error_code, r.error_detail) == ("failed", "rollback", "1.0.0")
    assert out.changed == [(up.task_id, up.firmware_id, up.id)]
    assert fresh(Device, dev.id).version == "1.0.0"


def test_coming_back_on_the_target_after_done_stays_succeeded(one):
    fleet, dev, up = one
    run(fleet, dev, progress("done"))
    out = run(fleet, dev, version("1.2.0"))
    assert row(up).status == "succeeded" and out.changed == []


def test_an_old_success_is_not_revisited(one):
    """Past the task's timeout a later version report is another story (a later downgrade, say)."""
    fleet, dev, up = one
    run(fleet, dev, progress("done"))
    db.session.execute(db.update(DeviceUpgrade).where(DeviceUpgrade.id == up.id)
                       .values(finished_at=utcnow() - timedelta(hours=2)))
    db.session.commit()
    run(fleet, dev, version("1.0.0"))
    assert row(up).status == "succeeded"


def test_pending_records_are_left_to_the_dispatcher(fleet):
    fw = fleet.firmware()
    dev = fleet.devices(1)[0]
    up = fleet.upgrade([dev], fw, status="pending")[0]
    out = run(fleet, dev, version("1.0.0"), progress("downloading", percent=5))
    assert out.resend == [] and row(up).status == "pending"


def test_a_cancel_between_read_and_write_wins(one, monkeypatch):
    """The conditional update, not the read, decides: a record cancelled mid-batch stays cancelled."""
    fleet, dev, up = one
    real = ingest._write_records

    def cancel_first(records, now, out):
        db.session.execute(db.update(DeviceUpgrade).where(DeviceUpgrade.id == up.id)
                           .values(status="failed", error_code="cancelled"))
        real(records, now, out)

    monkeypatch.setattr(ingest, "_write_records", cancel_first)
    out = run(fleet, dev, progress("done"))
    assert out.changed == [] and row(up).error_code == "cancelled"


def test_unknown_devices_are_dropped_and_logged(fleet, logs):
    out = ingest.apply([parse(f"$ota/report/{fleet.code}/ghost", version("1.0.0"))])
    assert out.dropped == 1 and out.replies == []
    assert f"$ota/report/{fleet.code}/ghost: unknown device" in logs.text


def test_many_devices_in_one_batch(fleet):
    fw = fleet.firmware()
    devs = fleet.devices(300)
    ups = fleet.upgrade(devs, fw)
    reports = [parse(f"$ota/report/{fleet.code}/{d.name}", progress("downloading", percent=i % 100))
               for i, d in enumerate(devs)]
    out = ingest.apply(reports)
    db.session.commit()
    assert len(out.changed) == 300
    percents = dict(db.session.execute(db.select(DeviceUpgrade.id, DeviceUpgrade.percent)).all())
    assert [percents[u.id] for u in ups] == [i % 100 for i in range(300)]
