"""Dispatch: pending -> pushed with one update_firmware each (H2's dispatch_job), pushes/s vs raw paho QoS-1 publishes.

N pending records of one task are dispatched with no push rate (all at once); a subscriber on
$ota/update/+/+ counts the messages that arrive. Baseline: the same number of update_firmware-sized
QoS-1 messages published by one paho client and received by the same subscriber, in the same run.
"""
import os
import sys
import threading
import time

from bench.harness import make_app, report, seed_fleet, stack_env
from ota.devicechannel import mqtt
from ota.extensions import db
from ota.models import DeviceUpgrade

N = int(os.environ.get("BENCH_DISPATCH", 10000))


class Counter:
    """A subscriber on every device's update topic."""

    def __init__(self, url):
        self.n, self.last, self.ready = 0, 0.0, threading.Event()
        self.c = mqtt.client(url)
        self.c.on_message = self._msg
        self.c.on_subscribe = lambda *a: self.ready.set()
        mqtt.connect(self.c)
        self.c.subscribe("$ota/update/+/+", 1)
        self.c.loop_start()
        self.ready.wait(5)

    def _msg(self, *_):
        self.n += 1
        self.last = time.perf_counter()

    def wait(self, n, timeout=120):
        deadline = time.monotonic() + timeout
        while self.n < n and time.monotonic() < deadline:
            time.sleep(0.01)


def main() -> int:
    try:
        from ota.jobs.tasks import dispatch_job
    except ImportError:
        print("dispatch (ota.jobs.tasks.dispatch_job) is not there yet: skipped")
        return 0
    with stack_env() as env:
        app = make_app(env)
        fleet = seed_fleet(app, N, "BENCHDP001", fw_size=51008, upgrades="pending")
        with app.app_context():
            counter = Counter(env["MQTT_URL"])
            t0 = time.perf_counter()
            sent = dispatch_job(fleet.task_id)
            counter.wait(N)
            product_s = counter.last - t0
            pushed = db.session.execute(db.select(db.func.count()).select_from(DeviceUpgrade)
                                        .where(DeviceUpgrade.status == "pushed")).scalar()
        assert sent == N == pushed == counter.n, (sent, pushed, counter.n)

        counter.n = 0
        pub = mqtt.client(env["MQTT_URL"])
        pub.max_queued_messages_set(0)
        mqtt.connect(pub)
        pub.loop_start()
        body = b'{"type": "update_firmware", "version": "2.0.0", "url": "http://127.0.0.1:5000/fw_' + b"x" * 60 + \
               b'.bin", "md5sum": "' + b"0" * 32 + b'", "file_size": 51008}'
        t0 = time.perf_counter()
        infos = [pub.publish(f"$ota/update/BENCHDP001/d{i:05d}", body, qos=1) for i in range(N)]
        for info in infos:
            info.wait_for_publish(30)
        counter.wait(N)
        raw_s = counter.last - t0
        pub.disconnect()
    report(f"Dispatch: {N} pending records pushed at once (no push rate)", [
        ("pushes/s (DB pending->pushed + update_firmware)", f"{N / product_s:,.0f}", f"{N / raw_s:,.0f} (raw QoS-1 pub->sub)",
         f"{raw_s / product_s:.2f}x"),
        ("wall time", f"{product_s:.2f} s", f"{raw_s:.2f} s", "-"),
    ])
    return 0


if __name__ == "__main__":
    sys.exit(main())
