"""Live feed under load: 10,000 devices reporting once a second, watched by a task page and a firmware page.

`python -m bench live`. Prints what one browser receives (frames, rows, bytes per second), how
long a snapshot takes next to rendering the page itself, and the raw Redis event rate it rides on.
"""
import re
import threading
import time

import requests
import websocket
from sqlalchemy import update
from werkzeug.serving import make_server

from bench.harness import make_app, report, seed_fleet, stack_env

DEVICES = 10_000
SECONDS = 8
BATCH = 500  # the gateway publishes one event per batch of records it committed


def seed(app):
    """A user, a product, 10,000 devices, a firmware and one task with all of them upgrading."""
    fleet = seed_fleet(app, DEVICES, user=True, secret="x" * 24, fw_size=1, storage_key="bench",
                       task_fields={"device_count": DEVICES},
                       upgrades={"status": "upgrading", "stage": "downloading", "percent": 0})
    return fleet.task_id, fleet.firmware_id, fleet.upgrade_ids


def login(base):
    s = requests.Session()
    token = re.search(r'name="csrf-token" content="([^"]+)"', s.get(f"{base}/login").text).group(1)
    s.post(f"{base}/login", data={"username": "bench", "password": "correct-horse", "csrf_token": token})
    return "; ".join(f"{c.name}={c.value}" for c in s.cookies)


class Watcher(threading.Thread):
    """A browser stand-in: count what arrives on one socket."""

    def __init__(self, url, cookie):
        super().__init__(daemon=True)
        t0 = time.monotonic()
        self.ws = websocket.create_connection(url, header=[f"Cookie: {cookie}"], timeout=30)
        self.ws.recv()  # banner
        self.ws.recv()  # first snapshot frame
        self.snapshot_s = time.monotonic() - t0
        self.frames = self.bytes = self.rows = self.max_rows = 0
        self.stop = False

    def run(self):
        self.ws.settimeout(1)
        while not self.stop:
            try:
                msg = self.ws.recv()
            except websocket.WebSocketTimeoutException:
                continue
            except Exception:  # noqa: BLE001  the socket closed at the end of the run
                return
            rows = msg.count("<tr id=")
            self.frames += 1
            self.bytes += len(msg.encode())
            self.rows += rows
            self.max_rows = max(self.max_rows, rows)


def main():
    with stack_env() as env:
        app = make_app(env)
        task_id, fw_id, ups = seed(app)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        cookie = login(base)
        t0 = time.monotonic()
        requests.get(f"{base}/tasks/{task_id}", headers={"Cookie": cookie}).raise_for_status()
        page_s = time.monotonic() - t0
        ws_base = base.replace("http", "ws")
        task_w = Watcher(f"{ws_base}/ws/tasks/{task_id}", cookie)
        fw_w = Watcher(f"{ws_base}/ws/firmware/{fw_id}?tab=devices", cookie)
        task_w.start()
        fw_w.start()

        from ota.extensions import db
        from ota.models import DeviceUpgrade
        from ota.services import events

        published = 0
        with app.app_context():
            started = time.monotonic()
            for second in range(SECONDS):
                tick = started + second
                db.session.execute(update(DeviceUpgrade).where(DeviceUpgrade.task_id == task_id)
                                   .values(percent=min(99, second * 10)))
                db.session.commit()
                for i in range(0, len(ups), BATCH):
                    events.publish_upgrades([(task_id, fw_id, u) for u in ups[i:i + BATCH]])
                    published += 1
                time.sleep(max(0.0, tick + 1 - time.monotonic()))
            elapsed = time.monotonic() - started
        time.sleep(0.5)
        task_w.stop = fw_w.stop = True
        task_w.ws.close()
        fw_w.ws.close()
        server.shutdown()

        reports = DEVICES * SECONDS
        rows = [
            ("task page render (GET /tasks/<id>, 10,000 records, 100 rows)", f"{page_s * 1000:.0f} ms", "—", "—"),
            ("task socket snapshot (connect → first frame)", f"{task_w.snapshot_s * 1000:.0f} ms",
             f"{page_s * 1000:.0f} ms page", f"{task_w.snapshot_s / page_s:.2f}× (≈ 1: same partials, plus subscribe)"),
        ]
        for name, w in (("task page", task_w), ("firmware page", fw_w)):
            rows += [
                (f"{name}: frames/s to the browser", f"{w.frames / elapsed:.1f}",
                 f"{reports / elapsed:,.0f} device reports/s", f"{w.frames / reports:.5f} frames/report"),
                (f"{name}: rows/s, most rows in one frame", f"{w.rows / elapsed:.0f}, {w.max_rows}",
                 f"{reports / elapsed:,.0f} changed rows/s", "≤ 100 rows per frame"),
                (f"{name}: KiB/s to the browser", f"{w.bytes / 1024 / elapsed:.0f}", "—", "—"),
            ]
        rows.append(("Redis events published", f"{published / elapsed:.0f}/s", f"{BATCH} ids each", "—"))
        report(f"Live feed: {DEVICES:,} devices reporting once a second for {SECONDS} s", rows)


if __name__ == "__main__":
    main()
