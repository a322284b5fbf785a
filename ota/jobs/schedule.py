"""Recurring jobs (sweepers) that the worker keeps scheduled."""
from rq import Queue


def install(queue: Queue) -> None:
    """Make sure each recurring job is scheduled once (idempotent: fixed job ids)."""
    # The sweeper re-schedules itself each run (ids from 30-second slots, so any number of
    # workers calling this at start-up schedule it once); rq.cron would need its own process.
    from ota.jobs.sweeper import schedule_next

    schedule_next(queue)
