"""Recurring jobs (sweepers) that the worker keeps scheduled."""
from rq import Queue


def install(queue: Queue) -> None:
    """Make sure each recurring job is scheduled once (idempotent: fixed job ids)."""
    # The task issue registers the timeout and stale-task sweepers here.
