"""Firmware upload: a 1 GiB .bin over HTTP into a real web process, MB/s and its peak RSS growth, vs `md5sum`.

The web is `flask --app app run --with-threads` (what `make run` starts) in its own process on a
scratch database and storage. The client signs in like a browser, then sends the file
  raw:       PUT /firmware/upload?<fields> with the file as the body (the page's JS path);
  multipart: POST /firmware/new as multipart/form-data (the no-JS fallback), for comparison.
Both stream from disk in 1 MiB writes. A thread samples the web process's RSS every 20 ms.
Baseline: `md5sum` of the same file (page cache), in the same run; and `cp` of the file into the
storage folder, the write ceiling no upload can pass. Run once with STORAGE_DIR on the disk
(what `make run` does) and once on tmpfs, which shows the upload path without the disk.
Targets (issue 6): raw upload >= 0.5x md5sum's speed; RSS growth <= 64 MB.
"""
import http.client
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import psutil
import requests

from bench.harness import make_app, report, stack_env
from ota.runtime import services

SIZE = int(os.environ.get("BENCH_UPLOAD_MB", 1024)) * 1024 * 1024
ROOT = Path(__file__).resolve().parents[1]
BLOCK = 1024 * 1024


def make_file(path: Path) -> None:
    """Write SIZE bytes of incompressible data (a 64 MiB random block, repeated)."""
    block = os.urandom(64 * BLOCK)
    with path.open("wb") as f:
        left = SIZE
        while left:
            f.write(block[:min(left, len(block))])
            left -= min(left, len(block))


class RssWatch(threading.Thread):
    """Sample a process's resident set size until stopped; remember the peak."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.base = self.peak = self.proc.memory_info().rss
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.02)

    def growth_mb(self) -> float:
        self.halt.set()
        self.join(1)
        return (self.peak - self.base) / 1e6


def login(base: str) -> tuple[str, str]:
    """Sign in; return the Cookie header and the CSRF token."""
    s = requests.Session()
    s.get(f"{base}/login")
    token = re.search(r'name="csrf-token" content="([^"]+)"', s.get(f"{base}/login").text).group(1)
    s.post(f"{base}/login", data={"username": "bench", "password": "correct-horse", "csrf_token": token})
    page = s.get(f"{base}/firmware/new").text
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    return "; ".join(f"{c.name}={c.value}" for c in s.cookies), token


def upload(port: int, pid: int, method: str, path: str, body, length: int, headers: dict) -> tuple[float, float, int]:
    """Send one upload; return (seconds, RSS growth MB, HTTP status)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600, blocksize=BLOCK)
    watch = RssWatch(pid)
    watch.start()
    t0 = time.perf_counter()
    conn.request(method, path, body=body, headers={**headers, "Content-Length": str(length)})
    resp = conn.getresponse()
    resp.read()
    seconds = time.perf_counter() - t0
    conn.close()
    return seconds, watch.growth_mb(), resp.status


def multipart(file: Path, fields: dict, boundary: str):
    """Return (iterable body, length) of a multipart form with fields and the file, streamed from disk."""
    head = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                    for k, v in fields.items())
    head += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n'
             "Content-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def chunks():
        yield head
        with file.open("rb") as f:
            while chunk := f.read(BLOCK):
                yield chunk
        yield tail
    return chunks(), len(head) + file.stat().st_size + len(tail)


def serve_and_upload(env: dict, storage: Path, product_id: int, big: Path, tag: str) -> dict:
    """Start a web process storing under `storage`; upload big raw, then multipart; return the figures."""
    port = services.free_port()
    web_env = {**os.environ, **{k: v for k, v in env.items() if k != "TMP"}, "STORAGE_DIR": str(storage),
               "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
    log = open(Path(env["TMP"]) / f"web-{tag}.log", "w")
    web = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "run", "--port", str(port),
                            "--with-threads", "--no-reload"], cwd=ROOT, env=web_env, stdout=log,
                           stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not services.port_open(port) and time.monotonic() < deadline:
            time.sleep(0.1)
        base = f"http://127.0.0.1:{port}"
        cookie, token = login(base)
        headers = {"Cookie": cookie, "X-CSRFToken": token}
        fields = {"name": "big", "product": product_id, "description": "bench"}
        query = urlencode({**fields, "version": f"{tag}-raw", "filename": "big.bin"})
        os.sync()  # start each upload with no other write-back in flight
        with big.open("rb") as f:
            raw_s, raw_rss, st = upload(port, web.pid, "PUT", f"/firmware/upload?{query}", f, SIZE,
                                        {**headers, "Content-Type": "application/octet-stream"})
        assert st == 201, (st, (Path(env["TMP"]) / f"web-{tag}.log").read_text()[-2000:])
        os.sync()
        boundary = uuid.uuid4().hex
        body, length = multipart(big, {**fields, "version": f"{tag}-mp", "csrf_token": token}, boundary)
        mp_s, mp_rss, st = upload(port, web.pid, "POST", "/firmware/new", body, length,
                                  {**headers, "Content-Type": f"multipart/form-data; boundary={boundary}"})
        assert st == 303, st
    finally:
        services.stop(web)
        log.close()
    return {"raw_s": raw_s, "raw_rss": raw_rss, "mp_s": mp_s, "mp_rss": mp_rss}


