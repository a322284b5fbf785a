"""Helpers for the firmware tests: real archive bytes, the two upload paths, storage listing."""
import gzip
import io
import os
import tarfile
import zipfile
from pathlib import Path
from urllib.parse import urlencode

import pytest

from ota.extensions import db
from ota.models import Account, Firmware


def payload(kind: str, size: int = 2048) -> bytes:
    """Return real bytes of a kind: bin, gzip, zip, emptyzip or tar."""
    if kind == "bin":
        return os.urandom(size)
    if kind == "gzip":
        return gzip.compress(os.urandom(size))
    if kind == "zip":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("fw.bin", os.urandom(size))
        return buf.getvalue()
    if kind == "emptyzip":
        buf = io.BytesIO()
        zipfile.ZipFile(buf, "w").close()
        return buf.getvalue()
    if kind == "tar":
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as t:
            info = tarfile.TarInfo("fw.bin")
            data = os.urandom(size)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        return buf.getvalue()
    raise ValueError(kind)


def fields(product_id, name="门铃固件", version="1.0.0", description=""):
    return {"name": name, "product": str(product_id), "version": version, "description": description}


def upload_form(client, product_id, data: bytes, filename="fw.bin", **kw):
    """The no-JS path: a multipart POST to /firmware/new."""
    body = fields(product_id, **kw)
    body["file"] = (io.BytesIO(data), filename)
    return client.post("/firmware/new", data=body, content_type="multipart/form-data")


def upload_raw(client, product_id, data, filename="fw.bin", content_length=None, **kw):
    """The JS path's second step: the file as a raw PUT body, the fields in the query string.

    data may be a Stream; then the body is read from it as the server asks (never held in
    memory), with Content-Length content_length, or chunked (no length) when that is None.
    """
    query = urlencode(dict(fields(product_id, **kw), filename=filename))
    overrides = {}
    if not isinstance(data, (bytes, bytearray)):
        overrides = {"wsgi.input": data}
        if content_length is None:
            overrides.update({"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True})
        else:
            overrides["CONTENT_LENGTH"] = str(content_length)
        data = b""
    return client.put(f"/firmware/upload?{query}", data=data, content_type="application/octet-stream",
                      environ_overrides=overrides)


def check(client, product_id, filename="fw.bin", size=100, **kw):
    """The JS path's first step: fields plus the file's name and size."""
    body = dict(fields(product_id, **kw), filename=filename, size=str(size))
    return client.post("/firmware/new/check", data=body)


def stored_files(app) -> list[str]:
    """Every file under STORAGE_DIR (staging included), relative."""
    root = Path(app.config["STORAGE_DIR"])
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def assert_no_stray_files(app):
    """Storage holds exactly the files of existing firmware rows, nothing staged or orphaned."""
    keys = set(db.session.execute(db.select(Firmware.storage_key)).scalars())
    files = stored_files(app)
    assert files == sorted(f"{k[:2]}/{k}" for k in keys), files


def firmware_count(account_id) -> int:
    db.session.expire_all()
    return db.session.get(Account, account_id).firmware_count


class Stream:
    """A file-like body of exactly `size` bytes made on the fly (never all in memory)."""

    def __init__(self, size: int, head: bytes = b""):
        self.size = size
        self.sent = 0
        self.reads = 0
        self._block = (head + os.urandom(1024 * 1024))[: 1024 * 1024]
        self._rest = os.urandom(1024 * 1024)

    def read(self, n: int = -1) -> bytes:
        self.reads += 1
        if n is None or n < 0:
            n = self.size - self.sent
        n = min(n, self.size - self.sent, 1024 * 1024)
        block = self._block if self.sent == 0 else self._rest
        self.sent += n
        return block[:n]


@pytest.fixture
def product(app, user, make_product):
    """Alice's product DoorCam."""
    return make_product(user.account_id)
