"""The firmware store: generated keys only, staged writes, ranged reads, cleanup."""
import io
import os
import time

import pytest

from ota.services.storage import LocalStorage, StorageError, get_storage, new_key
from tests.firmware_fixtures import stored_files


@pytest.mark.parametrize("key", ["../../etc/passwd", "/etc/passwd", "ab", "A" * 32, "0" * 31 + "/",
                                 "0" * 33, "", None, "fw.bin"])
def test_only_generated_keys_reach_the_filesystem(app, key):
    store = get_storage()
    for call in (store.open, store.size, store.exists, store.delete):
        with pytest.raises(ValueError):
            call(key)


def test_save_open_size_delete(app):
    store = get_storage()
    key = new_key()
    data = os.urandom(3 * 1024 * 1024 + 5)
    assert store.save(key, io.BytesIO(data).read) == len(data)
    assert store.exists(key) and store.size(key) == len(data)
    with store.open(key) as f:
        f.seek(1024 * 1024)
        assert f.read(10) == data[1024 * 1024:1024 * 1024 + 10]
    store.delete(key)
    store.delete(key)  # a missing file is not an error
    assert not store.exists(key) and stored_files(app) == []
    with pytest.raises(StorageError):
        store.open(key)


def test_a_failed_save_leaves_nothing(app):
    store = get_storage()

    def read(_n, chunks=iter([b"x" * 100])):
        chunk = next(chunks, None)
        if chunk is None:
            raise OSError("source failed")
        return chunk

    with pytest.raises(OSError):
        store.save(new_key(), read)
    assert stored_files(app) == []


def test_staged_files_appear_only_on_commit(app):
    store = get_storage()
    staged = store.stage()
    staged.write(b"abc")
    key = new_key()
    assert not store.exists(key)
    staged.commit(key)
    assert store.exists(key) and stored_files(app) == [f"{key[:2]}/{key}"]
    other = store.stage()
    other.write(b"x")
    other.discard()
    assert stored_files(app) == [f"{key[:2]}/{key}"]


def test_orphans_older_than_the_grace_period_are_removed(app):
    store = get_storage()
    kept, orphan, young = new_key(), new_key(), new_key()
    for k in (kept, orphan, young):
        store.save(k, io.BytesIO(b"x").read)
    old = time.time() - 7200
    for k in (kept, orphan):
        os.utime(store._path(k), (old, old))
    assert store.remove_orphans({kept}, 3600) == 1
    assert store.exists(kept) and not store.exists(orphan) and store.exists(young)


def test_storage_follows_the_configured_folder(tmp_path):
    store = LocalStorage(tmp_path / "fw")
    key = new_key()
    store.save(key, io.BytesIO(b"data").read)
    assert (tmp_path / "fw" / key[:2] / key).read_bytes() == b"data"
