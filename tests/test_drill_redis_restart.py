"""Drill: restart Redis while a task runs: pages render with the banner, progress goes on, nothing reported is lost."""
import time

import pytest

from ota.devicechannel.simulator import Timing
from ota.extensions import db, get_redis
from ota.models import Device, DeviceUpgrade
from ota.services import tasks
from ota.services.health import GATEWAY_HEARTBEAT_KEY
from tests.devicechannel_fixtures import fleet  # noqa: F401  (fixture)
from tests.drill_fixtures import FleetThread, stack, until  # noqa: F401  (fixture)
from tests.live_fixtures import cookie_header
from tests.test_drill_broker_restart import statuses
from tests.test_live import connect, recv_burst

TIMING = Timing(download=6.0, burn=0.5, reboot=0.3, report_every=0.5)
BANNER = "无法连接 Redis"


def progress_sum(task_id: int) -> int:
    return db.session.execute(db.select(db.func.coalesce(db.func.sum(DeviceUpgrade.percent), 0)).where(
        DeviceUpgrade.task_id == task_id)).scalar_one()


@pytest.mark.slow
def test_redis_restart_mid_task(stack, fleet):
    fw = fleet.firmware("1.2.0", data=bytes(range(256)) * 800)
    devs = fleet.devices(8)
    stack.start("web")
    stack.start("gateway")
    stack.start("worker")
    stack.wait_gateway()
    browser = stack.login(fleet.account_id)
    sims = FleetThread(fleet.code, devs, stack.mqtt_url, TIMING)
    until(lambda: all(s.phase == "online" for s in sims.sims), 15, "the devices to come online")
    t = tasks.save_task(fw, None, method="version", versions=["1.0.0"], scope="all")
    page_url = f"{stack.base}/tasks/{t.id}"
    until(lambda: statuses(t.id).get("upgrading", 0) == len(devs), 20, "every device downloading")

    stack.stop_redis()
    before = progress_sum(t.id)
    # Pages still render, from the database, with the banner (the health check caches ~3 s).
    until(lambda: BANNER in browser.get(page_url, timeout=10).text, 10, "the Redis banner")
    r = browser.get(page_url, timeout=10)
    assert r.status_code == 200 and f'id="task-{t.id}-counters"' in r.text
    assert browser.get(f"{stack.base}/firmware/{fw.id}", timeout=10).status_code == 200
    # The gateway writes the database directly: progress goes on while Redis is away.
    until(lambda: progress_sum(t.id) > before, 10, "progress while Redis is down")
    time.sleep(1.0)
    stack.start_redis()
    restarted = time.monotonic()

    sims.join(40)
    until(lambda: statuses(t.id) == {"succeeded": len(devs)}, 15, f"every record succeeded ({statuses(t.id)})")
    versions = dict(db.session.execute(db.select(Device.name, Device.version).where(
        Device.id.in_([d.id for d in devs]))).all())
    assert set(versions.values()) == {"1.2.0"}, versions
    until(lambda: BANNER not in browser.get(page_url, timeout=10).text, 10, "the banner to go")
    until(lambda: get_redis().exists(GATEWAY_HEARTBEAT_KEY), 10, "the heartbeat after the restart")
    # The live feed works again: a socket's snapshot shows every row succeeded.
    ws = connect(stack.base, f"/ws/tasks/{t.id}", cookie_header(browser))
    snapshot = recv_burst(ws)
    ws.close()
    assert snapshot.count('<tr id="du-') == len(devs) and snapshot.count("升级成功") >= len(devs)
    # Every role is still up, and the worker keeps sweeping after the restart.
    assert all(p.poll() is None for p in stack.procs.values())
    sweeps = stack.log("worker").count("ota.jobs.sweeper.sweep()")
    until(lambda: stack.log("worker").count("ota.jobs.sweeper.sweep()") > sweeps, 10,
          f"a sweep after the restart ({time.monotonic() - restarted:.0f} s ago)")


@pytest.mark.slow
def test_worker_outlives_redis_going_away_mid_job(stack):
    """RQ quits when Redis drops while a job runs; `python worker.py` waits for Redis and works on."""
    from rq import Queue

    queue = Queue(stack.env["RQ_QUEUE"], connection=get_redis())
    worker = stack.start("worker")
    queue.enqueue(time.sleep, 3, job_id="slow")
    until(lambda: "(slow)" in stack.log("worker"), 10, "the worker to take the slow job")
    stack.stop_redis()
    until(lambda: "working again when it is back" in stack.log("worker"), 15, "the worker to wait for Redis")
    assert worker.poll() is None
    stack.start_redis()
    job = Queue(stack.env["RQ_QUEUE"], connection=get_redis()).enqueue(time.sleep, 0, job_id="after")
    until(lambda: job.get_status(refresh=True) == "finished", 20, "a job after Redis came back")
    assert worker.poll() is None
