"""Drill: SIGKILL the RQ worker while it writes a 10,000-device CSV task; a new worker finishes it exactly.

tests/test_task_worker.py freezes a worker at a database lock and resumes with an in-process
sweep; this drill goes through the real 按设备名称 form, kills the whole worker (work horse and
scheduler) while it is really writing, and leaves the recovery to a new worker process.
"""
import signal
import time

import pytest

from ota.extensions import db
from ota.jobs.sweeper import sweep
from ota.jobs.tasks import get_queue
from ota.models import DeviceUpgrade, UpgradeTask
from ota.services.tasks import failure_message
from tests.drill_fixtures import stack, until  # noqa: F401  (fixture)
from tests.task_fixtures import add_devices, records, task, world  # noqa: F401  (fixture)
from tests.test_task_csv import post_csv

N = 10_000


def written(task_id: int) -> int:
    return db.session.execute(db.select(db.func.count()).where(DeviceUpgrade.task_id == task_id)).scalar_one()


@pytest.mark.slow
def test_sigkill_mid_creation_then_a_new_worker_ends_it_exactly(stack, auth_client, world):
    add_devices(world.product, N)
    csv = ("DeviceName\n" + "".join(f"dev_{i:05d}\n" for i in range(N))).encode()
    r = post_csv(auth_client, world.fw.id, csv, filename="fleet.csv")
    assert r.status_code == 303, r.get_data(as_text=True)[-2000:]
    task_id = db.session.execute(db.select(UpgradeTask.id)).scalar_one()

    stack.start("worker")
    # The first committed chunk: the worker is mid-way through its 10,000 rows. Kill it there.
    until(lambda: written(task_id) > 0, 30, "the first chunk of records", every=0.002)
    stack.kill("worker", signal.SIGKILL)
    db.session.rollback()
    half = written(task_id)
    assert task(task_id).status == "creating" and 0 < half < N, half

    # A new worker, with a short "abandoned" threshold so the drill does not wait out 120 s.
    stack.start("worker", env={"SWEEP_STALE_SECONDS": "2"})
    # The dead worker's RQ scheduler lock outlives it by 61 s, so the new worker cannot schedule
    # sweeps yet: queue the tick the scheduler would have queued (the real sweep, in the new worker).
    time.sleep(2.5)  # the abandoned threshold
    get_queue().enqueue(sweep)
    t = until(lambda: (lambda t: t.status in ("created", "failed") and t)(task(task_id)), 40,
              "the task to end")
    if t.status == "failed":
        assert failure_message(t), "a failed task must say why"
        return
    rs = records(task_id)
    assert t.device_count == N and len(rs) == N and len({u.device_id for u in rs}) == N
    assert "resuming" in stack.log("worker")
    assert "创建成功" in auth_client.get(f"/tasks/{task_id}").get_data(as_text=True)
