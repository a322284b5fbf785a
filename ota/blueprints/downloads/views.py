"""Firmware downloads for devices: GET/HEAD /fw_<token>.bin, public, ranged, never compressed; to EOF by sendfile.

The Tencent SDK always sends `Range: bytes=<offset>-<file_size>` (an end one past the last byte)
and `Accept-Encoding: gzip`; it needs 206 for the range and exactly the file's bytes.
"""
import logging
import re

from flask import Response, abort, request
from werkzeug.wsgi import wrap_file

from ota.access import public
from ota.blueprints.downloads import bp
from ota.devicechannel.files import open_firmware
from ota.extensions import db
from ota.models import Firmware
from ota.services.downloads import read_token

log = logging.getLogger(__name__)
CHUNK = 1024 * 1024
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def _position(digits: str) -> int:
    """A byte position; past 18 digits it is beyond any file (and int() would refuse 4300+ digits)."""
    return int(digits) if len(digits) <= 18 else 10**18


def byte_range(header: str | None, size: int) -> tuple[int, int] | None | bool:
    """Return (first, last) inclusive for a single Range header, None for the whole file,
    False for an unsatisfiable range (416). RFC 9110 section 14.2: a Range header that is not a
    valid byte range ("bytes=5-2", "bytes=-", another unit) is ignored; several ranges are served
    as the whole file (allowed)."""
    if not header:
        return None
    m = _RANGE.fullmatch(header.strip().replace(" ", ""))
    if m is None:
        return None  # not a byte range we understand (or several): ignore it, send everything
    first, last = m.groups()
    if first == "" and last == "":
        return None  # "bytes=-" is no range at all
    if first == "":  # the last n bytes; more than the file means all of it
        n = _position(last)
        if n == 0 or size == 0:
            return False  # valid, but a zero-length suffix (or an empty file) is unsatisfiable
        return max(0, size - n), size - 1
    first = _position(first)
    if last != "" and _position(last) < first:
        return None  # invalid (RFC 9110 section 14.1.1): ignored, not 416
    if first >= size:
        return False
    last = size - 1 if last == "" else min(_position(last), size - 1)  # the SDK sends end = size
    return first, last


def _is_real_file(reader) -> bool:
    """True when reader has an OS file descriptor (so the server can sendfile() from it)."""
    try:
        reader.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
        return False
    return True


def _stream(reader, first: int, length: int):
    """Yield the file's bytes from first, length of them, in 1 MiB chunks; close the file."""
    try:
        reader.seek(first)
        left = length
        while left > 0:
            chunk = reader.read(min(CHUNK, left))
            if not chunk:
                log.error("firmware file ended %d bytes early", left)
                return
            left -= len(chunk)
            yield chunk
    finally:
        reader.close()


@bp.route("/fw_<token>.bin", methods=["GET", "HEAD"])
@public
def firmware_file(token: str):
    """Send a firmware file to the device its signed, unexpired token was made for."""
    ids = read_token(token)
    if ids is None:
        abort(403)
    fw = db.session.get(Firmware, ids[0])
    if fw is None:
        abort(404)
    opened = open_firmware(fw)
    if opened is None:
        log.error("firmware %s has no stored file %s", fw.id, fw.storage_key)
        abort(404)
    reader, size = opened
    etag = f'"{fw.md5}"'
    wanted = request.headers.get("Range")
    if_range = request.headers.get("If-Range")
    if if_range and if_range.strip() != etag:
        wanted = None  # the device holds another file's bytes: send the whole one
    span = byte_range(wanted, size)
    headers = {"Accept-Ranges": "bytes", "ETag": etag, "Cache-Control": "private, no-transform",
               "Content-Disposition": f'attachment; filename="fw_{fw.id}_{fw.version}.bin"'}
    if span is False:
        reader.close()
        return Response(status=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    first, last = span if span else (0, size - 1)
    length = last - first + 1 if size else 0
    headers["Content-Length"] = str(length)
    if span:
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    if request.method == "HEAD":
        reader.close()
        body = []
    elif last == size - 1 and _is_real_file(reader):
        # To the end of the file (every SDK request): hand the server the open file. gunicorn's
        # wsgi.file_wrapper sendfile()s Content-Length bytes from the file's current offset
        # (zero-copy); werkzeug's FileWrapper reads from there to EOF, which is the same bytes.
        reader.seek(first)
        body = wrap_file(request.environ, reader, CHUNK)
    else:
        body = _stream(reader, first, length)
    resp = Response(body, status=206 if span else 200, headers=headers,
                    mimetype="application/octet-stream", direct_passthrough=True)
    return resp
