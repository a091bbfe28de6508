"""Files on SQLite: numbered chunks in one table, and a row per complete file in another.

Each chunk is its own short write (the single writer is never held for a whole file); the
file's row is written by ``close`` after the last chunk, and reads start from that row, so a
file whose writer died midway is never read. See ``datastore.files``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from datastore.files import CHUNK_SIZE, FileStore, FileWriter, NoSuchFile

if TYPE_CHECKING:
    from datastore.sqlite import SQLiteStore

_CHUNKS = "_file_chunks"
_FILES = "_files"
_TABLES = {
    _CHUNKS: f'CREATE TABLE IF NOT EXISTS "{_CHUNKS}" (file_id TEXT NOT NULL, '
    "n INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (file_id, n))",
    _FILES: f'CREATE TABLE IF NOT EXISTS "{_FILES}" (id TEXT PRIMARY KEY, '
    "length INTEGER NOT NULL, chunks INTEGER NOT NULL)",
}


class SQLiteFiles(FileStore):
    """The files of one :class:`SQLiteStore` (its connections and its writer's lock)."""

    def __init__(self, store: SQLiteStore) -> None:
        self._store = store
        self._ready = False

    async def _tables(self) -> None:
        if not self._ready:
            for table, statement in _TABLES.items():
                if not await self._store._has_table(table):
                    await self._store._write(table, statement, [])
            self._ready = True

    def open_writer(self, file_id: str) -> FileWriter:
        return _Writer(self, file_id)

    async def read(self, file_id: str) -> AsyncIterator[bytes]:
        # A read makes no table (that would be a write, waiting for the writer, on its path).
        if not await self._store._has_table(_FILES):
            raise NoSuchFile(file_id)
        rows = await self._store._fetch(f'SELECT chunks FROM "{_FILES}" WHERE id = ?', [file_id], 0)
        if not rows:
            raise NoSuchFile(file_id)
        for n in range(int(rows[0][0])):
            # One chunk per read: memory stays one chunk whatever the file's size.
            found = await self._store._fetch(
                f'SELECT data FROM "{_CHUNKS}" WHERE file_id = ? AND n = ?', [file_id, n], 0
            )
            if not found:
                raise NoSuchFile(file_id)  # deleted while being read
            yield bytes(found[0][0])

    async def delete(self, file_id: str) -> None:
        await self._tables()

        async def work() -> None:
            await self._store._write(_FILES, f'DELETE FROM "{_FILES}" WHERE id = ?', [file_id])
            await self._store._write(
                _CHUNKS, f'DELETE FROM "{_CHUNKS}" WHERE file_id = ?', [file_id]
            )

        await self._store.transaction(work)


class _Writer(FileWriter):
    def __init__(self, files: SQLiteFiles, file_id: str) -> None:
        self._files = files
        self._id = file_id
        self._buffer = bytearray()
        self._chunks = 0
        self._length = 0

    async def write(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= CHUNK_SIZE:
            await self._put(bytes(self._buffer[:CHUNK_SIZE]))
            del self._buffer[:CHUNK_SIZE]

    async def _put(self, chunk: bytes) -> None:
        await self._files._tables()
        await self._files._store._write(
            _CHUNKS,
            f'INSERT INTO "{_CHUNKS}" (file_id, n, data) VALUES (?, ?, ?)',
            [self._id, self._chunks, chunk],
        )
        self._chunks += 1
        self._length += len(chunk)

    async def close(self) -> None:
        if self._buffer:
            await self._put(bytes(self._buffer))
            self._buffer.clear()
        await self._files._tables()
        await self._files._store._write(
            _FILES,
            f'INSERT INTO "{_FILES}" (id, length, chunks) VALUES (?, ?, ?)',
            [self._id, self._length, self._chunks],
        )

    async def abort(self) -> None:
        self._buffer.clear()
        await self._files.delete(self._id)
