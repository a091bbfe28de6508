"""Files kept in the store: written as a stream of chunks, readable only once complete.

A bulk export's JSONL file lives here rather than on a local disk, so whichever process
serves the download finds it. Both adapters keep a file as numbered chunks and mark it
complete only when :meth:`FileWriter.close` has written the last one: a writer killed midway
leaves chunks that no reader ever sees (``read`` says there is no such file), and that
:meth:`FileStore.delete` removes. SQLite keeps them in two tables of its own
(``datastore.sqlite_files``); MongoDB in GridFS (``datastore.mongodb_files``), whose files
document is written only by ``close`` too.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator

CHUNK_SIZE = 255 * 1024
"""Bytes per stored chunk (GridFS's default, used on SQLite too)."""


class NoSuchFile(LookupError):
    """No complete file has this id (never written, still being written, or deleted)."""


class FileWriter(ABC):
    """Appends bytes to one new file, in chunks of :data:`CHUNK_SIZE`."""

    @abstractmethod
    async def write(self, data: bytes) -> None:
        """Append ``data`` (kept in memory until a chunk is full)."""

    @abstractmethod
    async def close(self) -> None:
        """Write what is left and mark the file complete: from now on it can be read."""

    @abstractmethod
    async def abort(self) -> None:
        """Remove every chunk written so far; the file never becomes readable."""


class FileStore(ABC):
    """The files of one store."""

    @abstractmethod
    def open_writer(self, file_id: str) -> FileWriter:
        """A writer of a new file ``file_id`` (the id must not be in use)."""

    @abstractmethod
    def read(self, file_id: str) -> AsyncIterator[bytes]:
        """The complete file's bytes, chunk by chunk, in order; raises :class:`NoSuchFile`
        on the first iteration when there is no complete file with this id, and on a later
        one when the file was deleted while being read (what is left of it is gone)."""

    @abstractmethod
    async def delete(self, file_id: str) -> None:
        """Remove the file and any chunk written under its id (nothing when there is none)."""
