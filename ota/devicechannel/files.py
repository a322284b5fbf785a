"""Reading firmware files for devices, through the firmware store (ota.services.storage)."""
import io
from pathlib import Path
from typing import BinaryIO

from flask import current_app

from ota.models import Firmware

try:
    from ota.services.storage import StorageError, get_storage
except ImportError:  # the store is written in parallel; until then, the plain folder layout
    StorageError, get_storage = OSError, None


def open_firmware(fw: Firmware) -> tuple[BinaryIO, int] | None:
    """Return (seekable reader, size) of a firmware's stored file, or None when it is missing."""
    try:
        if get_storage is not None:
            store = get_storage()
            if not store.exists(fw.storage_key):
                return None
            return store.open(fw.storage_key), store.size(fw.storage_key)
        path = Path(current_app.config["STORAGE_DIR"]) / fw.storage_key
        return open(path, "rb"), path.stat().st_size
    except (OSError, ValueError, StorageError):
        return None


def save_firmware_bytes(key: str, data: bytes) -> None:
    """Store bytes under key (tests, benchmarks and the simulator's demo firmware)."""
    if get_storage is not None:
        get_storage().save(key, io.BytesIO(data).read)
        return
    path = Path(current_app.config["STORAGE_DIR"]) / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
