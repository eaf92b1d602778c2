"""The blob store's ways in: a stream, a finished file, and a form's file received straight into the store
(hashed as written, kept by a rename); large files, writeback asked for on the way, arrive intact."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from tests.services.test_inspect import _photo
from validation.storage import BlobStore, ContentRefused, EmptyFile, TooLarge, inspect
from validation.storage.blobs import WRITEBACK_STEP

MB = 1024 * 1024


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def receive(store: BlobStore, data: bytes, max_bytes: int = 64 * MB, piece: int = 64 * 1024):  # type: ignore[no-untyped-def]
    """Write `data` as werkzeug's form parser does: in pieces, then back to the start."""
    received = store.receiving_file(max_bytes)
    for start in range(0, len(data), piece):
        received.write(data[start:start + piece])
    received.seek(0)
    return received


def test_a_received_file_is_hashed_as_written_and_kept_by_a_rename(tmp_path):
    store = BlobStore(tmp_path / "store")
    data = os.urandom(WRITEBACK_STEP * 2 + 12345)  # several writebacks asked for on the way
    received = receive(store, data)
    assert received.path.parent == store.work_dir  # the same file system as the store: a rename suffices
    inode = received.path.stat().st_ino
    assert received.read(5) == data[:5]  # readable, as werkzeug's FileStorage expects
    stored = store.put_received(received)
    assert stored.sha256 == hashlib.sha256(data).hexdigest() and stored.size == len(data)
    assert stored.path.read_bytes() == data
    assert stored.path.stat().st_ino == inode  # moved, not copied
    received.close()
    assert files_under(tmp_path / "store") == [stored.path]


def test_a_received_file_not_stored_is_removed_when_closed(tmp_path):
    store = BlobStore(tmp_path / "store")
    received = receive(store, b"never stored")
    assert received.path.exists()
    received.close()
    assert files_under(tmp_path / "store") == []


def test_a_received_file_past_the_limit_keeps_nothing_and_is_refused(tmp_path):
    store = BlobStore(tmp_path / "store")
    received = receive(store, b"x" * (3 * MB), max_bytes=2 * MB)
    assert received.too_large
    assert received.path.stat().st_size == 0  # an oversized file costs no disk while the rest arrives
    with pytest.raises(TooLarge):
        store.put_received(received)
    received.close()
    assert files_under(tmp_path / "store") == []


def test_an_empty_received_file_is_refused(tmp_path):
    store = BlobStore(tmp_path / "store")
    received = receive(store, b"")
    with pytest.raises(EmptyFile):
        store.put_received(received)
    received.close()
    assert files_under(tmp_path / "store") == []


def test_a_received_photo_loses_its_original_at_once(tmp_path):
    """The original, with its GPS position, does not wait for the end of the request to go."""
    store = BlobStore(tmp_path / "store")
    original = _photo("JPEG")
    received = receive(store, original)
    stored = store.put_received(received, check=inspect)
    assert not received.path.exists()
    assert stored.path.read_bytes() != original
    assert files_under(tmp_path / "store") == [stored.path]
    received.close()


def test_a_refused_received_file_leaves_nothing(tmp_path):
    store = BlobStore(tmp_path / "store")
    received = receive(store, b"%PDF-1.4\n<html></html>")
    with pytest.raises(ContentRefused):
        store.put_received(received, check=inspect)
    assert files_under(tmp_path / "store") == []
    received.close()


def test_the_same_bytes_received_twice_are_stored_once(tmp_path):
    store = BlobStore(tmp_path / "store")
    first = store.put_received(receive(store, b"the same recipe\n"))
    again = receive(store, b"the same recipe\n")
    second = store.put_received(again)
    assert second.path == first.path and second.existed and not first.existed
    assert files_under(tmp_path / "store") == [first.path]


def test_a_large_stream_arrives_intact(tmp_path):
    store = BlobStore(tmp_path / "store")
    data = os.urandom(WRITEBACK_STEP * 2 + 777)
    stored = store.put(io.BytesIO(data), 64 * MB)
    assert stored.path.read_bytes() == data
    assert files_under(tmp_path / "store") == [stored.path]
