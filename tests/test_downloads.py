"""GET/HEAD /fw_<token>.bin: tokens, ranges at the boundaries, HEAD, no compression, streaming."""
import time

import pytest
from itsdangerous import URLSafeTimedSerializer

from ota.blueprints.downloads.views import byte_range
from ota.services.downloads import download_url, make_token
from tests.devicechannel_fixtures import *  # noqa: F401,F403
from tests.test_live_gunicorn import gunicorn  # noqa: F401  (fixture: a real gunicorn gthread process)

SIZE = 51_008


@pytest.fixture
def fw_url(app, fleet):
    """A stored firmware of SIZE bytes and a device's download path for it."""
    fw = fleet.firmware("1.2.0", data=bytes(i % 251 for i in range(SIZE)))
    dev = fleet.devices(1)[0]
    path = "/" + download_url(fw.id, dev.id).rsplit("/", 1)[1]
    return fw, path


def get(client, path, rng=None, method="GET", **headers):
    if rng is not None:
        headers["Range"] = rng
    headers.setdefault("Accept-Encoding", "gzip, deflate")  # what the SDK sends
    return client.open(path, method=method, headers=headers)


def test_the_whole_file_exactly(client, fw_url):
    fw, path = fw_url
    r = get(client, path)
    assert r.status_code == 200 and r.data == fw.data
    assert r.headers["Content-Length"] == str(SIZE) and r.headers["Accept-Ranges"] == "bytes"
    assert "Content-Encoding" not in r.headers and r.mimetype == "application/octet-stream"
    assert path.startswith("/fw_") and path.endswith(".bin") and path.count("/") == 1


@pytest.mark.parametrize("rng,first,last", [
    ("bytes=0-", 0, SIZE - 1),
    (f"bytes=0-{SIZE}", 0, SIZE - 1),  # the SDK: end = file_size, one past the last byte
    (f"bytes=1000-{SIZE}", 1000, SIZE - 1),  # the SDK resuming
    (f"bytes={SIZE - 1}-", SIZE - 1, SIZE - 1),  # the last byte
    (f"bytes={SIZE - 1}-{SIZE - 1}", SIZE - 1, SIZE - 1),
    ("bytes=0-0", 0, 0),
    ("bytes=100-199", 100, 199),
    (f"bytes=10-{SIZE * 5}", 10, SIZE - 1),  # end beyond the size is clamped
    ("bytes=-500", SIZE - 500, SIZE - 1),
    (f"bytes=-{SIZE * 2}", 0, SIZE - 1),  # a suffix longer than the file means all of it
])
def test_ranges(client, fw_url, rng, first, last):
    fw, path = fw_url
    r = get(client, path, rng)
    assert r.status_code == 206
    assert r.headers["Content-Range"] == f"bytes {first}-{last}/{SIZE}"
    assert r.headers["Content-Length"] == str(last - first + 1)
    assert r.data == fw.data[first:last + 1]
    assert "Content-Encoding" not in r.headers


@pytest.mark.parametrize("rng", [f"bytes={SIZE}-", f"bytes={SIZE + 10}-{SIZE + 20}", "bytes=-0",
                                 f"bytes={SIZE}-{SIZE}", "bytes=" + "9" * 5000 + "-"])
def test_unsatisfiable_ranges_are_416(client, fw_url, rng):
    r = get(client, fw_url[1], rng)
    assert r.status_code == 416 and r.headers["Content-Range"] == f"bytes */{SIZE}"


@pytest.mark.parametrize("rng", ["bytes=0-10,20-30", "items=0-5", "garbage", "bytes=5-2", "bytes=500-100",
                                 "bytes=-", "bytes=", f"bytes={SIZE + 10}-{SIZE}", "bytes=" + "9" * 5000 + "-0"])
def test_ranges_we_do_not_serve_or_invalid_ones_get_the_whole_file(client, fw_url, rng):
    """RFC 9110 section 14.2: an invalid Range (last < first, no positions, another unit) is ignored."""
    fw, path = fw_url
    r = get(client, path, rng)
    assert r.status_code == 200 and r.data == fw.data and "Content-Range" not in r.headers


