"""Live events on Redis pub/sub: small JSON with ids only; the web re-reads rows from the database.

Channels: ota:events:task:<task_id> and ota:events:firmware:<firmware_id>.
Messages: {"kind": "upgrades", "task": T, "ids": [device_upgrade ids]}  (rows changed)
          {"kind": "task", "task": T}                                   (task status/counts changed)
Publishing never raises: the database is the truth and every socket connect sends a snapshot.
"""
import json
import logging
from collections import defaultdict
from collections.abc import Iterable

import redis

from ota.extensions import get_redis

log = logging.getLogger(__name__)


def task_channel(task_id: int) -> str:
    """Return the channel of one task."""
    return f"ota:events:task:{task_id}"


def firmware_channel(firmware_id: int) -> str:
    """Return the channel of one firmware (all its tasks)."""
    return f"ota:events:firmware:{firmware_id}"


def publish_upgrades(changes: Iterable[tuple[int, int, int]], client: redis.Redis | None = None) -> None:
    """Announce changed device records, given (task_id, firmware_id, device_upgrade_id) triples."""
    by_task: dict[tuple[int, int], list[int]] = defaultdict(list)
    for task_id, firmware_id, upgrade_id in changes:
        by_task[(task_id, firmware_id)].append(upgrade_id)
    if not by_task:
        return
    try:
        pipe = (client or get_redis()).pipeline(transaction=False)
        for (task_id, firmware_id), ids in by_task.items():
            msg = json.dumps({"kind": "upgrades", "task": task_id, "ids": ids})
            pipe.publish(task_channel(task_id), msg)
            pipe.publish(firmware_channel(firmware_id), msg)
        pipe.execute()
    except redis.RedisError as e:
        log.warning("live event not published (%s); pages will catch up on reconnect", e)


def publish_task(task_id: int, firmware_id: int, client: redis.Redis | None = None) -> None:
    """Announce that a task's status or device count changed."""
    msg = json.dumps({"kind": "task", "task": task_id})
    try:
        pipe = (client or get_redis()).pipeline(transaction=False)
        pipe.publish(task_channel(task_id), msg)
        pipe.publish(firmware_channel(firmware_id), msg)
        pipe.execute()
    except redis.RedisError as e:
        log.warning("live event not published (%s); pages will catch up on reconnect", e)
