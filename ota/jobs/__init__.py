"""RQ jobs. Jobs take ids, never ORM objects, and are safe to run twice."""
import functools

from flask import Flask, current_app, has_app_context
from rq import Queue

from ota.extensions import get_redis

_app: Flask | None = None


def get_queue() -> Queue:
    """Return the app's RQ queue (enqueue only after the database commit)."""
    return Queue(current_app.config["RQ_QUEUE"], connection=get_redis())


def _worker_app() -> Flask:
    """Create the app once per worker process, on first use (never at import)."""
    global _app
    if _app is None:
        from ota import create_app

        _app = create_app()
    return _app


def job(fn):
    """Run the job inside an app context: the caller's when there is one, else the worker's app."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if has_app_context():
            return fn(*args, **kwargs)
        with _worker_app().app_context():
            return fn(*args, **kwargs)

    return wrapper
