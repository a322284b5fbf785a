"""Parse device reports on $ota/report/{ProductId}/{DeviceName} (DESIGN.md section 4), strictly.

The real SDK sends numbers as strings and pads JSON with spaces: parse values, never compare text.
Anything that is not exactly a report we understand raises Malformed with a reason for the log.
"""
import json
import math
import re
from dataclasses import dataclass

from ota.devicechannel import protocol

MAX_PAYLOAD = 64 * 1024
MAX_VERSION = 32
STATES = ("downloading", "burning", "done", "fail")
# DESIGN.md section 5, the console's own rule for a firmware version; a device's version that breaks
# it can never be an upgrade's target, would not fit the column, and could be a CSV formula (=...).
VERSION_RE = re.compile(r"[A-Za-z0-9._-]{1,%d}" % MAX_VERSION)
RESULT_CODE_RANGE = (-2**31, 2**31 - 1)  # the SDK's int; stored as text in error_detail


class Malformed(ValueError):
    """A message that is dropped; str() is the reason logged with its topic."""


@dataclass(frozen=True)
class Report:
    """One parsed device message."""

    product: str
    device: str
    kind: str  # "version" | "progress"
    version: str  # the running version (report_version) or the target version (report_progress)
    state: str | None = None  # downloading | burning | done | fail
    percent: int | None = None  # 0..100 (a fraction is cut: 99.9 is 99)
    result_code: int | None = None
    received: float = 0.0  # time.monotonic() when the gateway got it (latency figures)


def _int(value, what: str) -> int:
    """Accept an integer given as a JSON number or a string ("37", " 37 ", 37.0)."""
    if isinstance(value, bool):
        raise Malformed(f"{what} is a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value == value and abs(value) < 1e12:
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                f = float(text)
            except ValueError:
                raise Malformed(f"{what} {value[:20]!r} is not a number") from None
            if f == f and abs(f) < 1e12:
                return int(f)
    raise Malformed(f"{what} has type {type(value).__name__}")


def _percent(value) -> int:
    """Accept a percent 0..100 as a JSON number or a string; refuse NaN, infinities and -5 or 1000."""
    if isinstance(value, bool):
        raise Malformed("percent is a boolean")
    if isinstance(value, str):
        text = value.strip()
        try:
            number = int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                raise Malformed(f"percent {value[:20]!r} is not a number") from None
    elif isinstance(value, (int, float)):
        number = value
    else:
        raise Malformed(f"percent has type {type(value).__name__}")
    # DESIGN.md: percent is 0-100. A value outside it is a broken device, not a rounding error:
    # drop the report rather than guess (clamping showed 1000 as 100, a finished download).
    if isinstance(number, float) and not math.isfinite(number):
        raise Malformed(f"percent {str(value)[:20]} is not a finite number")
    if not 0 <= number <= 100:
        raise Malformed(f"percent {str(value)[:20]} is outside 0-100")
    return int(number)


def _version(value, what: str = "version") -> str:
    if not isinstance(value, str):
        raise Malformed(f"{what} is missing or not a string")
    value = value.strip()
    if not 1 <= len(value) <= MAX_VERSION:
        raise Malformed(f"{what} must be 1-{MAX_VERSION} characters")
    if not value.isprintable():
        # A NUL (PostgreSQL refuses it in text) or a lone surrogate (cannot be encoded) would fail
        # the whole batch's transaction and so lose the other devices' reports with it.
        raise Malformed(f"{what} has unprintable characters")
    if not VERSION_RE.fullmatch(value):
        raise Malformed(f"{what} {value!r} is not 1-{MAX_VERSION} of letters, digits, '.', '-', '_'")
    return value


def parse(topic: str, payload: bytes, received: float = 0.0) -> Report:
    """Return the Report in one MQTT message, or raise Malformed saying why not."""
    where = protocol.parse_report_topic(topic)
    if where is None:
        raise Malformed("not a report topic")
    if len(payload) > MAX_PAYLOAD:
        raise Malformed(f"payload of {len(payload)} bytes is over {MAX_PAYLOAD}")
    try:
        msg = json.loads(payload)
    except Exception as e:  # noqa: BLE001 - not only ValueError: b"[" * 50000 is a RecursionError
        raise Malformed(f"not JSON ({type(e).__name__}: {str(e)[:60]})") from None
    if not isinstance(msg, dict):
        raise Malformed("not a JSON object")
    report = msg.get("report")
    if not isinstance(report, dict):
        raise Malformed("no report object")
    kind = msg.get("type")
    product, device = where
    if kind == "report_version":
        return Report(product, device, "version", _version(report.get("version")), received=received)
    if kind != "report_progress":
        raise Malformed(f"unknown type {str(kind)[:40]!r}")
    progress = report.get("progress")
    if not isinstance(progress, dict):
        raise Malformed("report_progress without a progress object")
    state = progress.get("state")
    if state not in STATES:
        raise Malformed(f"unknown progress state {str(state)[:40]!r}")
    percent = progress.get("percent")
    if percent is not None and percent != "":
        percent = _percent(percent)
    else:
        percent = None
    code = progress.get("result_code")
    if state == "fail":
        if code is None or code == "":
            raise Malformed("fail without result_code")
        code = _int(code, "result_code")
        if not RESULT_CODE_RANGE[0] <= code <= RESULT_CODE_RANGE[1]:
            # A 300-digit code overflowed error_detail on PostgreSQL and failed the whole batch.
            shown = str(code) if len(str(code)) <= 20 else f"{str(code)[:20]}... ({len(str(code))} digits)"
            raise Malformed(f"result_code {shown} is out of range")
    else:
        code = None
    return Report(product, device, "progress", _version(report.get("version")), state=state,
                  percent=percent, result_code=code, received=received)
