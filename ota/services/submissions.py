"""One-time form submission tokens: a form posted twice (double click, two tabs, a retry) saves once.

The form carries a random token; the first request to claim it in Redis (SET NX) saves and then
records what it created under the token, so a repeat finds that id and goes there instead of
saving again. Keys belong to one account and live an hour.
"""
import secrets
import time

import redis

from ota.extensions import get_redis

TTL_SECONDS = 3600
_PENDING = b"pending"


def new_token() -> str:
    """Return a fresh submission token."""
    return secrets.token_urlsafe(16)


def _valid(token: str | None) -> bool:
    return bool(token) and len(token) <= 64 and token.replace("-", "").replace("_", "").isalnum()


def _key(account_id: int, kind: str, token: str) -> str:
    return f"ota:submit:{kind}:{account_id}:{token}"


class Claim:
    """The outcome of claiming a token: `first` to save now, else `result` (the id saved by the first), if known."""

    def __init__(self, first: bool, result: int | None = None):
        self.first, self.result = first, result


def claim(account_id: int, kind: str, token: str | None, wait: float = 10.0) -> Claim:
    """Claim token for one save; a repeat waits up to `wait` s for the first save's id.

    Without a valid token (an old page, a script) every request saves, as before. When Redis is
    unreachable the save goes ahead too: refusing it would lose the user's form for a guard.
    """
    if not _valid(token):
        return Claim(True)
    r, key = get_redis(), _key(account_id, kind, token)
    deadline = time.monotonic() + wait
    try:
        while True:
            # Free again when the first save was refused and gave the token back: then this one saves.
            if r.set(key, _PENDING, nx=True, ex=TTL_SECONDS):
                return Claim(True)
            value = r.get(key)
            if value not in (None, _PENDING):
                return Claim(False, int(value))
            if time.monotonic() >= deadline:
                return Claim(False)
            time.sleep(0.05)
    except redis.RedisError:
        return Claim(True)


def record(account_id: int, kind: str, token: str | None, result: int) -> None:
    """Record the id the claimed save created, for repeats of the token."""
    if _valid(token):
        try:
            get_redis().set(_key(account_id, kind, token), str(result), ex=TTL_SECONDS)
        except redis.RedisError:
            pass


def release(account_id: int, kind: str, token: str | None) -> None:
    """Give the token back after a refused save, so the corrected form can be posted with it."""
    if _valid(token):
        try:
            get_redis().delete(_key(account_id, kind, token))
        except redis.RedisError:
            pass