def test_if_range_with_another_validator_sends_everything(client, fw_url):
    fw, path = fw_url
    assert get(client, path, "bytes=10-", **{"If-Range": '"other"'}).status_code == 200
    assert get(client, path, "bytes=10-", **{"If-Range": f'"{fw.md5}"'}).status_code == 206


def test_head(client, fw_url):
    fw, path = fw_url
    r = get(client, path, method="HEAD")
    assert r.status_code == 200 and r.data == b"" and r.headers["Content-Length"] == str(SIZE)
    r = get(client, path, "bytes=50000-", method="HEAD")
    assert r.status_code == 206 and r.headers["Content-Length"] == "1008" and r.data == b""


def test_no_login_needed_and_no_cookie(client, fw_url):
    r = get(client, fw_url[1])
    assert r.status_code == 200 and "Set-Cookie" not in r.headers


def test_forged_tokens_are_403(app, client, fw_url):
    fw, path = fw_url
    forged = URLSafeTimedSerializer("not-our-secret", salt="ota-firmware-download").dumps([fw.id, 1])
    assert get(client, f"/fw_{forged}.bin").status_code == 403
    token = path[4:-4]
    assert get(client, f"/fw_{token[:-2]}xx.bin").status_code == 403
    assert get(client, "/fw_.bin").status_code in (403, 404)
    assert get(client, "/fw_abc.bin").status_code == 403


def test_expired_tokens_are_403(app, client, fw_url, monkeypatch):
    fw, path = fw_url
    assert get(client, path).status_code == 200
    later = time.time() + app.config["DOWNLOAD_TOKEN_TTL"] + 5
    monkeypatch.setattr(time, "time", lambda: later)  # itsdangerous reads the clock through time.time
    assert get(client, path).status_code == 403


def test_unknown_firmware_or_missing_file_is_404(app, client, fw_url):
    fw, _ = fw_url
    assert get(client, f"/fw_{make_token(fw.id + 999, 1)}.bin").status_code == 404
    other = fw_url[0]
    from ota.extensions import db

    other.storage_key = "0" * 32
    db.session.commit()
    assert get(client, f"/fw_{make_token(other.id, 1)}.bin").status_code == 404


def test_the_body_is_streamed_in_chunks(app, fleet):
    """A file bigger than one chunk arrives in several pieces, never as one buffer."""
    data = bytes(range(256)) * (3 * 4096 + 7)  # ~3 MiB
    fw = fleet.firmware("2.0.0", data=data)
    path = f"/fw_{make_token(fw.id, 1)}.bin"
    with app.test_client() as c:
        r = c.get(path, buffered=False)
        pieces = list(r.response)
        r.close()
    assert len(pieces) >= 3 and max(len(p) for p in pieces) <= 1024 * 1024
    assert b"".join(pieces) == data


def test_byte_range_parser_edges():
    assert byte_range(None, 10) is None
    assert byte_range("bytes=0-", 0) is False
    assert byte_range("bytes= 2 - 4 ", 10) == (2, 4)
    assert byte_range("bytes=5-2", 10) is None and byte_range("bytes=-", 10) is None
    assert byte_range("bytes=0-" + "9" * 5000, 10) == (0, 9)  # no ValueError from int()
    assert byte_range("bytes=-" + "9" * 5000, 10) == (0, 9)


BIG = 3 * 1024 * 1024 + 4097  # several 1 MiB chunks and a ragged end, so offsets and counts matter


