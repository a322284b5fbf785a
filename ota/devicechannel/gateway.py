"""The MQTT gateway: `python worker.py gateway`. Hears every device report, batches it into the DB.

Threads: paho's network loop only queues raw messages; one ingest thread parses them, applies
up to BATCH_MAX of them (or whatever arrived within BATCH_SECONDS) in one transaction, commits,
then answers the devices and publishes live events; a heartbeat thread keeps the Redis key the
web's banner checks alive while the broker link is up. No message or batch can end the ingest
thread (each failure is logged with its traceback); should it end anyway, the heartbeat is
withdrawn (the banner shows) and run_gateway exits 1 so the launcher restarts the process.

Scaling out: Mosquitto 2.0.11 (verified) never delivers `$` topics through a shared subscription
(`$share/g/$ota/report/+/+` is granted but silent), so the default is a plain subscription and
idempotent handling (conditional updates); set MQTT_SHARED_GROUP on brokers that do it (EMQX).
"""
import logging
import os
import queue
import signal
import socket
import sys
import threading
import time
import uuid

from flask import Flask
from sqlalchemy.exc import InterfaceError, OperationalError

from ota.devicechannel import ingest, mqtt, protocol
from ota.devicechannel.pushes import build_pushes
from ota.devicechannel.reports import Malformed, parse
from ota.extensions import db, get_redis
from ota.services import events
from ota.services.health import GATEWAY_HEARTBEAT_KEY

log = logging.getLogger("ota.gateway")

BATCH_SECONDS = 0.1
BATCH_MAX = 500
HEARTBEAT_EVERY = 5
HEARTBEAT_TTL = 15
DB_RETRIES = 3
# The database is away, busy or deadlocked: the same batch may well pass a moment later.
TRANSIENT = (OperationalError, InterfaceError)


def subscription(shared_group: str | None) -> str:
    """Return the topic filter to subscribe to."""
    if shared_group:
        return f"$share/{shared_group}/{protocol.REPORT_SUBSCRIPTION}"
    return protocol.REPORT_SUBSCRIPTION


