"""An upload cut off mid-file, or refused, leaves nothing staged: a real socket against a real server."""
import re
import socket
import time
from pathlib import Path

import pytest

from ota.services.storage import STAGING
from tests.firmware_fixtures import fields, payload, product, upload_form, upload_raw  # noqa: F401
from tests.live_fixtures import cookie_header, http_login, live_server  # noqa: F401


def staged(app) -> list[Path]:
    return sorted((Path(app.config["STORAGE_DIR"]) / STAGING).glob("*.part"))


def wait_until_empty(app, seconds=5.0) -> list[Path]:
    deadline = time.monotonic() + seconds
    while staged(app) and time.monotonic() < deadline:
        time.sleep(0.05)
    return staged(app)


def send_half(base: str, session, head: bytes, file_bytes: int, sent: int, method="POST", path="/firmware/new",
              content_type=None) -> None:
    """Send headers promising the whole body, then `head` and `sent` file bytes, and close the socket."""
    page = session.get(f"{base}/firmware/new").text
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    host, port = base.removeprefix("http://").split(":")
    total = len(head) + file_bytes + 100
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall((f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nCookie: {cookie_header(session)}\r\n"
                  f"X-CSRFToken: {token}\r\nContent-Type: {content_type}\r\nContent-Length: {total}\r\n\r\n").encode())
    sock.sendall(head + b"\x01" * sent)
    time.sleep(0.5)  # the server is now writing the part file
    sock.close()


@pytest.mark.parametrize("file_bytes", [200_000, 5 * 1024 * 1024])
def test_a_multipart_upload_cut_off_mid_file_leaves_no_part_file(app, live_server, product, file_bytes):
    session = http_login(live_server)
    boundary = "----otatestboundary"
    head = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields(product.id).items()
    ) + f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="fw.bin"\r\n' \
        f"Content-Type: application/octet-stream\r\n\r\n".encode()
    send_half(live_server, session, head, file_bytes, file_bytes // 2,
              content_type=f"multipart/form-data; boundary={boundary}")
    assert wait_until_empty(app) == []


def test_a_raw_upload_cut_off_mid_file_leaves_no_part_file(app, live_server, product):
    session = http_login(live_server)
    from urllib.parse import urlencode

    query = urlencode(dict(fields(product.id), filename="fw.bin"))
    send_half(live_server, session, b"", 4 * 1024 * 1024, 2 * 1024 * 1024, method="PUT",
              path=f"/firmware/upload?{query}", content_type="application/octet-stream")
    assert wait_until_empty(app) == []


def test_refused_uploads_leave_no_part_file(app, auth_client, product):
    assert upload_form(auth_client, product.id, payload("bin"), filename="fw.exe").status_code == 422
    assert upload_form(auth_client, product.id, b"not gzip", filename="fw.gz").status_code == 422
    assert upload_raw(auth_client, product.id, b"not a zip", filename="fw.zip").status_code == 422
    assert staged(app) == []
