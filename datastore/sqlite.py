"""The embedded adapter: SQLite in WAL mode, one table per collection, documents as JSON.

One connection writes and one reads. Writes are serialised by a lock (SQLite has a single
writer anyway); a transaction holds the lock from ``BEGIN IMMEDIATE`` to ``COMMIT`` and reads
inside it go to the writing connection so they see its own writes.

A file that is locked past the busy timeout, full, read-only or unreadable raises
:class:`StoreUnavailableError`, and the transaction it interrupted is rolled back.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from datastore import sqlite_text
from datastore.codec import (
    Document,
    from_json,
    normalise,
    normalise_value,
    to_json,
    to_json_scalar,
    utc_now,
)
from datastore.files import FileStore
from datastore.sqlite_files import SQLiteFiles
from datastore.sqlite_query import SCORE_COLUMN, field_sql, order_sql, score_sql, where_sql
from datastore.store import (
    ASCENDING,
    SCORE,
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
    full_sort,
    keyset_filter,
)

T = TypeVar("T")

_HEALTH = "_health"
# Primary result codes that mean the file cannot be used right now, not that a query is wrong.
_UNAVAILABLE_CODES = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_CORRUPT,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PROTOCOL,
        sqlite3.SQLITE_NOTADB,
    }
)
# SQLite refuses compound selects of more than 500 arms (SQLITE_MAX_COMPOUND_SELECT).
_MAX_ARMS = 400


class SQLiteStore(DocumentStore):
    """A :class:`DocumentStore` in one SQLite file.

    The file's directory is created when missing only if it lies inside the working directory
    or ``create_directories`` is set: a typo in an absolute path should not silently create a
    database somewhere else.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        create_directories: bool = False,
        busy_timeout_ms: int = 5000,
        text_walk_above: int = sqlite_text.WALK_ABOVE,
    ) -> None:
        super().__init__()
        self.path = Path(path)
        self.create_directories = create_directories
        self.busy_timeout_ms = busy_timeout_ms
        self.text_walk_above = text_walk_above
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()
        self._in_transaction: ContextVar[bool] = ContextVar(f"sqlite-tx-{id(self)}", default=False)
        self._tables: set[str] = set()
        self._indexes: dict[str, list[IndexSpec]] = {}

    async def connect(self) -> None:
        """Open both connections; on any failure nothing stays open (no thread is left)."""
        self._make_directory()
        try:
            self._writer = await aiosqlite.connect(self.path, isolation_level=None)
            await self._writer.execute("PRAGMA journal_mode=WAL")
            await self._writer.execute("PRAGMA synchronous=NORMAL")
            await self._writer.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}")
            self._reader = await aiosqlite.connect(self.path, isolation_level=None)
            await self._reader.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}")
        except BaseException as error:
            await self.close()
            if isinstance(error, sqlite3.Error):
                raise StoreUnavailableError(
                    f"cannot open SQLite database {self.path}: {error}"
                ) from error
            raise

    def _make_directory(self) -> None:
        directory = self.path.parent
        if directory.is_dir():
            return
        inside = directory.resolve().is_relative_to(Path.cwd().resolve())
        if not (inside or self.create_directories):
            raise StoreUnavailableError(
                f"cannot open SQLite database {self.path}: directory {directory} does not exist "
                "(create it, or add ?create_dirs=1 to the sqlite URL to have it created)"
            )
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreUnavailableError(
                f"cannot create directory {directory} for SQLite database {self.path}: "
                f"{error.strerror or error}"
            ) from error

    async def close(self) -> None:
        reader, writer = self._reader, self._writer
        self._reader = self._writer = None
        for connection in (reader, writer):
            if connection is not None:
                with contextlib.suppress(sqlite3.Error, ValueError):
                    await connection.close()

    async def ping(self) -> None:
        """Write and read back a row in a transaction: ``SELECT 1`` alone never touches the
        file, so a locked or full database would still look ready."""
        await self._ensure_table(_HEALTH)

        async def probe() -> None:
            await self._write(
                _HEALTH,
                f'INSERT INTO "{_HEALTH}" (id, doc) VALUES (?, ?) '
                "ON CONFLICT(id) DO UPDATE SET doc = excluded.doc",
                ["ping", to_json({"at": utc_now()})],
            )
            await self._fetch(f'SELECT doc FROM "{_HEALTH}" WHERE id = ?', ["ping"], 0)

        await self.transaction(probe)

    @functools.cached_property
    def files(self) -> FileStore:
        return SQLiteFiles(self)

    async def trace(self, callback: Callable[[str], object] | None) -> None:
        """Call ``callback`` with every statement run from now on, parameters expanded, on
        either connection (``None`` stops): how tests check each statement's query plan."""
        handler: Any = callback  # aiosqlite's annotation leaves out None, which sqlite3 takes
        for connection in (self._write_connection(), self._read_connection()):
            await connection.set_trace_callback(handler)

    async def ensure_indexes(self, specs: Iterable[IndexSpec]) -> None:
        for spec in specs:
            await self._ensure_table(spec.collection)
            declared = self._indexes.setdefault(spec.collection, [])
            if spec not in declared:
                declared.append(spec)
            if spec.text:
                await self._ensure_text_index(spec)
                continue
            columns = ", ".join(field_sql(name) for name in spec.keys)
            unique = "UNIQUE " if spec.unique else ""
            await self._write_connection().execute(
                f'CREATE {unique}INDEX IF NOT EXISTS "{spec.name}" '
                f'ON "{spec.collection}" ({columns})'
            )

    async def _get_many(self, collection: str, ids: Sequence[str]) -> dict[str, Document]:
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

    async def _find(
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
        if limit is not None and limit < 0:
            raise ValueError(f"limit must not be negative, got {limit}")
        if limit == 0:
            return []
        await self._ensure_table(collection)
        fields = self._text_fields(collection)
        if fields:
            rest, terms = sqlite_text.split(filter, fields)
            if terms or sqlite_text.scores_by_text(score, fields):
                return await self._find_text(collection, rest, terms, sort, limit, after, score)
        params: list[Any] = []
        if score is None:
            sql = self._ordered_read(collection, filter, sort, after, limit, params)
        else:
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

    def _ordered_read(
        self,
        collection: str,
        filter: Filter | None,
        sort: Sort,
        after: Sequence[Any] | None,
        limit: int | None,
        params: list[Any],
        *,
        condition: tuple[str, list[Any]] | None = None,
        guard: tuple[str, list[Any]] | None = None,
    ) -> str:
        """A SELECT of ``doc`` in ``sort`` order after ``after`` that seeks to its start.

        The keyset condition is an OR (missing values sort apart), which SQLite cannot seek
        on: it would walk every row before the cursor. So the read is cut into segments, each
        with a plain bound on the first sort key that the index seeks to, glued in order
        with UNION ALL (see :func:`_segments`). ``condition`` is more SQL the rows must
        satisfy; ``guard``, SQL that must be true for anything to be read (it goes into the
        LIMIT, which SQLite evaluates once, before reading).
        """
        scoped = _with_keyset(filter, sort, after)
        parts: list[str] = []
        for bound, order in _segments(sort, after):
            where_filter = {"$and": [scoped, bound]} if bound else scoped
            source = f'"{collection}"{self._index_hint(collection, where_filter, order)}'
            where = where_sql(where_filter, params)
            if condition is not None:
                where += f" AND {condition[0]}"
                params.extend(condition[1])
            part = f"SELECT doc FROM {source} WHERE {where} ORDER BY {order_sql(order)}"
            if guard is not None:
                part += f" LIMIT (CASE WHEN {guard[0]} THEN ? ELSE 0 END)"
                params.extend(guard[1])
                params.append(-1 if limit is None else limit)
            elif limit is not None:
                part += " LIMIT ?"
                params.append(limit)
            parts.append(part)
        if len(parts) == 1:
            return parts[0]
        sql = " UNION ALL ".join(f"SELECT doc FROM ({part})" for part in parts)
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return sql

    async def _find_text(
        self,
        collection: str,
        filter: Filter,
        terms: sqlite_text.Terms,
        sort: Sort,
        limit: int | None,
        after: Sequence[Any] | None,
        score: Score | None,
    ) -> list[Document]:
        """``find`` through the text index, in one statement.

        A ranked search (sorted by the score first) is read level by level, highest score
        first (each level a full-text query of its own, in the order of the remaining keys),
        glued with UNION ALL: SQLite stops at the page. Each level is read one of two ways,
        chosen in the statement by :func:`sqlite_text.many`: few matches are read from the
        posting lists and sorted; many are found by walking the listing's index in order and
        checking each row's words, which stops after about ``page * listed / matches`` rows
        when the matches are spread along the order (as a planner's LIMIT walk assumes: a
        common word whose matches all sit at the far end of the order walks past everything
        before them). Either way a search costs its page or its matches, not the collection.
        """
        keys = full_sort(sort)
        fields = self._text_fields(collection)
        params: list[Any] = []
        if score is not None and keys[0][0] == SCORE and terms:
            start = after[0] if after is not None else None
            arms = []
            for level, query in sqlite_text.levels(score, terms, fields, keys[0][1], start):
                level_after = after[1:] if after is not None and level == start else None
                arms.append(
                    self._text_arm(
                        collection,
                        filter,
                        terms,
                        query,
                        keys[1:],
                        level_after,
                        limit,
                        (score, level),
                        params,
                    )
                )
            sql = " UNION ALL ".join(f"SELECT doc FROM ({arm})" for arm in arms)
            if limit is not None:
                sql += " LIMIT ?"
                params.append(limit)
        elif score is None and terms:
            query = sqlite_text.match(terms, fields)
            sql = self._text_arm(collection, filter, terms, query, keys, after, limit, None, params)
        else:
            sql = self._text_sorted(collection, filter, terms, sort, limit, after, score, params)
        rows = await self._fetch(sql, params)
        return [from_json(row[0]) for row in rows]

    def _text_arm(
        self,
        collection: str,
        filter: Filter,
        terms: sqlite_text.Terms,
        query: str,
        sort: Sort,
        after: Sequence[Any] | None,
        limit: int | None,
        level: tuple[Score, int] | None,
        params: list[Any],
    ) -> str:
        """The rows matching the full-text ``query`` (and ``filter``; with ``level``, holding
        exactly that many score words) in ``sort`` order after ``after``: walked in index
        order when they are many, read from the posting lists and sorted when they are few
        (see :meth:`_find_text`)."""
        text = sqlite_text.table(collection)
        many = sqlite_text.many(collection, self.text_walk_above)
        walk = ""
        if self._index_hint(collection, filter, sort):
            # Checking a row's own words costs less than seeking the posting lists per row.
            held = {"$and": [filter, *({field: {"$contains": w}} for field, w in terms)]}
            condition = None
            if level is not None:
                counted: list[Any] = []
                condition = (f"{score_sql(level[0], counted)} = {level[1]}", counted)
            walk = self._ordered_read(
                collection,
                held,
                sort,
                after,
                limit,
                params,
                condition=condition,
                guard=(many, [query]),
            )
        # Few matches: read them from the posting lists (CROSS JOIN keeps that order of
        # loops), then sort them. The inner LIMIT is 0 when the walk above reads instead.
        inner_limit = f"(CASE WHEN {many} THEN 0 ELSE -1 END)" if walk else "-1"
        params.append(query)
        if walk:
            params.append(query)
        where = where_sql(_with_keyset(filter, sort, after), params)
        if level is not None and 0 < level[1] < len(dict.fromkeys(level[0][1])):
            # A middle level's query holds some score words; count them.
            where += f" AND {score_sql(level[0], params)} = {level[1]}"
        read = (
            f'SELECT doc FROM (SELECT rowid AS _match FROM "{text}" WHERE "{text}" MATCH ? '
            f'LIMIT {inner_limit}) CROSS JOIN "{collection}" ON "{collection}".rowid = _match '
            f"WHERE {where} ORDER BY {order_sql(sort)}"
        )
        if limit is not None:
            read += " LIMIT ?"
            params.append(limit)
        if not walk:
            return read
        return f"SELECT doc FROM ({walk}) UNION ALL SELECT doc FROM ({read})"

    def _text_sorted(
        self,
        collection: str,
        filter: Filter,
        terms: sqlite_text.Terms,
        sort: Sort,
        limit: int | None,
        after: Sequence[Any] | None,
        score: Score | None,
        params: list[Any],
    ) -> str:
        """Any other read through the text index: every match, scored from the posting lists
        of the score words, then sorted."""
        fields = self._text_fields(collection)
        computed = ""
        if score is not None:
            computed = (
                f", {sqlite_text.score_sql(collection, score, fields, params)} AS {SCORE_COLUMN}"
            )
        source = f'(SELECT rowid AS _rowid, id, doc{computed} FROM "{collection}")'
        where = where_sql(_with_keyset(filter, sort, after), params)
        if terms:
            text = sqlite_text.table(collection)
            where += f' AND _rowid IN (SELECT rowid FROM "{text}" WHERE "{text}" MATCH ?)'
            params.append(sqlite_text.match(terms, fields))
        sql = f"SELECT doc FROM {source} WHERE {where} ORDER BY {order_sql(sort)}"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return sql

    async def _find_grouped(
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
        # One bounded select per parent, each walking the (group, sort) index and stopping at
        # its page, glued with UNION ALL: a page costs its size however many children exist.
        path = check_path(group_field)
        for start in range(0, len(values), _MAX_ARMS):
            chunk = values[start : start + _MAX_ARMS]
            params: list[Any] = []
            arms: list[str] = []
            for position, value in enumerate(chunk):
                scoped = {"$and": [{path: value}, filter or {}]}
                read = self._ordered_read(collection, scoped, sort, after, limit_per_group, params)
                arms.append(f"SELECT {position} AS arm, doc FROM ({read})")
            rows = await self._fetch(" UNION ALL ".join(arms), params)
            for arm, doc in rows:
                groups[chunk[arm]].append(from_json(doc))
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

    async def _insert(self, collection: str, document: Mapping[str, Any]) -> Document:
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

    async def _update(
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

    async def delete_many(self, collection: str, filter: Filter) -> int:
        check_score(filter, (), None)
        await self._ensure_table(collection)
        params: list[Any] = []
        where = where_sql(filter, params)
        rows = await self._fetch(f'SELECT COUNT(*) FROM "{collection}" WHERE {where}', params, 0)
        await self._write(collection, f'DELETE FROM "{collection}" WHERE {where}', params)
        return int(rows[0][0])

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
                    await _run(connection, "BEGIN IMMEDIATE")
                    result = await work()
                    await _run(connection, "COMMIT")
                except BaseException:
                    # Also when cancelled (a request timeout) while BEGIN waited for another
                    # writer: the BEGIN may still run on the connection's thread, and this
                    # ROLLBACK, queued after it, ends it instead of leaving it open; and after
                    # a failed COMMIT (disk full), which leaves the transaction open too.
                    with contextlib.suppress(sqlite3.Error):
                        await connection.execute("ROLLBACK")
                    raise
                self._counted()
                return result
            finally:
                self._in_transaction.reset(token)

    async def _ensure_text_index(self, spec: IndexSpec) -> None:
        text = sqlite_text.table(spec.collection)

        async def create() -> None:
            found = await self._fetch("SELECT 1 FROM sqlite_master WHERE name = ?", [text], 0)
            if not found:
                for statement in sqlite_text.create_statements(spec):
                    await self._write_connection().execute(statement)

        await self.transaction(create)

    def _text_fields(self, collection: str) -> tuple[str, ...]:
        specs = [spec for spec in self._indexes.get(collection, []) if spec.text]
        return specs[0].fields if specs else ()

    def _index_hint(self, collection: str, filter: Filter | None, sort: Sort) -> str:
        """``INDEXED BY`` the declared index that serves ``filter`` and ``sort`` in order, if any.

        Such an index reads a page's rows in order and stops at the page. Without statistics
        SQLite's planner sometimes prefers an index on a filtered field (say ``status``) and
        then sorts every match, so the adapter names the index itself.
        """
        wanted = [name for name, _ in full_sort(sort)]
        if SCORE in wanted:
            return ""
        fixed = _equality_fields(filter)
        best: tuple[int, str] | None = None
        for spec in self._indexes.get(collection, []):
            keys = list(spec.keys)
            prefix = len(keys) - len(wanted)
            serves = prefix >= 0 and keys[prefix:] == wanted and set(keys[:prefix]) <= fixed
            if serves and (best is None or prefix > best[0]):
                best = (prefix, spec.name)
        return f' INDEXED BY "{best[1]}"' if best else ""

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
            await _run(self._write_connection(), create)
            return
        async with self._write_lock:
            await _run(self._write_connection(), create)
        self._tables.add(collection)

    async def _fetch(
        self, sql: str, params: Sequence[Any], count: int | None = None
    ) -> list[sqlite3.Row]:
        connection = (
            self._write_connection() if self._in_transaction.get() else self._read_connection()
        )
        with _unavailable_on_error():
            async with connection.execute(sql, params) as cursor:
                rows = list(await cursor.fetchall())
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
            with _unavailable_on_error():
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


@contextlib.contextmanager
def _unavailable_on_error() -> Iterator[None]:
    """SQLite errors that say the file cannot be used now, as :class:`StoreUnavailableError`."""
    try:
        yield
    except sqlite3.Error as error:
        code = getattr(error, "sqlite_errorcode", None)
        if code is not None and code & 0xFF in _UNAVAILABLE_CODES:
            raise StoreUnavailableError(f"SQLite database unavailable: {error}") from error
        raise


async def _run(connection: aiosqlite.Connection, sql: str) -> None:
    with _unavailable_on_error():
        await connection.execute(sql)


def _with_keyset(filter: Filter | None, sort: Sort, after: Sequence[Any] | None) -> Filter:
    if after is None:
        return filter or {}
    return {"$and": [filter or {}, keyset_filter(sort, after)]}


def _segments(sort: Sort, after: Sequence[Any] | None) -> list[tuple[Filter, Sort]]:
    """The seekable segments of a listing past ``after``: ``(bound, order)`` pairs whose
    reads, concatenated, are the listing in order.

    Missing values (NULL) sort first ascending and last descending. Past a present value
    ``v`` of the first key, ascending, every row has a value ``>= v``; descending, every row
    has a value ``<= v`` or none, read as two segments, the missing ones last (ordered by the
    remaining keys, since the first is the same for all of them). Past a missing value,
    ascending, come the rest of the missing ones, then every present one.
    """
    keys = full_sort(sort)
    if after is None or keys[0][0] in ("_id", SCORE):
        return [({}, keys)]
    (name, direction), start = keys[0], after[0]
    rest = keys[1:]
    if direction == ASCENDING:
        if start is None:
            return [({name: None}, rest), ({name: {"$ne": None}}, keys)]
        return [({name: {"$gte": start}}, keys)]
    if start is None:
        return [({name: None}, rest)]
    return [({name: {"$lte": start}}, keys), ({name: None}, rest)]


def _equality_fields(filter: Filter | None) -> set[str]:
    """The fields ``filter`` pins to one value (or to missing) in every document it matches."""
    fields: set[str] = set()
    for key, condition in (filter or {}).items():
        if key == "$and":
            for part in condition:
                fields |= _equality_fields(part)
        elif not key.startswith("$") and not _is_operator(condition):
            fields.add(key)
    return fields


def _is_operator(condition: Any) -> bool:
    return isinstance(condition, Mapping) and any(op.startswith("$") for op in condition)


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
