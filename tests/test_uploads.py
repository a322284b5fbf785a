"""Upload handling: the 1024 MB boundary, streaming into storage, flat memory, clear refusals."""
import hashlib
import io
import os
import time

import psutil
import pytest

from ota.extensions import db
from ota.models import Firmware
from ota.services import uploads
from ota.services.storage import get_storage
from tests.firmware_fixtures import (  # noqa: F401  (fixtures)
    Stream, assert_no_stray_files, check, payload, product, stored_files, upload_form, upload_raw,
)
from tests.test_firmware import field_errors

MiB = 1024 * 1024
GiB = 1024 * MiB


class HashingStream(Stream):
    """A Stream that also computes the MD5 of what it sent, to compare with the server's."""

    def __init__(self, size):
        super().__init__(size)
        self.md5 = hashlib.md5()

    def read(self, n=-1):
        data = super().read(n)
        self.md5.update(data)
        return data


def test_exactly_1024_mib_is_accepted_through_the_raw_endpoint(app, auth_client, product):
    """A generator body of exactly 1024 MiB goes through the real endpoint into real storage."""
    assert app.config["FIRMWARE_MAX_BYTES"] == GiB
    body = HashingStream(GiB)
    rss = psutil.Process().memory_info().rss
    started = time.monotonic()
    r = upload_raw(auth_client, product.id, body, content_length=GiB, filename="big.bin")
    elapsed = time.monotonic() - started
    grown = psutil.Process().memory_info().rss - rss
    assert r.status_code == 201, r.get_data(as_text=True)
    fw = db.session.get(Firmware, r.json["id"])
    assert fw.size == GiB and fw.md5 == body.md5.hexdigest()
    assert get_storage().size(fw.storage_key) == GiB
    print(f"1 GiB through the raw endpoint in {elapsed:.1f} s, RSS grew {grown / MiB:.1f} MiB")
    assert grown < 64 * MiB
    get_storage().delete(fw.storage_key)  # 1 GiB need not outlive the test


def test_1024_mib_plus_one_is_refused_before_a_byte_is_read(app, auth_client, product):
    body = Stream(GiB + 1)
    r = upload_raw(auth_client, product.id, body, content_length=GiB + 1, filename="big.bin")
    assert r.status_code == 413
    page = r.get_data(as_text=True)
    assert 'id="firmware-form"' in page  # the form, for the page's JS to swap in
    assert field_errors(page, "file") == ["文件超过 1024MB，上传的固件文件大小不能超过 1024MB。"]
    assert body.sent == 0
    assert db.session.execute(db.select(Firmware)).first() is None
    assert_no_stray_files(app)


def test_the_browser_is_told_before_sending_a_too_large_file(auth_client, product):
    assert check(auth_client, product.id, size=GiB).status_code == 204
    r = check(auth_client, product.id, size=GiB + 1)
    assert r.status_code == 422 and "1024MB" in field_errors(r.get_data(as_text=True), "file")[0]


@pytest.fixture
def small_limit(app, monkeypatch):
    """FIRMWARE_MAX_BYTES lowered to 100 KiB, to test the exact boundary of every path quickly."""
    monkeypatch.setitem(app.config, "FIRMWARE_MAX_BYTES", 100 * 1024)
    return 100 * 1024


def test_chunked_body_at_the_limit_is_accepted_and_one_byte_more_refused_while_streaming(
        app, auth_client, product, small_limit):
    """Without a Content-Length the limit is enforced as the bytes arrive."""
    r = upload_raw(auth_client, product.id, Stream(small_limit), filename="a.bin", version="1")
    assert r.status_code == 201, r.get_data(as_text=True)
    body = Stream(small_limit + 1)
    r = upload_raw(auth_client, product.id, body, filename="a.bin", version="2")
    assert r.status_code == 413
    assert "100MB" not in r.get_data(as_text=True)  # the configured limit is the one quoted
    assert field_errors(r.get_data(as_text=True), "file")
    assert body.sent == small_limit + 1  # read to the end, so the client sees the answer
    assert db.session.execute(db.select(db.func.count(Firmware.id))).scalar() == 1
    assert_no_stray_files(app)


def test_multipart_fallback_at_the_limit_is_accepted_and_one_byte_more_refused(
        app, auth_client, product, small_limit):
    assert upload_form(auth_client, product.id, os.urandom(small_limit), version="1").status_code == 303
    r = upload_form(auth_client, product.id, os.urandom(small_limit + 1), version="2", name="门铃")
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert field_errors(page, "file") and 'value="门铃"' in page
    assert db.session.execute(db.select(db.func.count(Firmware.id))).scalar() == 1
    assert_no_stray_files(app)


def test_fallback_body_beyond_max_content_length_gets_the_form_and_a_message(app, auth_client, product):
    """Werkzeug refuses the body unread (413); the page still shows the form and says why."""
    body = Stream(app.config["MAX_CONTENT_LENGTH"] + 1)
    r = auth_client.post("/firmware/new", data=b"", content_type="multipart/form-data; boundary=x",
                         environ_overrides={"wsgi.input": body,
                                            "CONTENT_LENGTH": str(app.config["MAX_CONTENT_LENGTH"] + 1)})
    assert r.status_code == 413
    page = r.get_data(as_text=True)
    assert "<html" in page and 'id="firmware-form"' in page
    assert "1024MB" in field_errors(page, "file")[0]
    assert body.sent == 0
    assert_no_stray_files(app)


def test_fallback_streams_the_file_part_into_storage_not_a_temporary_copy(app, product, user):
    """The multipart parser hands the file part to a Receiver that writes into STORAGE_DIR."""
    from werkzeug.test import EnvironBuilder

    data = payload("bin", 3 * MiB)
    builder = EnvironBuilder(path="/firmware/new", method="POST",
                             data={"file": (io.BytesIO(data), "fw.bin"), "name": "a"})
    with app.request_context(builder.get_environ()):
        from flask import request

        rx = request.files["file"].stream
        assert isinstance(rx, uploads.Receiver)
        assert rx.size == len(data) and rx.md5 == hashlib.md5(data).hexdigest()
        assert [f for f in stored_files(app) if f.startswith(".incoming/")]
    # Never committed: closing the request removes the staged file.
    assert stored_files(app) == []


def test_other_endpoints_keep_werkzeugs_own_file_handling(app):
    from werkzeug.test import EnvironBuilder

    builder = EnvironBuilder(path="/login", method="POST", data={"file": (io.BytesIO(b"x"), "a.csv")})
    with app.request_context(builder.get_environ()):
        from flask import request

        assert not isinstance(request.files["file"].stream, uploads.Receiver)


def test_raw_upload_needs_the_csrf_token(app, auth_client, product):
    auth_client.csrf = False
    r = upload_raw(auth_client, product.id, payload("bin"))
    assert r.status_code == 400
    assert_no_stray_files(app)


def test_upload_needs_login(app, client, product):
    r = upload_raw(client, product.id, payload("bin"))
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert_no_stray_files(app)


def test_stale_staging_files_are_cleaned_up(app):
    store = get_storage()
    staged = store.stage()
    staged.write(b"left by a killed process")
    old = time.time() - 2 * 24 * 3600
    os.utime(staged.path, (old, old))
    fresh = store.stage()
    assert store.cleanup_stale(24 * 3600) == 1
    assert not staged.path.exists() and fresh.path.exists()
    fresh.discard()
    assert stored_files(app) == []
