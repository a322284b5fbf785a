"""Task detail page with 10,000 devices: ms per render of GET /tasks/<id> (whole page and htmx table).

The task's 10,000 records are spread over every status (some upgrading with percents, some failed
with errors). The app is served over real HTTP by werkzeug's threaded server in this process; a
signed-in client asks for the first page, a page deep in the list, a status filter, a search, and
the table fragment htmx asks for when paging. Each is requested REPEAT times; p50 and p95 are shown.
Target (issue 6): <= 100 ms per page render.
"""
import re
import statistics
import sys
import threading
import time

import requests
from werkzeug.serving import make_server

from bench.harness import make_app, report, seed_fleet, stack_env

DEVICES = 10_000
REPEAT = 30
STATUSES = ("pending", "pushed", "upgrading", "upgrading", "succeeded", "succeeded", "succeeded", "failed")


def upgrade_row(n: int) -> dict:
    """Device n's record: the statuses in turn, each with what that status carries."""
    status = STATUSES[n % len(STATUSES)]
    row = {"from_version": "1.0.0", "status": status, "retry_count": n % 3}
    if status == "upgrading":
        row.update(stage="downloading" if n % 2 else "burning", percent=n % 100)
    if status == "failed":
        row.update(error_code="device", error_detail="-4")
    return row


def seed(app) -> int:
    """A user, a product with 10,000 devices, a firmware and one task over all of them; return its id."""
    fleet = seed_fleet(app, DEVICES, user=True, name="cam-{:05d}", secret="x" * 24, fw_size=1, storage_key="bench",
                       task_fields={"device_count": DEVICES, "csv_filename": "fleet.csv"}, task_by_user=True,
                       upgrades=upgrade_row)
    return fleet.task_id


def login(base: str) -> requests.Session:
    s = requests.Session()
    token = re.search(r'name="csrf-token" content="([^"]+)"', s.get(f"{base}/login").text).group(1)
    s.post(f"{base}/login", data={"username": "bench", "password": "correct-horse", "csrf_token": token})
    return s


def timed(session: requests.Session, url: str, headers: dict | None = None) -> tuple[float, float, int]:
    """GET url REPEAT times (after one warm-up); return p50 ms, p95 ms and the body size."""
    session.get(url, headers=headers).raise_for_status()
    times, size = [], 0
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        resp = session.get(url, headers=headers)
        times.append((time.perf_counter() - t0) * 1000)
        resp.raise_for_status()
        size = len(resp.content)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1], size


def main() -> int:
    with stack_env() as env:
        app = make_app(env)
        task_id = seed(app)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        s = login(base)
        page = f"{base}/tasks/{task_id}"
        assert "cam-00000" in s.get(page).text
        fragment = {"HX-Request": "true", "HX-Target": "task-devices"}
        cases = [
            ("whole page, page 1 (100 rows)", page, None),
            ("whole page, page 50", f"{page}?page=50", None),
            ("whole page, filter 升级中", f"{page}?status=upgrading", None),
            ("whole page, search “cam-09”", f"{page}?q=cam-09", None),
            ("htmx table fragment, page 37", f"{page}?page=37", fragment),
        ]
        results = [(what, *timed(s, url, headers)) for what, url, headers in cases]
        server.shutdown()
        dialect = env["DATABASE_URL"].split(":", 1)[0]
    report(f"Task detail page, one task of {DEVICES:,} devices ({dialect}, werkzeug threaded server, "
           f"{REPEAT} requests each)", [
        (f"{what}: ms per render, p50 / p95", f"{p50:.0f} / {p95:.0f} ms", f"— (page {size / 1024:.0f} KiB)",
         "target <= 100 ms") for what, p50, p95, size in results])
    ok = all(p50 <= 100 for _w, p50, _p95, _s in results)
    print("\nPASS" if ok else "\nBELOW TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
