"""Whether the parts behind live updates (Redis, the gateway's broker link) are reachable."""
import time

import redis
from flask import current_app
from flask_babel import lazy_gettext as _l

from ota.extensions import get_redis

GATEWAY_HEARTBEAT_KEY = "ota:gateway:heartbeat"  # set by each gateway with a short TTL
_CACHE_SECONDS = 3.0
_cache: dict[str, tuple[float, list[str]]] = {}
MESSAGES = {
    "redis": _l("Redis is unreachable: tasks cannot be queued and live progress is paused."),
    "gateway": _l("The device gateway is not connected to the MQTT broker: devices are not being heard."),
}


def _check() -> list[str]:
    try:
        r = get_redis()
        return [] if r.exists(GATEWAY_HEARTBEAT_KEY) else ["gateway"]
    except redis.RedisError:
        return ["redis"]


def problem_codes() -> list[str]:
    """Return what is down ("redis", "gateway"), checked at most every few seconds per process."""
    key = current_app.config["REDIS_URL"]
    now = time.monotonic()
    hit = _cache.get(key)
    if hit and now - hit[0] < _CACHE_SECONDS:
        return hit[1]
    codes = _check()
    _cache[key] = (now, codes)
    return codes


def service_problems() -> list:
    """Return the banner's messages, in the page's language."""
    return [MESSAGES[c] for c in problem_codes()]
