"""The device picker's selection (选择设备), kept server-side in a short-lived Redis set per picker token.

Why Redis and not hidden inputs: "select all matching" at 100,000 devices would otherwise put
100,000 ids into the page and into every request. The set lives two hours after its last use
and belongs to one account (the key includes the account id), so a token alone reveals nothing.
"""
import secrets

from sqlalchemy import func

from ota.extensions import db, get_redis
from ota.models import Device

TTL_SECONDS = 2 * 3600
PAGE_SIZE = 20


def new_token() -> str:
    """Return a fresh picker token."""
    return secrets.token_urlsafe(12)


def _key(account_id: int, token: str) -> str:
    return f"ota:picker:{account_id}:{token}"


def _valid(token: str | None) -> bool:
    return bool(token) and len(token) <= 32 and token.replace("-", "").replace("_", "").isalnum()


def chosen(account_id: int, token: str | None) -> list[int]:
    """Return the chosen device ids (sorted)."""
    if not _valid(token):
        return []
    return sorted(int(x) for x in get_redis().smembers(_key(account_id, token)))


def count(account_id: int, token: str | None) -> int:
    """Return how many devices are chosen."""
    return get_redis().scard(_key(account_id, token)) if _valid(token) else 0


def which_chosen(account_id: int, token: str, ids: list[int]) -> set[int]:
    """Return which of ids are chosen (one round trip)."""
    if not ids or not _valid(token):
        return set()
    flags = get_redis().smismember(_key(account_id, token), ids)
    return {i for i, f in zip(ids, flags) if f}


def toggle(account_id: int, token: str, device_id: int) -> bool:
    """Flip one device in or out of the selection; return whether it is now chosen."""
    r, key = get_redis(), _key(account_id, token)
    if r.srem(key, device_id):
        on = False
    else:
        r.sadd(key, device_id)
        on = True
    r.expire(key, TTL_SECONDS)
    return on


def matching(product_id: int, q: str, versions: list[str]):
    """Return the query of a product's devices on one of versions whose name contains q (none without versions)."""
    # Only devices a by-version task can reach are offered: one on another version would be skipped.
    query = db.select(Device).where(Device.product_id == product_id, Device.version.in_(list(versions)))
    q = (q or "").strip()
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Device.name.like(f"%{escaped}%", escape="\\"))
    return query.order_by(Device.name)


def add_matching(account_id: int, token: str, product_id: int, q: str, versions: list[str]) -> int:
    """Add every device on versions matching q to the selection (select all matching); return the new count."""
    r, key = get_redis(), _key(account_id, token)
    ids = db.session.execute(matching(product_id, q, versions).with_only_columns(Device.id).order_by(None)).scalars().all()
    pipe = r.pipeline(transaction=False)
    for i in range(0, len(ids), 10_000):
        pipe.sadd(key, *ids[i:i + 10_000])
    pipe.expire(key, TTL_SECONDS)
    pipe.execute()
    return r.scard(key)


def clear(account_id: int, token: str) -> None:
    """Empty the selection."""
    if _valid(token):
        get_redis().delete(_key(account_id, token))


def total(product_id: int, q: str, versions: list[str]) -> int:
    """Return how many devices on versions match q."""
    query = matching(product_id, q, versions).order_by(None).subquery()
    return db.session.execute(db.select(func.count()).select_from(query)).scalar_one()
