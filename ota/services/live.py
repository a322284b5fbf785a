"""Stream one page's live updates over a WebSocket: subscribe, snapshot, coalesce, render, close.

The socket handler gives stream() a Feed, which knows what its page shows and renders it with the
page's own partials. Events carry ids only (ota.services.events); a flush re-reads those rows.
"""
import json
from abc import ABC, abstractmethod
import logging
import time
from dataclasses import dataclass, field

import redis
from simple_websocket import ConnectionClosed

from ota.extensions import db, get_redis

log = logging.getLogger(__name__)

COALESCE_SECONDS = 0.2  # a device that reports 5 times in this window sends one row
POLL_SECONDS = 1.0  # how soon a closed browser is noticed while nothing happens
BANNER_CHECK_SECONDS = 5.0
SUBSCRIBE_TIMEOUT = 3.0
# Close codes: htmx-ext-ws reconnects by itself after 1006, 1011, 1012 and 1013 only.
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013


@dataclass
class Changes:
    """Everything announced since the last flush, deduplicated."""

    upgrades: set = field(default_factory=set)  # device-upgrade ids
    tasks: set = field(default_factory=set)  # task ids whose status or counts changed
    events: int = 0

    def add(self, raw) -> None:
        """Merge one pub/sub payload; a malformed one is logged and dropped."""
        try:
            msg = json.loads(raw)
            task = int(msg["task"])
            if msg["kind"] == "upgrades":
                self.upgrades.update(int(i) for i in msg["ids"])
            self.tasks.add(task)
            self.events += 1
        except (ValueError, KeyError, TypeError) as e:
            log.warning("ignoring malformed live event %r (%s)", raw[:200], e)

    def __bool__(self) -> bool:
        return self.events > 0


class Feed(ABC):
    """What one page shows; subclasses render it with the page's partials."""

    channels: list[str] = []
    done = False  # set when the page's object is gone: the socket then closes normally

    @abstractmethod
    def snapshot(self) -> list[str]:
        """Return the messages of everything the page shows (sent on every connect)."""
        ...

    @abstractmethod
    def render(self, changes: Changes) -> list[str]:
        """Return the messages of the rows and counters the changes touch that the page shows."""
        ...

    @abstractmethod
    def banner(self, codes: list[str]) -> str:
        """Return the service banner for the problem codes, as an out-of-band swap."""
        ...


def _subscribe(channels: list[str]) -> redis.client.PubSub:
    """Subscribe and wait for the server's confirmations, so no event after the snapshot is lost."""
    pubsub = get_redis().pubsub()
    pubsub.subscribe(*channels)
    waiting, deadline = set(channels), time.monotonic() + SUBSCRIBE_TIMEOUT
    while waiting:
        if time.monotonic() > deadline:
            pubsub.close()
            raise redis.TimeoutError("no subscribe confirmation")
        msg = pubsub.get_message(timeout=0.5)
        if msg and msg["type"] == "subscribe":
            waiting.discard(msg["channel"].decode())
    return pubsub


def _send(ws, *messages: str) -> None:
    """Send each non-empty message as its own frame.

    Table rows never share a frame with other elements: htmx parses a frame inside a <template>,
    where a <tr> after a <div> is dropped by the HTML parser (verified in Chromium).
    """
    for html in messages:
        if html:
            ws.send(html)


def _problems_after_subscribe() -> list[str]:
    """Return what is down, knowing Redis just answered (the health cache may lag a few seconds)."""
    from ota.services.health import problem_codes

    return [c for c in problem_codes() if c != "redis"]


def stream(ws, feed: Feed) -> None:
    """Serve one socket until the browser goes away; on a Redis failure close so it reconnects."""
    pubsub = None
    try:
        try:
            pubsub = _subscribe(feed.channels)
        except redis.RedisError as e:
            log.warning("live feed cannot subscribe (%s); the browser will reconnect", e)
            _send(ws, feed.banner(["redis"]))
            db.session.remove()
            ws.close(reason=TRY_AGAIN_LATER, message="redis unreachable")
            return
        banner = _problems_after_subscribe()
        _send(ws, feed.banner(banner), *feed.snapshot())
        db.session.remove()  # hold no connection while waiting for events
        _pump(ws, feed, pubsub, banner)
    except ConnectionClosed:
        pass
    finally:
        if pubsub is not None:
            try:
                pubsub.close()  # unsubscribes: the connection goes back to nothing
            except redis.RedisError:
                pass
        db.session.remove()


def _pump(ws, feed: Feed, pubsub, banner: list[str]) -> None:
    """Collect events for COALESCE_SECONDS after the first, then render and send them once."""
    changes, flush_at = Changes(), None
    next_banner_check = time.monotonic() + BANNER_CHECK_SECONDS
    while ws.connected and not feed.done:
        now = time.monotonic()
        wait = POLL_SECONDS if flush_at is None else max(0.0, flush_at - now)
        try:
            msg = pubsub.get_message(timeout=wait)
            # Drain what is already buffered without waiting (a busy task sends thousands a
            # second), but never past the flush time, so a flood cannot starve the browser.
            while msg is not None:
                if msg["type"] == "message":
                    changes.add(msg["data"])
                    if flush_at is None:
                        flush_at = time.monotonic() + COALESCE_SECONDS
                if flush_at is not None and time.monotonic() >= flush_at:
                    break
                msg = pubsub.get_message(timeout=0)
        except redis.RedisError as e:
            log.warning("live feed lost Redis (%s); closing so the browser reconnects", e)
            _send(ws, feed.banner(["redis"]))
            db.session.remove()
            ws.close(reason=TRY_AGAIN_LATER, message="redis unreachable")
            return
        now = time.monotonic()
        if flush_at is not None and now >= flush_at:
            messages = feed.render(changes) if changes else []
            db.session.remove()
            _send(ws, *messages)
            changes, flush_at = Changes(), None
        if now >= next_banner_check:
            next_banner_check = now + BANNER_CHECK_SECONDS
            codes = _problems_after_subscribe()
            if codes != banner:
                banner = codes
                _send(ws, feed.banner(codes))
                db.session.remove()
