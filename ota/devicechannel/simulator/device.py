"""One simulated device: the Tencent OTA protocol as the real SDK speaks it, with injectable faults."""
import asyncio
import base64
import hashlib
import hmac
import json
import logging
import random
import string
import time
from dataclasses import dataclass, field

from ota.devicechannel import protocol
from ota.devicechannel.simulator.http import Dropped, HttpError, fetch
from ota.devicechannel.simulator.mqttio import AsyncClient

log = logging.getLogger("ota.simulator")

# Fault names, as the CLI options spell them.
MD5 = "md5-mismatch"
STALL = "stall"
DROP = "drop"
BURN_FAIL = "burn-fail"
OFFLINE = "offline"
ROLLBACK = "rollback"
FAULTS = (MD5, STALL, DROP, BURN_FAIL, OFFLINE, ROLLBACK)


@dataclass
class Timing:
    """How long the simulated steps take (seconds)."""

    download: float = 5.0  # the link is paced so that a download takes about this long
    burn: float = 3.0
    reboot: float = 2.0
    stall: float = 15.0
    report_every: float = 1.0  # downloading/burning percents, like the SDK (about one a second)


def credentials(product: str, name: str, secret: str) -> tuple[str, str]:
    """Return the Tencent-style MQTT username and password (DESIGN.md section 4)."""
    conn_id = "".join(random.choices(string.ascii_letters + string.digits, k=5))
    username = f"{product}{name};21010406;{conn_id};{int(time.time() * 1000)}"
    try:
        key = base64.b64decode(secret)
    except ValueError:
        key = secret.encode()
    sign = hmac.new(key, username.encode(), hashlib.sha1).hexdigest()
    return username, f"{sign};hmacsha1"


@dataclass
class SimDevice:
    """A virtual device; run() lives until cancelled."""

    product: str
    name: str
    secret: str
    version: str
    fault: str | None = None
    phase: str = "new"  # new, offline, online, downloading, burning, rebooting, done, failed
    upgrades: int = 0
    resumed: int = 0
    bytes: int = 0
    error: str | None = None
    ranges: list = field(default_factory=list)

    def _report(self, message: dict, qos: int) -> None:
        if self.mqtt and self.mqtt.is_connected:
            self.mqtt.publish(protocol.report_topic(self.product, self.name), json.dumps(message).encode(), qos)

    def _progress(self, state: str, version: str, percent: int | None = None, code: int = 0) -> None:
        p = {"state": state, "result_code": str(code), "result_msg": "" if code == 0 else "time_out"}
        if percent is not None:
            p["percent"] = str(percent)
        # Downloading percents are QoS 0 like the SDK's; results are QoS 1.
        self._report({"type": "report_progress", "report": {"progress": p, "version": version}},
                     0 if state == "downloading" else 1)

    def _on_message(self, _topic: str, payload: bytes) -> None:
        try:
            msg = json.loads(payload)
        except ValueError:
            return
        if msg.get("type") == "update_firmware":
            # The SDK silently drops an update without every field or with a string size.
            if not all(k in msg for k in ("version", "url", "md5sum", "file_size")):
                return
            if not isinstance(msg["file_size"], int):
                return
            self.inbox.put_nowait(msg)

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        user, password = credentials(self.product, self.name, self.secret)
        self.mqtt = AsyncClient(loop, self.url, f"{self.product}{self.name}", user, password, self._on_message)
        self.mqtt.on_lost = lambda: self.inbox.put_nowait({"type": "_lost"})
        for attempt in range(30):
            try:
                await self.mqtt.connect()
                await self.mqtt.subscribe(protocol.update_topic(self.product, self.name), 1)
                break
            except (OSError, ConnectionError, asyncio.TimeoutError):
                await asyncio.sleep(min(10, 1 + attempt))
        else:
            raise ConnectionError("broker unreachable")
        if self.phase not in ("done", "failed"):  # a reconnect after a lost link keeps the outcome
            self.phase = "online"
        self._report({"type": "report_version", "report": {"version": self.version}}, 1)

    async def run(self, url: str, timing: Timing) -> None:
        """Connect, report the version, and upgrade whenever told to."""
        self.url, self.timing, self.mqtt = url, timing, None
        self.inbox: asyncio.Queue = asyncio.Queue()
        if self.fault == OFFLINE:
            self.phase = "offline"
            return
        await self._connect()
        while True:
            msg = await self.inbox.get()
            if msg["type"] == "_lost":
                await asyncio.sleep(random.uniform(1, 3))
                await self._connect()
            elif msg["version"] != self.version:
                await self._upgrade(msg)

    async def _upgrade(self, msg: dict) -> None:
        target, size, url = msg["version"], msg["file_size"], msg["url"]
        self.upgrades += 1
        self.phase = "downloading"
        md5, offset = hashlib.md5(), 0
        last = [0.0]

        def on_bytes(n: int) -> None:
            now = time.monotonic()
            if n >= size or now - last[0] >= self.timing.report_every:
                last[0] = now
                self._progress("downloading", target, n * 100 // size if size else 100)

        self._progress("downloading", target, 0)
        last[0] = time.monotonic()
        rate = size / self.timing.download if self.timing.download > 0 else None
        cut = size // 2 if self.fault == DROP else None
        stall = size * 2 // 5 if self.fault == STALL else None
        while True:
            try:
                offset = await fetch(url, offset, size, md5, on_bytes, rate, cut_at=cut, stall_at=stall,
                                     stall_seconds=self.timing.stall, log_range=self.ranges.append)
                break
            except Dropped as e:  # a dropped link: come back after a moment and ask for the rest
                offset = e.offset
                self.resumed += 1
                cut = None
                await asyncio.sleep(1)
            except HttpError as e:
                code = {403: -3, 404: -2}.get(e.status, -1)
                return self._fail(target, code, str(e))
        self.bytes += size
        digest = md5.hexdigest() if self.fault != MD5 else hashlib.md5(b"corrupt" + md5.digest()).hexdigest()
        if offset != size or digest != msg["md5sum"]:
            self._progress("fail", target, code=-4)  # the SDK reports -4, then its burn step -5
            return self._fail(target, -5, "MD5 mismatch")
        self.phase = "burning"
        steps = max(1, int(self.timing.burn / self.timing.report_every))
        for i in range(steps + 1):
            percent = i * 100 // steps
            self._progress("burning", target, percent)
            if self.fault == BURN_FAIL and percent >= 50:
                return self._fail(target, -5, "burn failed")
            if i < steps:
                await asyncio.sleep(self.timing.burn / steps)
        self._progress("done", target)
        self.phase = "rebooting"
        await asyncio.sleep(0.2)  # let the QoS 1 "done" leave before the socket closes
        self.mqtt.disconnect()
        await asyncio.sleep(self.timing.reboot)
        if self.fault != ROLLBACK:
            self.version = target
        await self._connect()
        self.phase = "done"

    def _fail(self, target: str, code: int, why: str) -> None:
        self._progress("fail", target, code=code)
        self.phase, self.error = "failed", why