def copy_seconds(big: Path, folder: Path) -> float:
    """Time `cp` of the file into folder (the storage's own write ceiling), after a sync."""
    folder.mkdir(parents=True, exist_ok=True)
    os.sync()
    t0 = time.perf_counter()
    subprocess.run(["cp", str(big), str(folder / "cp-test.bin")], check=True)
    seconds = time.perf_counter() - t0
    (folder / "cp-test.bin").unlink()
    os.sync()
    return seconds


def main() -> int:
    with stack_env() as env:
        app = make_app(env)
        with app.app_context():
            from ota.services import products
            from ota.services.accounts import create_user

            user = create_user("bench", "correct-horse")
            product_id = products.create_product(user.account_id, "Bench").id
        big = Path(env["TMP"]) / "big.bin"
        make_file(big)
        subprocess.run(["md5sum", str(big)], capture_output=True, check=True)  # warm the page cache
        t0 = time.perf_counter()
        digest = subprocess.run(["md5sum", str(big)], capture_output=True, text=True, check=True).stdout.split()[0]
        md5_s = time.perf_counter() - t0
        targets = [("disk", Path(env["STORAGE_DIR"]))]
        shm = Path("/dev/shm")
        if shm.is_dir() and shutil.disk_usage(shm).free > 3 * SIZE:
            targets.append(("tmpfs", Path(tempfile.mkdtemp(prefix="ota-bench-", dir=shm))))
        results = {}
        try:
            for tag, folder in targets:
                results[tag] = serve_and_upload(env, folder, product_id, big, tag)
                results[tag]["cp_s"] = copy_seconds(big, folder / "cp")
        finally:
            for tag, folder in targets[1:]:
                shutil.rmtree(folder, ignore_errors=True)
        with app.app_context():
            from ota.extensions import db
            from ota.models import Firmware

            stored = db.session.execute(db.select(Firmware.version, Firmware.md5, Firmware.size)).all()
        assert len(stored) == 2 * len(targets) and all(m == digest and s == SIZE for _v, m, s in stored), stored
    mb = SIZE / 1e6
    rows = []
    for tag, r in results.items():
        where = "STORAGE_DIR on the disk" if tag == "disk" else "STORAGE_DIR on tmpfs (/dev/shm)"
        rows += [
            (f"{where}: raw body PUT (the page's JS), MB/s", f"{mb / r['raw_s']:,.0f} ({r['raw_s']:.2f} s)",
             f"{mb / md5_s:,.0f} (md5sum, {md5_s:.2f} s)", f"{md5_s / r['raw_s']:.2f}x (target >= 0.5x)"),
            (f"{where}: raw body PUT, web RSS growth", f"{r['raw_rss']:.1f} MB", "-", "target <= 64 MB"),
            (f"{where}: multipart POST (no-JS fallback), MB/s", f"{mb / r['mp_s']:,.0f} ({r['mp_s']:.2f} s)",
             f"{mb / md5_s:,.0f}", f"{md5_s / r['mp_s']:.2f}x"),
            (f"{where}: multipart POST, web RSS growth", f"{r['mp_rss']:.1f} MB", "-", "target <= 64 MB"),
            (f"{where}: `cp` of the file into it (write ceiling)", f"{mb / r['raw_s']:,.0f} upload",
             f"{mb / r['cp_s']:,.0f} (cp, {r['cp_s']:.2f} s)", f"{r['cp_s'] / r['raw_s']:.2f}x of cp"),
        ]
    report(f"Firmware upload: a {SIZE // (1024 * 1024)} MiB .bin over HTTP into `flask run --with-threads` "
           "(MD5 + SHA-256 + write while streaming)", rows)
    disk = results["disk"]
    ok = md5_s / disk["raw_s"] >= 0.5 and all(r["raw_rss"] <= 64 and r["mp_rss"] <= 64 for r in results.values())
    print("\nPASS" if ok else "\nBELOW TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
