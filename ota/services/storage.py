"""Firmware file storage behind one interface: a local folder now, an S3-compatible store later.

Keys are ids this module generates (32 hex digits); no user-supplied name or path ever reaches
the filesystem. Uploads are written to a staging file inside the same store and moved into
place only when the caller commits, so a failure at any point leaves no file behind.
"""
import os
from abc import ABC, abstractmethod
import re
import secrets
import time
from pathlib import Path
from typing import BinaryIO, Callable

from flask import current_app

KEY_RE = re.compile(r"[0-9a-f]{32}")
STAGING = ".incoming"  # inside the store, so the final move is a rename on the same filesystem
CHUNK = 1024 * 1024


class StorageError(Exception):
    """The store could not read or write a file."""


def new_key() -> str:
    """Return a fresh storage key."""
    return secrets.token_hex(16)


class Staged(ABC):
    """A file being written; commit() moves it under its key, discard() removes it."""

    @abstractmethod
    def write(self, data: bytes) -> int:
        ...

    @abstractmethod
    def commit(self, key: str) -> None:
        ...

    @abstractmethod
    def discard(self) -> None:
        ...


class Storage(ABC):
    """What every firmware store provides."""

    @abstractmethod
    def open(self, key: str) -> BinaryIO:
        """Return a seekable binary reader (for ranged reads)."""
        ...

    @abstractmethod
    def size(self, key: str) -> int:
        ...

    @abstractmethod
    def exists(self, key: str) -> bool:
        ...

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove a stored file; a missing one is not an error."""
        ...

    @abstractmethod
    def stage(self) -> Staged:
        """Start writing a new file."""
        ...

    def save(self, key: str, read: Callable[[int], bytes]) -> int:
        """Store everything read() returns under key; return the byte count."""
        staged = self.stage()
        total = 0
        try:
            while chunk := read(CHUNK):
                total += staged.write(chunk)
            staged.commit(key)
        except BaseException:
            staged.discard()
            raise
        return total

    @abstractmethod
    def cleanup_stale(self, max_age: float) -> int:
        """Remove staging files older than max_age seconds (left by killed processes)."""
        ...

    @abstractmethod
    def remove_orphans(self, known: set[str], max_age: float) -> int:
        """Remove stored files older than max_age seconds whose key is not in known."""
        ...


class _LocalStaged(Staged):
    def __init__(self, store: "LocalStorage"):
        self._store = store
        self.path = store.root / STAGING / f"{new_key()}.part"
        # O_EXCL: never write into a file someone else created.
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        self._file = os.fdopen(fd, "wb", buffering=0)
        self.done = False

    def write(self, data) -> int:
        return self._file.write(data)

    def commit(self, key: str) -> None:
        final = self._store._path(key)
        self._file.close()
        final.parent.mkdir(exist_ok=True)
        os.replace(self.path, final)
        self.done = True

    def discard(self) -> None:
        if not self._file.closed:
            self._file.close()
        if not self.done:
            self.path.unlink(missing_ok=True)
            self.done = True


class LocalStorage(Storage):
    """Files under STORAGE_DIR, sharded by the key's first two digits."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        (self.root / STAGING).mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        if not isinstance(key, str) or not KEY_RE.fullmatch(key):
            raise ValueError("not a storage key")
        return self.root / key[:2] / key

    def open(self, key: str) -> BinaryIO:
        try:
            return open(self._path(key), "rb")
        except OSError as e:
            raise StorageError(str(e)) from e

    def size(self, key: str) -> int:
        return self._path(key).stat().st_size

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def stage(self) -> Staged:
        (self.root / STAGING).mkdir(parents=True, exist_ok=True)
        return _LocalStaged(self)

    def cleanup_stale(self, max_age: float) -> int:
        cutoff = time.time() - max_age
        removed = 0
        for p in (self.root / STAGING).glob("*.part"):
            try:
                if p.stat().st_mtime < cutoff:
                    p.unlink()
                    removed += 1
            except FileNotFoundError:
                pass
        return removed

    def remove_orphans(self, known: set[str], max_age: float) -> int:
        """Remove stored files older than max_age whose key is not in known."""
        cutoff = time.time() - max_age
        removed = 0
        for p in self.root.glob("??/*"):
            if KEY_RE.fullmatch(p.name) and p.name not in known and p.stat().st_mtime < cutoff:
                p.unlink(missing_ok=True)
                removed += 1
        return removed


def get_storage() -> Storage:
    """Return the app's store (one per app, from STORAGE_DIR)."""
    store = current_app.extensions.get("ota_storage")
    if store is None or str(getattr(store, "root", "")) != str(current_app.config["STORAGE_DIR"]):
        store = LocalStorage(current_app.config["STORAGE_DIR"])
        current_app.extensions["ota_storage"] = store
    return store
