"""The RQ worker process: `python worker.py`."""
import logging
import os
import time

import redis
from rq import Worker

from ota.jobs import _worker_app, get_queue

log = logging.getLogger(__name__)
REDIS_RETRY_SECONDS = 2


def run_worker(burst: bool = False) -> None:
    """Run one RQ worker on the console's queue, with RQ's scheduler for delayed jobs."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = _worker_app()
    while True:
        try:
            with app.app_context():
                queue = get_queue()
                from ota.jobs import schedule

                schedule.install(queue)
                every = app.config.get("SWEEP_SECONDS", 30)
                # Look every sweep period whether RQ's scheduler (it drives the sweeper) is alive: it
                # dies with a Redis outage, and RQ's defaults restart it only every 10 minutes.
                worker = Worker([queue], connection=queue.connection, maintenance_interval=2 * every,
                                worker_ttl=every + 15)
            # RQ logs two lines per job at INFO, which buries the terminal under the 30 s sweeper;
            # our own ota.* loggers stay at INFO.
            worker.work(with_scheduler=True, burst=burst,
                        logging_level=os.environ.get("RQ_LOG_LEVEL", "WARNING"))
            return
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as e:
            # RQ quits when Redis goes away while a job runs (and cannot start without it): wait for
            # Redis and work on, rather than exit and leave restarts to a supervisor that gives up.
            log.warning("Redis unreachable (%s); working again when it is back", e)
            time.sleep(REDIS_RETRY_SECONDS)
