"""A real RQ worker process (`python worker.py`) killed with SIGKILL mid-creation; a new one finishes exactly."""
import os
import signal
import sqlite3
import time

import pytest
from sqlalchemy import create_engine, text

from ota.jobs.sweeper import run_sweeps
from ota.services import tasks
from tests.task_fixtures import add_devices, records, task, world  # noqa: F401

N = 30_000


def wait(pred, timeout=60, step=0.002):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("timed out")


@pytest.mark.slow
def test_worker_killed_mid_creation_then_a_new_worker_finishes_exactly(app, world, run_process, database_url):
    add_devices(world.product, N)
    t = tasks.save_task(world.fw, world.user.id, method="version", versions=["1.0.0"], scope="all")
    probe = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with probe.connect() as c:
        def status():
            return c.execute(text("SELECT status FROM upgrade_tasks WHERE id = :i"), {"i": t.id}).scalar()

        def count():
            return c.execute(text("SELECT count(*) FROM device_upgrades WHERE task_id = :i"), {"i": t.id}).scalar()

        worker = run_process("worker.py", start_new_session=True)
        wait(lambda: status() == "creating" and c.rollback() is None)
        # Freeze the worker at its next write (a lock it must wait for), then kill it there.
        if probe.dialect.name == "sqlite":
            lock = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=30)
            lock.execute("BEGIN IMMEDIATE")
        else:
            lock = probe.connect()
            lock.execute(text("BEGIN"))
            lock.execute(text("LOCK TABLE device_upgrades IN EXCLUSIVE MODE"))
        written = count()
        c.rollback()
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)
        lock.rollback()
        lock.close()
        assert status() == "creating" and written < N
        c.rollback()
    probe.dispose()
    # The sweeper (here with a zero threshold) claims the stale task and queues its resumption.
    assert run_sweeps(stale_after=0)["resumed"] == 1
    run_process("worker.py", "worker", "--burst").wait(120)
    t = task(t.id)
    assert t.status == "created" and t.device_count == N
    rs = records(t.id)
    assert len(rs) == N and len({u.device_id for u in rs}) == N