@pytest.fixture
def big_fw(app, fleet):
    """A stored firmware of BIG bytes (every byte position distinguishable) and its download path."""
    data = bytes((i * 7 + i // 251) % 256 for i in range(BIG))
    fw = fleet.firmware("3.0.0", data=data)
    return fw, f"/fw_{make_token(fw.id, 1)}.bin"


TO_THE_END = [(None, 0), ("bytes=0-", 0), (f"bytes=1234567-{BIG}", 1234567), (f"bytes={BIG - 1}-", BIG - 1),
              ("bytes=-10", BIG - 10)]


def call_wsgi(app, path, headers=None, file_wrapper=None, method="GET"):
    """Run the app as a WSGI server would; return (status, headers, the app's own iterable)."""
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder(path=path, method=method, headers=headers or {}).get_environ()
    if file_wrapper is not None:
        environ["wsgi.file_wrapper"] = file_wrapper
    got = {}
    body = app(environ, lambda status, hdrs, exc=None: got.update(status=status, headers=dict(hdrs)))
    return int(got["status"].split()[0]), got["headers"], body


@pytest.mark.parametrize("rng,first", TO_THE_END)
def test_to_the_end_ranges_hand_the_server_the_file_under_werkzeug(app, big_fw, rng, first):
    """A response that runs to EOF is werkzeug's FileWrapper over the open file, read from first to EOF."""
    from werkzeug.wsgi import FileWrapper

    fw, path = big_fw
    status, headers, body = call_wsgi(app, path, {"Range": rng} if rng else {})
    assert isinstance(body, FileWrapper) and body.buffer_size == 1024 * 1024
    data = b"".join(body)
    body.close()
    assert status == (206 if rng else 200) and headers["Content-Length"] == str(BIG - first)
    assert data == fw.data[first:]
    with app.test_client() as c:  # and the same through the test client
        assert c.get(path, headers={"Range": rng} if rng else {}).data == fw.data[first:]


@pytest.mark.parametrize("rng,first", TO_THE_END)
def test_to_the_end_ranges_give_a_server_file_wrapper_the_file_at_the_first_byte(app, big_fw, rng, first):
    """What gunicorn's wrapper relies on: a real file whose current offset is the first byte to send."""
    import os

    class Recorder:
        def __init__(self, filelike, blksize=8192):
            self.filelike, self.offset = filelike, os.lseek(filelike.fileno(), 0, os.SEEK_CUR)

    fw, path = big_fw
    status, headers, body = call_wsgi(app, path, {"Range": rng} if rng else {}, file_wrapper=Recorder)
    assert isinstance(body, Recorder) and body.offset == first
    assert headers["Content-Length"] == str(BIG - first)
    body.filelike.close()


def test_ranges_that_stop_early_still_stream_exactly_their_bytes(app, big_fw):
    fw, path = big_fw
    status, headers, body = call_wsgi(app, path, {"Range": "bytes=1000-2099999"}, file_wrapper=object)
    assert status == 206 and headers["Content-Length"] == str(2099000)
    assert not hasattr(body, "filelike") and b"".join(body) == fw.data[1000:2100000]  # our generator


@pytest.mark.slow
def test_to_the_end_ranges_under_gunicorn_send_exactly_the_files_bytes(big_fw, gunicorn):
    """gunicorn's gthread worker sendfile()s from the file offset: whole file, resumes, HEAD, early ends."""
    import requests

    fw, path = big_fw
    sdk = {"Accept-Encoding": "gzip, deflate"}
    r = requests.get(gunicorn + path, headers=sdk, timeout=30)
    assert r.status_code == 200 and r.content == fw.data and r.headers["Content-Length"] == str(BIG)
    for rng, first, last in [("bytes=0-", 0, BIG - 1), (f"bytes={BIG // 2 + 3}-{BIG}", BIG // 2 + 3, BIG - 1),
                             (f"bytes={BIG - 1}-", BIG - 1, BIG - 1), ("bytes=-4097", BIG - 4097, BIG - 1),
                             ("bytes=5-1048580", 5, 1048580)]:
        r = requests.get(gunicorn + path, headers={**sdk, "Range": rng}, timeout=30)
        assert r.status_code == 206, rng
        assert r.headers["Content-Range"] == f"bytes {first}-{last}/{BIG}", rng
        assert r.headers["Content-Length"] == str(last - first + 1) and "Content-Encoding" not in r.headers
        assert r.content == fw.data[first:last + 1], rng
    # Several requests on one keep-alive connection: each response ends exactly at its length.
    with requests.Session() as s:
        for first in (0, 77, BIG - 5):
            assert s.get(gunicorn + path, headers={"Range": f"bytes={first}-{BIG}"}, timeout=30).content \
                == fw.data[first:]
        h = s.head(gunicorn + path, headers={"Range": f"bytes={BIG // 3}-{BIG}"}, timeout=30)
        assert h.status_code == 206 and h.content == b"" and h.headers["Content-Length"] == str(BIG - BIG // 3)
        h = s.head(gunicorn + path, timeout=30)
        assert h.status_code == 200 and h.content == b"" and h.headers["Content-Length"] == str(BIG)
        assert s.get(gunicorn + path, headers={"Range": "bytes=10-"}, timeout=30).content == fw.data[10:]
