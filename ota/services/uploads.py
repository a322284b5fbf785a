"""Receiving firmware bytes: stream to staging in chunks, hash (MD5, SHA-256) and sniff as they pass.

Two ways in, one sink: a raw request body (the console's JS sends the file as the body, which is
about three times faster than Werkzeug's multipart parser) and a multipart form (the no-JS
fallback), where StreamedUploadMixin hands the parser a Receiver so the file goes straight to
storage instead of into a second temporary copy.
"""
import hashlib
import re
from concurrent.futures import ThreadPoolExecutor
from typing import BinaryIO

from flask import current_app, g, has_request_context

from ota.services.storage import Staged, Storage, get_storage

CHUNK = 1024 * 1024
HEAD_BYTES = 512  # enough for every signature we check (tar's "ustar" sits at offset 257)

# Both hashes run on pool threads while the request thread reads the next chunk and writes this
# one: hashlib, socket reads and file writes all release the GIL for large buffers, so the upload
# costs about as long as its slowest part (MD5) rather than the sum. One small pool per process.
_hash_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="ota-hash")


class Receiver:
    """A write-only sink that stages a file while counting, hashing and keeping its first bytes.

    Past `limit` bytes it stops writing and deletes what it staged, but keeps counting, so the
    request body can still be read to its end and the page can say why the file was refused.
    """

    def __init__(self, storage: Storage, limit: int, filename: str | None = None):
        self.filename = filename
        self.limit = limit
        self.size = 0
        self.head = b""
        self.too_large = False
        self._md5 = hashlib.md5()
        self._sha = hashlib.sha256()
        self._pending = ()
        self._buf = bytearray()  # the multipart parser hands over 64 KiB pieces; hash 1 MiB at a time
        self._staged: Staged | None = storage.stage()
        if has_request_context():  # the request's teardown discards it unless it was committed
            g.setdefault("ota_receivers", []).append(self)

    def write(self, data) -> int:
        """Take the next chunk of the file."""
        n = len(data)
        self.size += n
        if self.too_large:
            return n
        if self.size > self.limit:
            self.too_large = True
            self._buf.clear()
            self._wait()
            self.discard()
            return n
        if len(self.head) < HEAD_BYTES:
            self.head += bytes(data[: HEAD_BYTES - len(self.head)])
        if n >= CHUNK and not self._buf:
            self._flush(bytes(data))
        else:
            self._buf += data
            if len(self._buf) >= CHUNK:
                self._flush(bytes(self._buf))
                self._buf.clear()
        return n

    def _flush(self, data: bytes) -> None:
        self._wait()
        # The write runs beside the hashes, so the request thread is back on the socket at once:
        # on a disk that throttles write-back, a blocking write here stalled the read for as long.
        self._pending = (_hash_pool.submit(self._md5.update, data), _hash_pool.submit(self._sha.update, data),
                         _hash_pool.submit(self._staged.write, data))

    def _drain(self) -> None:
        """Hash and write what is buffered, and wait for the hash and write threads."""
        if self._buf and self._staged is not None:
            self._flush(bytes(self._buf))
        self._buf.clear()
        self._wait()

    def _wait(self) -> None:
        for future in self._pending:
            future.result()
        self._pending = ()

    @property
    def md5(self) -> str:
        self._drain()
        return self._md5.hexdigest()

    @property
    def sha256(self) -> str:
        self._drain()
        return self._sha.hexdigest()

    def commit(self, key: str) -> None:
        """Move the staged file under key."""
        self._drain()
        self._staged.commit(key)
        self._staged = None

    def discard(self) -> None:
        """Delete the staged file, if it is still staged."""
        if self._staged is not None:
            self._staged.discard()
            self._staged = None

    # Werkzeug's multipart parser treats the sink as a file: it seeks to 0 when the part ends,
    # wraps it in a FileStorage, and closes it when the request ends (close = discard if unused).
    def seek(self, *_args) -> int:
        self._drain()
        return 0

    def tell(self) -> int:
        return self.size

    def read(self, *_args) -> bytes:
        return b""

    def close(self) -> None:
        self._buf.clear()
        self._wait()
        self.discard()

    @property
    def closed(self) -> bool:
        return self._staged is None


def receive_stream(stream: BinaryIO, filename: str, limit: int | None = None) -> Receiver:
    """Stage everything stream yields, in 1 MiB chunks; the caller commits or discards."""
    limit = current_app.config["FIRMWARE_MAX_BYTES"] if limit is None else limit
    rx = Receiver(get_storage(), limit, filename)
    try:
        while chunk := stream.read(CHUNK):
            rx.write(chunk)
    except BaseException:
        rx.close()
        raise
    rx._drain()
    return rx


_QUOTED_FILENAME = re.compile(r'filename="([^"]*)"')


def part_filename(part) -> str | None:
    """Return a multipart file part's filename as the browser sent it.

    Browsers quote the name without escaping backslashes (a quote itself goes as %22), but
    Werkzeug unquotes it as an RFC 2616 quoted-string and drops every backslash, so
    "..\\..\\windows\\a.bin" arrived as "....windowsa.bin". Read it from the part's header.
    """
    header = part.headers.get("Content-Disposition", "") if getattr(part, "headers", None) else ""
    m = _QUOTED_FILENAME.search(header)
    return m.group(1) if m else part.filename


class StreamedUploadMixin:
    """Request mixin: for views marked with `streamed_upload`, multipart files go to a Receiver."""

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        view = current_app.view_functions.get(self.endpoint) if self.endpoint else None
        if getattr(view, "ota_streamed_upload", False):
            return Receiver(get_storage(), current_app.config["FIRMWARE_MAX_BYTES"], filename)
        return super()._get_file_stream(total_content_length, content_type, filename, content_length)


def streamed_upload(view):
    """Mark a view whose multipart file parts should stream straight into storage."""
    view.ota_streamed_upload = True
    return view


def discard_uncommitted(_exc=None) -> None:
    """Delete what this request's Receivers staged and nobody committed.

    A multipart body cut off mid-file (the client went away), a parse error or a refused form
    never hands its Receiver back to a view, and Werkzeug closes only the files of a form it
    finished parsing: without this the .part file stayed on disk for a day.
    """
    for rx in g.pop("ota_receivers", ()):
        try:
            rx.close()
        except Exception:  # noqa: BLE001 - one failed delete must not keep the others
            current_app.logger.exception("could not discard a staged upload")


def install(app) -> None:
    """Give the app a request class with StreamedUploadMixin (composed with whatever it has)."""
    if not issubclass(app.request_class, StreamedUploadMixin):
        app.request_class = type("OtaRequest", (StreamedUploadMixin, app.request_class), {})
        app.teardown_request(discard_uncommitted)


class Declared:
    """What the browser says about a file it has not sent yet (name, size); no content to sniff."""

    head = None
    too_large = False

    def __init__(self, filename: str | None, size: int | None):
        self.filename = filename
        self.size = size
