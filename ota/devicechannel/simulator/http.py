"""A device's firmware download: plain HTTP/1.1 on asyncio streams, Range like the Tencent SDK, MD5 as it goes.

Written on raw streams (not a client library) so the simulator controls every byte: it sends the
SDK's exact `Range: bytes=<offset>-<file_size>`, can drop the connection mid-body, and keeps no
firmware in memory (only the running MD5).
"""
import asyncio
import time
from urllib.parse import urlsplit

READ_TIMEOUT = 10  # the SDK's urllib timeout


class HttpError(Exception):
    """The server refused the download; .status is the HTTP status (0: network)."""

    def __init__(self, status: int, text: str = ""):
        super().__init__(f"HTTP {status} {text}".strip())
        self.status = status


class Dropped(Exception):
    """The simulator cut the connection on purpose (fault injection); .offset is where."""

    def __init__(self, offset: int):
        super().__init__(f"dropped at byte {offset}")
        self.offset = offset


async def fetch(url: str, offset: int, size: int, md5, on_bytes, rate: float | None = None,
                cut_at: int | None = None, stall_at: int | None = None, stall_seconds: float = 0,
                log_range=None) -> int:
    """Download [offset, size) into md5, calling on_bytes(total) per chunk; return the new offset.

    rate limits bytes/s (a slow link); cut_at raises Dropped once that offset is reached;
    stall_at stops reading at that offset for stall_seconds, then times out like the SDK.
    """
    parts = urlsplit(url)
    port = parts.port or 80
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(parts.hostname, port), READ_TIMEOUT)
    except (OSError, asyncio.TimeoutError) as e:
        raise HttpError(0, str(e)) from None
    rng = f"bytes={offset}-{size}"
    if log_range:
        log_range(rng)
    writer.write((f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nRange: {rng}\r\n"
                  "Accept-Encoding: gzip, deflate\r\nConnection: close\r\n\r\n").encode())
    try:
        status, headers = await _head(reader)
        if status not in (200, 206):
            raise HttpError(status)
        if status == 200 and offset:
            raise HttpError(status, "server ignored Range")
        if "content-encoding" in headers:
            raise HttpError(status, "compressed body")
        length = int(headers.get("content-length", size - offset))
        end = offset + length
        chunk = max(4096, int(rate / 4)) if rate else 65536
        started, got = time.monotonic(), 0
        while offset < end:
            if cut_at is not None and offset >= cut_at:
                raise Dropped(offset)
            if stall_at is not None and offset >= stall_at:
                await asyncio.sleep(stall_seconds)
                raise HttpError(0, "download timed out")
            want = min(chunk, end - offset)
            if cut_at is not None and offset < cut_at:
                want = min(want, cut_at - offset)
            data = await asyncio.wait_for(reader.read(want), READ_TIMEOUT)
            if not data:
                raise HttpError(0, "connection closed early")
            md5.update(data)
            offset += len(data)
            got += len(data)
            on_bytes(offset)
            if rate:
                ahead = got / rate - (time.monotonic() - started)
                if ahead > 0:
                    await asyncio.sleep(ahead)
        return offset
    except asyncio.TimeoutError:
        raise HttpError(0, "download timed out") from None
    except (ConnectionError, OSError) as e:
        raise HttpError(0, str(e)) from None
    finally:
        writer.close()


async def _head(reader) -> tuple[int, dict]:
    line = await asyncio.wait_for(reader.readline(), READ_TIMEOUT)
    try:
        status = int(line.split()[1])
    except (IndexError, ValueError):
        raise HttpError(0, f"bad status line {line[:40]!r}") from None
    headers = {}
    while True:
        line = await asyncio.wait_for(reader.readline(), READ_TIMEOUT)
        if line in (b"\r\n", b"\n", b""):
            return status, headers
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
