"""Dispatch: pending records become pushed and update_firmware reaches the real broker, at the push rate."""
import json
import threading
import time

from rq.job import Job
from rq.registry import ScheduledJobRegistry

from ota.devicechannel import mqtt
from ota.extensions import get_redis
from ota.jobs import get_queue
from ota.jobs.tasks import dispatch_job, dispatch_job_id, rate_slice
from ota.services import tasks
from tests.task_fixtures import add_devices, records, run_jobs, task, world  # noqa: F401


def subscribe(url, topic):
    got, ready = [], threading.Event()
    c = mqtt.client(url)
    c.on_connect = lambda cl, u, f, rc, p=None: cl.subscribe(topic, qos=1)
    c.on_subscribe = lambda *a: ready.set()
    c.on_message = lambda cl, u, m: got.append((m.topic, m.payload, m.qos, m.retain))
    mqtt.connect(c)
    c.loop_start()
    assert ready.wait(5)
    return c, got


def test_dispatch_publishes_the_exact_update_firmware(app, world):
    add_devices(world.product, 3)
    sub, got = subscribe(app.config["MQTT_URL"], f"$ota/update/{world.product.code}/+")
    try:
        t = tasks.save_task(world.fw, world.user.id, method="version", versions=["1.0.0"], scope="all")
        run_jobs()
        deadline = time.time() + 5
        while len(got) < 3 and time.time() < deadline:
            time.sleep(0.05)
    finally:
        sub.loop_stop()
        sub.disconnect()
    assert len(got) == 3
    topic, payload, qos, retain = sorted(got)[0]
    assert topic == f"$ota/update/{world.product.code}/dev_00000" and qos == 1 and not retain
    msg = json.loads(payload)
    assert set(msg) == {"type", "version", "url", "md5sum", "file_size"}
    assert msg["type"] == "update_firmware" and msg["version"] == "2.0.0"
    assert msg["file_size"] == 51008 and isinstance(msg["file_size"], int)
    assert msg["md5sum"] == world.fw.md5.lower()
    path = msg["url"].split("://", 1)[1].split("/", 1)[1]
    assert "/" not in path and path.startswith("fw_") and path.endswith(".bin")
    rs = records(t.id)
    assert {(u.status, u.push_count) for u in rs} == {("pushed", 1)} and all(u.pushed_at for u in rs)


def test_push_rate_sends_the_first_slice_and_schedules_the_rest(app, world):
    add_devices(world.product, 25)
    t = tasks.save_task(world.fw, world.user.id, method="version", versions=["1.0.0"], scope="all", push_rate=60)
    run_jobs()
    n, period = rate_slice(60)
    assert (n, period) == (10, 10.0)
    counts = {}
    for u in records(t.id):
        counts[u.status] = counts.get(u.status, 0) + 1
    assert counts == {"pushed": 10, "pending": 15}
    scheduled = ScheduledJobRegistry(queue=get_queue()).get_job_ids()
    assert dispatch_job_id(t.id) + "-next" in scheduled
    # A kick while the chain is scheduled pushes nothing more (the rate holds).
    assert dispatch_job(t.id) == 0
    # When the next slice is due, it pushes the next ten and schedules again.
    job = Job.fetch(dispatch_job_id(t.id) + "-next", connection=get_redis())
    ScheduledJobRegistry(queue=get_queue()).remove(job)
    get_queue().enqueue_job(job)
    run_jobs()
    assert sum(u.status == "pushed" for u in records(t.id)) == 20
    assert dispatch_job_id(t.id) in ScheduledJobRegistry(queue=get_queue()).get_job_ids()


def test_rate_slices_are_about_the_rate():
    for rate in (1, 7, 60, 100, 1000, 100_000):
        n, period = rate_slice(rate)
        assert abs(n * 60 / period - rate) < 1e-6 and period <= 60


def test_cancelled_before_dispatch_is_never_pushed(app, world):
    from ota.jobs.tasks import create_task_job
    from ota.services import upgrades

    add_devices(world.product, 2)
    t = tasks.save_task(world.fw, world.user.id, method="version", versions=["1.0.0"], scope="all")
    create_task_job(t.id)
    first = records(t.id)[0]
    upgrades.cancel(first)
    run_jobs()
    rs = records(t.id)
    assert (rs[0].status, rs[0].push_count) == ("failed", 0) and rs[1].status == "pushed"
    assert task(t.id).status == "created"
