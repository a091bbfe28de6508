"""The embedded adapter: SQLite in WAL mode, one table per collection, documents as JSON.

One connection writes and one reads. Writes are serialised by a lock (SQLite has a single
writer anyway); a transaction holds the lock from ``BEGIN IMMEDIATE`` to ``COMMIT`` and reads
inside it go to the writing connection so they see its own writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from datastore.codec import (
    Document,
    from_json,
    normalise,
    normalise_value,
    to_json,
    to_json_scalar,
)
from datastore.sqlite_query import SCORE_COLUMN, field_sql, order_sql, score_sql, where_sql
from datastore.store import (
    DocumentStore,
    DuplicateKeyError,
    Filter,
    IndexSpec,
    Score,
    Sort,
    StoreUnavailableError,
    VersionConflictError,
    check_collection,
    check_path,
    check_score,
    keyset_filter,
)

T = TypeVar("T")


class SQLiteStore(DocumentStore):
    """A :class:`DocumentStore` in one SQLite file."""

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()
        self._in_transaction: ContextVar[bool] = ContextVar(f"sqlite-tx-{id(self)}", default=False)
        self._tables: set[str] = set()

    async def connect(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._writer = await aiosqlite.connect(self.path, isolation_level=None)
            await self._writer.execute("PRAGMA journal_mode=WAL")
            await self._writer.execute("PRAGMA synchronous=NORMAL")
            await self._writer.execute("PRAGMA busy_timeout=5000")
            self._reader = await aiosqlite.connect(self.path, isolation_level=None)
            await self._reader.execute("PRAGMA busy_timeout=5000")
        except sqlite3.Error as error:
            raise StoreUnavailableError(
                f"cannot open SQLite database {self.path}: {error}"
            ) from error

    async def close(self) -> None:
        for connection in (self._reader, self._writer):
            if connection is not None:
                await connection.close()
        self._reader = self._writer = None

    async def ping(self) -> None:
        try:
            await self._read_connection().execute("SELECT 1")
        except (sqlite3.Error, ValueError) as error:
            raise StoreUnavailableError(str(error)) from error

    async def ensure_indexes(self, specs: Iterable[IndexSpec]) -> None:
        for spec in specs:
            await self._ensure_table(spec.collection)
            columns = ", ".join(field_sql(name) for name in spec.fields)
            unique = "UNIQUE " if spec.unique else ""
            await self._write_connection().execute(
                f'CREATE {unique}INDEX IF NOT EXISTS "{spec.name}" '
                f'ON "{spec.collection}" ({columns})'
            )

    async def get_many(self, collection: str, ids: Sequence[str]) -> dict[str, Document]:
        await self._ensure_table(collection)
        unique_ids = list(dict.fromkeys(ids))
        if not unique_ids:
            return {}
        marks = ", ".join("?" for _ in unique_ids)
        rows = await self._fetch(
            f'SELECT doc FROM "{collection}" WHERE id IN ({marks})', unique_ids
        )
        documents = [from_json(row[0]) for row in rows]
        return {document["_id"]: document for document in documents}

    async def find(
        self,
        collection: str,
        filter: Filter | None = None,
        *,
        sort: Sort = (),
        limit: int | None = None,
        after: Sequence[Any] | None = None,
        score: Score | None = None,
    ) -> list[Document]:
        check_score(filter, sort, score)
        await self._ensure_table(collection)
        params: list[Any] = []
        source = f'"{collection}"'
        if score is not None:
            # A derived table names the score once, so WHERE and ORDER BY share it (and its
            # parameters); SQLite flattens it, so indexes on the collection still apply.
            source = (
                f"(SELECT id, doc, {score_sql(score, params)} AS {SCORE_COLUMN} "
                f'FROM "{collection}")'
            )
        where = where_sql(_with_keyset(filter, sort, after), params)
        sql = f"SELECT doc FROM {source} WHERE {where} ORDER BY {order_sql(sort)}"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        rows = await self._fetch(sql, params)
        return [from_json(row[0]) for row in rows]

    async def find_grouped(
        self,
        collection: str,
        group_field: str,
        group_values: Sequence[Any],
        filter: Filter | None = None,
        *,
        sort: Sort = (),
        limit_per_group: int,
        after: Sequence[Any] | None = None,
    ) -> dict[Any, list[Document]]:
        check_score(filter, sort, None)
        await self._ensure_table(collection)
        values = list(dict.fromkeys(group_values))
        groups: dict[Any, list[Document]] = {value: [] for value in values}
        if not values:
            return groups
        scoped = {"$and": [{group_field: {"$in": values}}, _with_keyset(filter, sort, after)]}
        params: list[Any] = []
        where = where_sql(scoped, params)
        group = field_sql(check_path(group_field))
        order = order_sql(sort)
        sql = (
            f"SELECT doc FROM (SELECT doc, ROW_NUMBER() OVER "
            f"(PARTITION BY {group} ORDER BY {order}) AS position "
            f'FROM "{collection}" WHERE {where}) WHERE position <= ? '
            f"ORDER BY {group}, position"
        )
        rows = await self._fetch(sql, [*params, limit_per_group])
        for row in rows:
            document = from_json(row[0])
            groups[document.get(group_field)].append(document)
        return groups

    async def count(self, collection: str, filter: Filter | None = None) -> int:
        check_score(filter, (), None)
        await self._ensure_table(collection)
        params: list[Any] = []
        where = where_sql(filter, params)
        rows = await self._fetch(f'SELECT COUNT(*) FROM "{collection}" WHERE {where}', params, 0)
        return int(rows[0][0])

    async def count_grouped(
        self,
        collection: str,
        group_field: str,
        group_values: Sequence[Any],
        filter: Filter | None = None,
    ) -> dict[Any, int]:
        await self._ensure_table(collection)
        values = list(dict.fromkeys(group_values))
        counts: dict[Any, int] = {value: 0 for value in values}
        if not values:
            return counts
        # Rows come back as SQLite sees the field; map them back to the values asked for.
        asked = {to_json_scalar(value): value for value in values}
        params: list[Any] = []
        where = where_sql({"$and": [{group_field: {"$in": values}}, filter or {}]}, params)
        group = field_sql(check_path(group_field))
        rows = await self._fetch(
            f'SELECT {group}, COUNT(*) FROM "{collection}" WHERE {where} GROUP BY {group}',
            params,
            0,
        )
        for key, total in rows:
            counts[asked[key]] = int(total)
        return counts

    async def insert(self, collection: str, document: Mapping[str, Any]) -> Document:
        await self._ensure_table(collection)
        stored = normalise({"version": 1, **document})
        if "_id" not in stored:
            raise ValueError("documents need an _id")
        await self._write(
            collection,
            f'INSERT INTO "{collection}" (id, doc) VALUES (?, ?)',
            [stored["_id"], to_json(stored)],
        )
        return stored

    async def update(
        self,
        collection: str,
        document_id: str,
        *,
        expected_version: int,
        changes: Mapping[str, Any],
    ) -> Document:
        await self._ensure_table(collection)

        async def apply() -> Document:
            rows = await self._fetch(
                f'SELECT doc FROM "{collection}" WHERE id = ?', [document_id], count=0
            )
            current = from_json(rows[0][0]) if rows else None
            if current is None or current.get("version") != expected_version:
                raise VersionConflictError(collection, document_id)
            for path, value in changes.items():
                _set_path(current, check_path(path), normalise_value(value))
            current["version"] = expected_version + 1
            await self._write(
                collection,
                f'UPDATE "{collection}" SET doc = ? WHERE id = ?',
                [to_json(current), document_id],
            )
            return current

        return await self.transaction(apply)

    async def delete(self, collection: str, document_id: str, *, expected_version: int) -> None:
        await self._ensure_table(collection)

        async def apply() -> None:
            rows = await self._fetch(
                f'SELECT doc FROM "{collection}" WHERE id = ?', [document_id], count=0
            )
            current = from_json(rows[0][0]) if rows else None
            if current is None or current.get("version") != expected_version:
                raise VersionConflictError(collection, document_id)
            await self._write(collection, f'DELETE FROM "{collection}" WHERE id = ?', [document_id])

        await self.transaction(apply)

    async def delete_all(self, collection: str) -> None:
        await self._ensure_table(collection)
        await self._write(collection, f'DELETE FROM "{collection}"', [])

    async def transaction(self, work: Callable[[], Awaitable[T]]) -> T:
        if self._in_transaction.get():
            return await work()
        async with self._write_lock:
            token = self._in_transaction.set(True)
            connection = self._write_connection()
            try:
                try:
                    await connection.execute("BEGIN IMMEDIATE")
                    result = await work()
                except BaseException:
                    # Also when cancelled (a request timeout) while BEGIN waited for another
                    # writer: the BEGIN may still run on the connection's thread, and this
                    # ROLLBACK, queued after it, ends it instead of leaving it open.
                    with contextlib.suppress(sqlite3.OperationalError):
                        await connection.execute("ROLLBACK")
                    raise
                await connection.execute("COMMIT")
                self._counted()
                return result
            finally:
                self._in_transaction.reset(token)

    async def _ensure_table(self, collection: str) -> None:
        if collection in self._tables:
            return
        create = (
            f'CREATE TABLE IF NOT EXISTS "{check_collection(collection)}" '
            "(id TEXT PRIMARY KEY, doc TEXT NOT NULL)"
        )
        if self._in_transaction.get():
            # Inside a transaction the table would vanish on rollback: create it, but only
            # remember it once created outside one.
            await self._write_connection().execute(create)
            return
        async with self._write_lock:
            await self._write_connection().execute(create)
        self._tables.add(collection)

    async def _fetch(
        self, sql: str, params: Sequence[Any], count: int | None = None
    ) -> list[sqlite3.Row]:
        connection = (
            self._write_connection() if self._in_transaction.get() else self._read_connection()
        )
        try:
            async with connection.execute(sql, params) as cursor:
                rows = list(await cursor.fetchall())
        except sqlite3.OperationalError as error:
            raise StoreUnavailableError(str(error)) from error
        self._counted(len(rows) if count is None else count)
        return rows

    async def _write(self, collection: str, sql: str, params: Sequence[Any]) -> None:
        if self._in_transaction.get():
            await self._execute_write(collection, sql, params)
            return
        async with self._write_lock:
            await self._execute_write(collection, sql, params)

    async def _execute_write(self, collection: str, sql: str, params: Sequence[Any]) -> None:
        try:
            await self._write_connection().execute(sql, params)
        except sqlite3.IntegrityError as error:
            raise DuplicateKeyError(collection, _index_name(collection, str(error))) from error
        self._counted()

    def _write_connection(self) -> aiosqlite.Connection:
        if self._writer is None:
            raise StoreUnavailableError("the SQLite store is not connected")
        return self._writer

    def _read_connection(self) -> aiosqlite.Connection:
        if self._reader is None:
            raise StoreUnavailableError("the SQLite store is not connected")
        return self._reader


def _with_keyset(filter: Filter | None, sort: Sort, after: Sequence[Any] | None) -> Filter:
    if after is None:
        return filter or {}
    return {"$and": [filter or {}, keyset_filter(sort, after)]}


def _index_name(collection: str, message: str) -> str:
    # SQLite says "UNIQUE constraint failed: index 'ux_...'" or "...: <table>.id".
    if "index '" in message:
        return message.split("index '", 1)[1].rstrip("'")
    return "_id_"


def _set_path(document: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    target = document
    for part in parents:
        child = target.get(part)
        if not isinstance(child, dict):
            if value is None:
                return
            child = target[part] = {}
        target = child
    if value is None:
        target.pop(leaf, None)
    else:
        target[leaf] = value
