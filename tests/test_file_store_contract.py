"""The store's files (``datastore.files``), on every adapter: chunked writes, readable only
once closed, removable whether complete or not."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from datastore.files import CHUNK_SIZE, NoSuchFile
from datastore.sqlite import SQLiteStore
from datastore.store import DocumentStore
from tests.stores import ADAPTERS, drop_store, open_store, write_locked


@pytest.fixture(params=ADAPTERS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[DocumentStore]:
    opened = await open_store(request.param, tmp_path)
    yield opened
    await drop_store(opened)


async def _read(store: DocumentStore, file_id: str) -> bytes:
    return b"".join([chunk async for chunk in store.files.read(file_id)])


def _new_id() -> str:
    return f"fil_{uuid.uuid4().hex}"


async def test_a_closed_file_reads_back_byte_for_byte_chunk_by_chunk(
    store: DocumentStore,
) -> None:
    data = os.urandom(CHUNK_SIZE * 2 + 1234)
    file_id = _new_id()
    writer = store.files.open_writer(file_id)
    # Uneven pieces, so chunks are cut across writes.
    for start in range(0, len(data), 100_000):
        await writer.write(data[start : start + 100_000])
    await writer.close()
    chunks = [chunk async for chunk in store.files.read(file_id)]
    assert b"".join(chunks) == data
    assert hashlib.sha256(b"".join(chunks)).digest() == hashlib.sha256(data).digest()
    assert max(len(chunk) for chunk in chunks) <= CHUNK_SIZE
    assert len(chunks) == 3


async def test_an_empty_file_is_a_file(store: DocumentStore) -> None:
    file_id = _new_id()
    await store.files.open_writer(file_id).close()
    assert await _read(store, file_id) == b""


async def test_a_file_is_not_readable_before_close_nor_after_abort(store: DocumentStore) -> None:
    file_id = _new_id()
    writer = store.files.open_writer(file_id)
    await writer.write(os.urandom(CHUNK_SIZE + 10))  # one chunk stored, the rest buffered
    with pytest.raises(NoSuchFile):
        await _read(store, file_id)
    await writer.abort()
    with pytest.raises(NoSuchFile):
        await _read(store, file_id)


async def test_delete_removes_complete_and_unfinished_files(store: DocumentStore) -> None:
    done, unfinished = _new_id(), _new_id()
    writer = store.files.open_writer(done)
    await writer.write(b"line\n")
    await writer.close()
    left = store.files.open_writer(unfinished)
    await left.write(os.urandom(CHUNK_SIZE * 2))  # a writer that died: chunks, no file
    await store.files.delete(done)
    await store.files.delete(unfinished)
    await store.files.delete(_new_id())  # nothing there: nothing to do
    with pytest.raises(NoSuchFile):
        await _read(store, done)
    # The id of the unfinished file can be written afresh: its old chunks are gone.
    again = store.files.open_writer(unfinished)
    await again.write(b"fresh\n")
    await again.close()
    assert await _read(store, unfinished) == b"fresh\n"


async def test_a_store_that_never_stored_a_file_has_none_and_takes_one(
    store: DocumentStore,
) -> None:
    with pytest.raises(NoSuchFile):
        await _read(store, _new_id())
    file_id = _new_id()
    await store.files.open_writer(file_id).close()
    assert await _read(store, file_id) == b""


async def test_reading_a_file_on_sqlite_waits_for_no_writer(tmp_path: Path) -> None:
    """While another process holds the write lock, a file not stored is NoSuchFile at once (a
    read that made its tables would wait for the lock, then fail STORE_UNAVAILABLE)."""
    store = SQLiteStore(tmp_path / "files.sqlite3", busy_timeout_ms=100)
    await store.connect()
    try:
        with write_locked(store.path, "IMMEDIATE"), pytest.raises(NoSuchFile):
            await _read(store, _new_id())
    finally:
        await store.close()
