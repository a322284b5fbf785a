"""The RQ worker process: `python worker.py`."""
import logging

from rq import Worker

from ota.jobs import _worker_app, get_queue


def run_worker(burst: bool = False) -> None:
    """Run one RQ worker on the console's queue, with RQ's scheduler for delayed jobs."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = _worker_app()
    with app.app_context():
        queue = get_queue()
        from ota.jobs import schedule

        schedule.install(queue)
        worker = Worker([queue], connection=queue.connection)
    worker.work(with_scheduler=True, burst=burst)