class Gateway:
    """One gateway: start() it, stop() it; safe to run several at once."""

    def __init__(self, app: Flask, url: str | None = None, shared_group: str | None = None,
                 batch_seconds: float = BATCH_SECONDS, batch_max: int = BATCH_MAX):
        self.app = app
        self.url = url or app.config["MQTT_URL"]
        self.topic = subscription(shared_group if shared_group is not None
                                  else app.config.get("MQTT_SHARED_GROUP"))
        self.batch_seconds, self.batch_max = batch_seconds, batch_max
        self.name = f"gw-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.inbox: queue.Queue = queue.Queue(maxsize=200_000)
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self._stop = threading.Event()
        self.failed = threading.Event()  # set when the ingest thread died: the process must exit
        self._beat_now = threading.Event()
        self._threads: list[threading.Thread] = []
        self.stats = {"received": 0, "applied": 0, "dropped": 0, "batches": 0, "connects": 0}
        self.client = mqtt.client(self.url, client_id=self.name)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.max_queued_messages_set(0)
        self.client.max_inflight_messages_set(1000)

    # --- MQTT callbacks (paho's thread: keep them short) -------------------------------------
    def _on_connect(self, client, _userdata, _flags, reason_code, _props):
        if reason_code.is_failure:
            log.warning("broker refused the connection: %s", reason_code)
            return
        self.stats["connects"] += 1
        # Clean session: the subscription is gone after every reconnect, so always make it again.
        client.subscribe(self.topic, qos=1)
        self.connected.set()
        self._beat_now.set()
        log.info("connected to %s, subscribing to %s", self.url, self.topic)

    def _on_subscribe(self, _client, _userdata, _mid, reason_codes, _props):
        if any(rc.is_failure for rc in reason_codes):
            log.error("broker refused the subscription to %s: %s", self.topic, reason_codes)
        else:
            self.subscribed.set()

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _props):
        self.connected.clear()
        self.subscribed.clear()
        if not self._stop.is_set():
            log.warning("lost the broker (%s); paho reconnects", reason_code)

    def _on_message(self, _client, _userdata, msg):
        self.stats["received"] += 1
        self.inbox.put((msg.topic, msg.payload, time.monotonic()))

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> "Gateway":
        """Connect (retrying in the background until the broker is there) and start the threads."""
        cfg = mqtt.parse_url(self.url)
        self.client.connect_async(cfg["host"], cfg["port"], keepalive=30)
        self.client.loop_start()
        for target in (self._ingest_loop, self._heartbeat_loop):
            t = threading.Thread(target=target, name=f"{self.name}-{target.__name__}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        """Flush what was received, then disconnect."""
        self._stop.set()
        self._beat_now.set()
        for t in self._threads:
            t.join(10)
        self.client.disconnect()
        self.client.loop_stop()

    def wait_ready(self, timeout: float = 10) -> bool:
        """Wait until connected and subscribed (tests and benchmarks)."""
        return self.subscribed.wait(timeout)

    # --- heartbeat ---------------------------------------------------------------------------
    def _heartbeat_loop(self) -> None:
        with self.app.app_context():
            while not self._stop.is_set() and not self.failed.is_set():
                if self.connected.is_set():
                    try:
                        get_redis().set(GATEWAY_HEARTBEAT_KEY, self.name, ex=HEARTBEAT_TTL)
                    except Exception as e:  # Redis down must not stop the gateway
                        log.warning("heartbeat not stored (%s)", e)
                self._beat_now.wait(HEARTBEAT_EVERY)
                self._beat_now.clear()
            if self.failed.is_set():
                self._withdraw_heartbeat()

    def _withdraw_heartbeat(self) -> None:
        """Delete the heartbeat if it is ours, so the banner shows now rather than after the TTL."""
        try:
            r = get_redis()
            if r.get(GATEWAY_HEARTBEAT_KEY) in (self.name, self.name.encode()):
                r.delete(GATEWAY_HEARTBEAT_KEY)  # another gateway that beats meanwhile sets it again
        except Exception as e:
            log.warning("heartbeat not withdrawn (%s)", e)

    # --- ingest ------------------------------------------------------------------------------
    def _collect(self) -> list[tuple[str, bytes, float]]:
        """Block for the first message, then gather more for up to batch_seconds."""
        try:
            batch = [self.inbox.get(timeout=0.25)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + self.batch_seconds
        while len(batch) < self.batch_max:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                batch.append(self.inbox.get(timeout=left))
            except queue.Empty:
                break
        return batch

    def _ingest_loop(self) -> None:
        """Hear messages until stopped; if this thread ever ends otherwise, mark the gateway failed."""
        try:
            while True:
                try:
                    raw = self._collect()
                    if not raw:
                        if self._stop.is_set():
                            return
                        continue
                    reports = self._parse_all(raw)
                    if reports:
                        self._apply(reports)
                except Exception:  # one bad message or batch must never stop hearing every device
                    log.exception("ingest: unexpected error; carrying on with the next messages")
        finally:
            if not self._stop.is_set():  # a BaseException or a bug in the guard itself
                log.critical("ingest thread died: devices are no longer heard; stopping the heartbeat")
                self.failed.set()
                self._beat_now.set()

    def _parse_all(self, raw) -> list:
        """Parse each message; a bad one (even one that trips a bug in the parser) is logged and dropped."""
        reports = []
        for topic, payload, received in raw:
            try:
                reports.append(parse(topic, payload, received))
            except Malformed as e:
                log.warning("dropped %s: %s", topic, e)
                self.stats["dropped"] += 1
            except Exception:
                log.exception("dropped %s: the parser failed on it", topic)
                self.stats["dropped"] += 1
        return reports

    def _apply(self, reports) -> None:
        """Apply one batch (isolating a report the database refuses), then send replies and events."""
        with self.app.app_context():
            out = ingest.Outcome()
            self._apply_parts(reports, out)
            for topic, payload in out.replies:
                self.client.publish(topic, payload, qos=1)
            if out.resend:
                for push in build_pushes(out.resend):
                    self.client.publish(push.topic, push.payload, qos=1)
            db.session.remove()
            events.publish_upgrades(out.changed)
        self.stats["applied"] += len(reports) - out.dropped
        self.stats["dropped"] += out.dropped
        self.stats["batches"] += 1

    def _apply_parts(self, reports, out: ingest.Outcome) -> None:
        """Commit reports in one transaction; if the database refuses one of them, bisect, so only
        the report it refuses is lost and every other device's report lands (in arrival order)."""
        try:
            got = self._commit(reports)
        except Exception as e:  # a data error (too long, NUL, unencodable) or a bug on one report
            reason = (str(e).splitlines() or [type(e).__name__])[0][:200]
            if len(reports) == 1:
                r = reports[0]
                log.error("dropped %s: the database refused it (%s: %s)",
                          protocol.report_topic(r.product, r.device), type(e).__name__, reason)
                out.dropped += 1
                return
            log.warning("batch of %d reports refused (%s: %s); applying it in halves",
                        len(reports), type(e).__name__, reason)
            half = len(reports) // 2
            self._apply_parts(reports[:half], out)
            self._apply_parts(reports[half:], out)
            return
        if got is None:
            out.dropped += len(reports)
            return
        out.replies += got.replies
        out.resend += got.resend
        out.changed += got.changed
        out.dropped += got.dropped

    def _commit(self, reports) -> ingest.Outcome | None:
        """Apply and commit, retrying while the database is away or busy; None if it stays so.

        Any other error is the data's (or a bug's): retrying the same reports cannot help, so it is
        raised for _apply_parts to isolate."""
        for attempt in range(1, DB_RETRIES + 1):
            try:
                out = ingest.apply(reports)
                db.session.commit()
                return out
            except TRANSIENT as e:
                db.session.rollback()
                log.warning("batch of %d reports failed (attempt %d): %s", len(reports), attempt, e)
                if attempt == DB_RETRIES:
                    log.error("dropped a batch of %d reports after %d attempts", len(reports), attempt)
                    return None
                time.sleep(0.2 * attempt)
            except BaseException:
                db.session.rollback()
                raise
        return None


def run_gateway(app: Flask | None = None) -> None:
    """Run one gateway until SIGTERM or Ctrl-C; exit 1 if its ingest thread dies (the launcher restarts it)."""
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if app is None:
        from ota import create_app

        app = create_app()
    gw = Gateway(app).start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    log.info("gateway %s started (%s)", gw.name, gw.url)
    last = time.monotonic()
    while not done.wait(1):
        if gw.failed.is_set():
            # A process that lives on without hearing devices would look healthy to the launcher.
            log.critical("gateway %s exits: its ingest thread died (stats %s)", gw.name, gw.stats)
            gw.stop()
            sys.exit(1)
        if time.monotonic() - last >= 60:
            last = time.monotonic()
            log.info("gateway stats %s", gw.stats)
    gw.stop()
