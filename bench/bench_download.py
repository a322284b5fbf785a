"""Firmware downloads: 100 concurrent ranged GETs of /fw_<token>.bin, MB/s vs reading the file from disk.

Served twice: by werkzeug's threaded server (what `make run` uses) in this process, and by a separate
gunicorn process (`-k gthread`, what production runs; its file wrapper sendfile()s). Clients are
threads doing SDK-style `Range: bytes=<offset>-<file_size>` requests over loopback with http.client.
Baseline: the same bytes read from the stored file in 1 MiB chunks (page cache), in the same run.
"""
import hashlib
import http.client
import logging
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from werkzeug.serving import make_server

from bench.harness import make_app, report, stack_env
from ota.runtime import services
from ota.devicechannel.files import save_firmware_bytes
from ota.extensions import db
from ota.models import Account, Firmware, Product
from ota.services.downloads import make_token

CLIENTS = int(os.environ.get("BENCH_CLIENTS", 100))
SIZE = int(os.environ.get("BENCH_FW_MB", 8)) * 1024 * 1024
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUNICORN = ["-k", "gthread", "--workers", os.environ.get("BENCH_GUNICORN_WORKERS", "2"),
            "--threads", os.environ.get("BENCH_GUNICORN_THREADS", "50")]


def fetch(port: int, path: str, offset: int) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", path, headers={"Range": f"bytes={offset}-{SIZE}", "Accept-Encoding": "gzip, deflate"})
    resp = conn.getresponse()
    assert resp.status == 206 and "Content-Encoding" not in resp.headers, resp.status
    n = 0
    while chunk := resp.read(256 * 1024):
        n += len(chunk)
    conn.close()
    assert n == SIZE - offset, (n, SIZE - offset)
    return n


def run_clients(port: int, paths: list[str], offsets: list[int]) -> float:
    """All clients at once; return the wall time for every byte to arrive."""
    t0 = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        got = sum(pool.map(lambda a: fetch(port, *a), zip(paths, offsets)))
    assert got == sum(SIZE - o for o in offsets)
    return time.perf_counter() - t0


def start_gunicorn(env: dict) -> tuple[subprocess.Popen, int]:
    """`gunicorn -k gthread ... app:app` as its own process on env's services; wait until it answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", *GUNICORN, "--log-level", "warning",
                             "-b", f"127.0.0.1:{port}", "app:app"], cwd=ROOT,
                            env={**os.environ, **{k: v for k, v in env.items() if k != "TMP"}})
    deadline = time.monotonic() + 30
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/login")
            conn.getresponse().read()
            conn.close()
            return proc, port
        except OSError:  # listening before the workers have booted
            if proc.poll() is not None or time.monotonic() > deadline:
                services.stop(proc)
                raise RuntimeError("gunicorn did not start")
            time.sleep(0.2)


def main() -> int:
    with stack_env() as env:
        app = make_app(env)
        data = os.urandom(SIZE)
        with app.app_context():
            acct = Account(name="bench")
            db.session.add(acct)
            db.session.flush()
            product = Product(account_id=acct.id, code="BENCHDL001", name="Bench")
            db.session.add(product)
            db.session.flush()
            key = secrets.token_hex(16)
            save_firmware_bytes(key, data)
            fw = Firmware(account_id=acct.id, product_id=product.id, name="fw", version="2.0.0", filename="fw.bin",
                          storage_key=key, size=SIZE, md5=hashlib.md5(data).hexdigest(), sha256="0" * 64)
            db.session.add(fw)
            db.session.commit()
            paths = [f"/fw_{make_token(fw.id, i)}.bin" for i in range(CLIENTS)]
            from ota.devicechannel.files import open_firmware

            reader, _ = open_firmware(fw)
            disk_path = reader.name
            reader.close()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not 100 access-log lines in the table
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        offsets = [(i * 7919 * 1024) % (SIZE // 2) for i in range(CLIENTS)]  # resumes from all over the file
        total = sum(SIZE - o for o in offsets)

        served = run_clients(server.server_port, paths, offsets)
        server.shutdown()

        proc, port = start_gunicorn(env)
        try:
            run_clients(port, paths[:2], offsets[:2])  # every worker imported and connected once
            served_gunicorn = run_clients(port, paths, offsets)
        finally:
            services.stop(proc)

        t0 = time.perf_counter()
        read = 0
        for o in offsets:
            with open(disk_path, "rb") as f:
                f.seek(o)
                while chunk := f.read(1024 * 1024):
                    read += len(chunk)
        disk = time.perf_counter() - t0
    mb = total / 1e6
    report(f"Downloads: {CLIENTS} concurrent ranged GETs of a {SIZE // (1024 * 1024)} MiB firmware "
           f"({mb:,.0f} MB in all); werkzeug threaded server, and gunicorn {' '.join(GUNICORN)} "
           f"(its own process)", [
        ("MB/s served over HTTP, werkzeug", f"{mb / served:,.0f}", f"{mb / disk:,.0f} (read from disk)",
         f"{disk / served:.2f}x (>= 0.5x)"),
        ("MB/s served over HTTP, gunicorn", f"{mb / served_gunicorn:,.0f}", f"{mb / disk:,.0f} (read from disk)",
         f"{disk / served_gunicorn:.2f}x (>= 0.5x)"),
        ("wall time, werkzeug", f"{served:.2f} s", f"{disk:.2f} s", "-"),
        ("wall time, gunicorn", f"{served_gunicorn:.2f} s", f"{disk:.2f} s", "-"),
    ])
    return 0


if __name__ == "__main__":
    sys.exit(main())
