"""Files on MongoDB: GridFS (PyMongo's ``AsyncGridFSBucket``), bucket ``files``.

GridFS writes the chunks as they fill and the files document only on ``close``; a download
opens the files document first, so a file whose writer died midway is never read (its
orphaned chunks go with :meth:`MongoFiles.delete`). See ``datastore.files``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from gridfs import AsyncGridFSBucket, NoFile
from gridfs.asynchronous.grid_file import AsyncGridIn
from gridfs.errors import CorruptGridFile

from datastore.files import CHUNK_SIZE, FileStore, FileWriter, NoSuchFile

if TYPE_CHECKING:
    from datastore.mongodb import MongoStore

_BUCKET = "files"


class MongoFiles(FileStore):
    """The files of one :class:`MongoStore`; PyMongo's errors become the store's."""

    def __init__(self, store: MongoStore) -> None:
        self._bucket = AsyncGridFSBucket(store._database(), _BUCKET, chunk_size_bytes=CHUNK_SIZE)
        self._errors: Callable[[], AbstractContextManager[None]] = store._errors
        self._reading: Callable[[], AbstractContextManager[None]] = store._reading

    def open_writer(self, file_id: str) -> FileWriter:
        return _Writer(self._bucket.open_upload_stream_with_id(file_id, file_id), self._errors)

    async def read(self, file_id: str) -> AsyncIterator[bytes]:
        with self._reading():
            try:
                download = await self._bucket.open_download_stream(file_id)
            except NoFile as error:
                raise NoSuchFile(file_id) from error
        try:
            while True:
                try:
                    with self._reading():
                        chunk = await download.readchunk()
                except (CorruptGridFile, NoFile) as error:
                    # A chunk is missing: the file was deleted while being read (the sweep
                    # expired it), as SQLite finds a chunk gone. Not a corrupt store.
                    raise NoSuchFile(file_id) from error
                if not chunk:
                    return
                yield chunk
        finally:
            await download.close()

    async def delete(self, file_id: str) -> None:
        # GridFS deletes the chunks even when no files document exists (an unfinished file),
        # then says NoFile.
        with self._errors(), contextlib.suppress(NoFile):
            await self._bucket.delete(file_id)


class _Writer(FileWriter):
    def __init__(
        self, upload: AsyncGridIn, errors: Callable[[], AbstractContextManager[None]]
    ) -> None:
        self._upload = upload
        self._errors = errors

    async def write(self, data: bytes) -> None:
        with self._errors():
            await self._upload.write(data)

    async def close(self) -> None:
        with self._errors():
            await self._upload.close()

    async def abort(self) -> None:
        with self._errors():
            await self._upload.abort()
