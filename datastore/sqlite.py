"""The embedded adapter: SQLite in WAL mode, one table per collection, documents as JSON.

One connection writes and two read. Writes go through the write lane (``sqlite_lane``): one
transaction at a time per process, its statements run inline once ``BEGIN IMMEDIATE`` holds
SQLite's lock. A read whose work is bounded by what it answers (documents by id, pages of
children through their index: what loaders read) runs inline too, on a reading connection of
its own: finding those rows costs SQLite less than decoding them costs the event loop, while a
hop to a reader's thread and back cost more than the read, and under load a wait for that
thread to be scheduled, with the request's other work idle meanwhile. Any other read (a
search, a count, a filtered list) goes to the reader's thread, as does a bounded read that
would have to wait for a lock (the inline connection never waits: its busy timeout is 0). Every
read outside a transaction is answered in a later turn of the event loop, in the order asked
(``SQLiteStore._turn``). Reads inside a transaction go to the writing connection so they see
its own writes, and a transaction remembers the documents it read or wrote
(:class:`_Transaction`): no other writer can change them before it commits, so it never reads
one twice, nor reads back what it just wrote. A collection's table is made by its first
write; a read of a collection with no table yet answers nothing and makes none.

A file that is locked past the busy timeout, full, read-only or unreadable raises
:class:`StoreUnavailableError`, and the transaction it interrupted is rolled back.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

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
from datastore.sqlite_lane import (
    CACHED_STATEMENTS,
    CHECKPOINT_BYTES,
    WriteLane,
    busy,
    execute,
    execute_changing,
    unavailable_on_error,
)
from datastore.sqlite_query import SCORE_COLUMN, field_sql, order_sql, score_sql, where_sql
from datastore.store import (
    ASCENDING,
    SCORE,
    DocumentStore,
    DuplicateKeyError,
    Filter,
    IndexSpec,
    Read,
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
# SQLite refuses compound selects of more than 500 arms (SQLITE_MAX_COMPOUND_SELECT).
_MAX_ARMS = 400
# Rows per INSERT statement: two parameters each, well under SQLITE_MAX_VARIABLE_NUMBER.
_MAX_ROWS = 500
_MAX_HINTS = 4096


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
        checkpoint_bytes: int = CHECKPOINT_BYTES,
        text_way: int | None = None,
    ) -> None:
        super().__init__()
        self.path = Path(path)
        self.create_directories = create_directories
        self.busy_timeout_ms = busy_timeout_ms
        self.text_way = text_way
        """One way every search reads its matches (``sqlite_text.SORT``, ``SEMI_JOIN`` or
        ``WALK``), for tests; ``None``: each level's way is chosen from its matches."""
        # Tests of checkpointing pass a smaller threshold, so that they write less.
        self._lane = WriteLane(self.path, busy_timeout_ms, checkpoint_bytes)
        self._reader: aiosqlite.Connection | None = None
        self._inline: sqlite3.Connection | None = None
        self._threaded: asyncio.Future[None] | None = None
        """Answered when the last read sent to the reader's thread is (see :meth:`_turn`)."""
        self._transaction: ContextVar[_Transaction | None] = ContextVar(
            f"sqlite-tx-{id(self)}", default=None
        )
        self._tables: set[str] = set()
        self._indexes: dict[str, list[IndexSpec]] = {}
        # What the declared indexes say for a read, worked out once per shape of read (every
        # read asks, and a collection has up to a score of indexes): by collection, its text
        # index's fields; by (collection, fields the filter pins, sort keys), its index hint.
        self._text_of: dict[str, tuple[str, ...]] = {}
        self._hints: dict[tuple[str, frozenset[str], tuple[str, ...]], str] = {}

    async def connect(self) -> None:
        """Open both connections; on any failure nothing stays open (no thread is left)."""
        self._make_directory()
        try:
            await self._lane.open()
            self._reader = await aiosqlite.connect(
                self.path, isolation_level=None, cached_statements=CACHED_STATEMENTS
            )
            await self._reader.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}")
            self._inline = sqlite3.connect(
                self.path,
                isolation_level=None,
                check_same_thread=False,
                cached_statements=CACHED_STATEMENTS,
            )
            self._inline.execute("PRAGMA busy_timeout=0")
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
        inline, self._inline = self._inline, None
        if inline is not None:
            with contextlib.suppress(sqlite3.Error):
                inline.close()
        reader, self._reader = self._reader, None
        if reader is not None:
            with contextlib.suppress(sqlite3.Error, ValueError):
                await reader.close()
        await self._lane.close()

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
        await self._lane.run(lambda connection: connection.set_trace_callback(callback))
        await self._read_connection().set_trace_callback(handler)
        if self._inline is not None:
            self._inline.set_trace_callback(callback)

    @property
    def rows_written(self) -> int:
        """Rows the writing connection inserted, changed or deleted since it opened (SQLite's
        ``total_changes``; one multi-row insert counts each row): read from a :meth:`trace`
        callback at ``BEGIN`` and ``COMMIT``, what one transaction wrote."""
        return self._lane.connection.total_changes

    async def ensure_indexes(self, specs: Iterable[IndexSpec]) -> None:
        for spec in specs:
            await self._ensure_table(spec.collection)
            declared = self._indexes.setdefault(spec.collection, [])
            if spec not in declared:
                declared.append(spec)
                self._text_of.clear()
                self._hints.clear()
            if spec.text:
                await self._ensure_text_index(spec)
                continue
            columns = ", ".join(field_sql(name) for name in spec.keys)
            unique = "UNIQUE " if spec.unique else ""
            create = (
                f'CREATE {unique}INDEX IF NOT EXISTS "{spec.name}" '
                f'ON "{spec.collection}" ({columns})'
            )
            await self._lane.run(_statement(create))

    async def drop_indexes(self, specs: Iterable[IndexSpec]) -> None:
        for spec in specs:
            if spec.text:
                raise ValueError(f"{spec.name}: a text index is kept in tables of its own")
            declared = self._indexes.get(spec.collection, [])
            if spec in declared:
                declared.remove(spec)
                self._hints.clear()
            await self._lane.run(_statement(f'DROP INDEX IF EXISTS "{spec.name}"'))

    async def _get_many(self, collection: str, ids: Sequence[str]) -> dict[str, Document]:
        unique_ids = list(dict.fromkeys(ids))
        transaction = self._current()
        seen = transaction.seen(collection) if transaction is not None else {}
        found = {i: from_json(seen[i]) for i in unique_ids if i in seen}
        missing = [i for i in unique_ids if i not in seen]
        if missing and await self._has_table(collection):
            marks = ", ".join("?" for _ in missing)
            rows = await self._fetch(
                f'SELECT doc FROM "{collection}" WHERE id IN ({marks})', missing, bounded=True
            )
            for document in self._documents(collection, rows):
                found[document["_id"]] = document
        return found

    async def _find(
        self,
        collection: str,
        filter: Filter | None = None,
        *,
        sort: Sort = (),
        limit: int | None = None,
        after: Sequence[Any] | None = None,
        score: Score | None = None,
        durable: bool = False,  # every committed write is: one file, no replica to lag
    ) -> list[Document]:
        if limit == 0:
            return []
        fields = self._text_fields(collection)
        if fields:
            rest, terms = sqlite_text.split(filter, fields)
            if terms or sqlite_text.scores_by_text(score, fields):
                if not await self._has_table(collection):
                    return []
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
        if not await self._has_table(collection):
            return []
        return self._documents(collection, await self._fetch(sql, params))

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
        glued with UNION ALL: SQLite stops at the page. Each level is read one of three ways,
        chosen in the statement by :func:`sqlite_text.way` from how many rows match it: few
        are read from the posting lists and sorted; more are found by walking the listing's
        index in order and keeping the rows whose rowid is among the matches (read once from
        the posting lists into a set: the walk reads no document it does not keep); very many
        by walking the index and checking each row's own words (no posting list read at all).
        A walk stops after about ``page * listed / matches`` rows when the matches are spread
        along the order (as a planner's LIMIT walk assumes: a common word whose matches all
        sit at the far end of the order walks past everything before them). Each way costs
        its page or its matches, not the collection: at most about the square root of
        ``page * rows`` (see :func:`sqlite_text.way`).
        """
        keys = full_sort(sort)
        fields = self._text_fields(collection)
        params: list[Any] = []
        ways: list[tuple[str, list[Any]]] = []
        if score is not None and keys[0][0] == SCORE and terms:
            start = after[0] if after is not None else None
            arms = []
            for level, query in sqlite_text.levels(score, terms, fields, keys[0][1], start):
                level_after = after[1:] if after is not None and level == start else None
                arms.append(
                    self._text_arm(
                        collection,
                        filter,
                        query,
                        keys[1:],
                        level_after,
                        limit,
                        (terms, (score, level)),
                        params,
                        ways,
                    )
                )
            sql = " UNION ALL ".join(f"SELECT doc FROM ({arm})" for arm in arms)
            if limit is not None:
                sql += " LIMIT ?"
                params.append(limit)
        elif score is None and terms:
            query = sqlite_text.match(terms, fields)
            sql = self._text_arm(
                collection, filter, query, keys, after, limit, (terms, None), params, ways
            )
        else:
            sql = self._text_sorted(collection, filter, terms, sort, limit, after, score, params)
        if ways:
            # Each level's way is chosen once per statement, however many arms ask for it.
            sql = "WITH " + ", ".join(way for way, _ in ways) + " " + sql
            params = [param for _, way_params in ways for param in way_params] + params
        rows = await self._fetch(sql, params)
        return [from_json(row[0]) for row in rows]

    def _text_arm(
        self,
        collection: str,
        filter: Filter,
        query: str,
        sort: Sort,
        after: Sequence[Any] | None,
        limit: int | None,
        wanted: tuple[sqlite_text.Terms, tuple[Score, int] | None],
        params: list[Any],
        ways: list[tuple[str, list[Any]]],
    ) -> str:
        """The rows matching the full-text ``query`` (and ``filter``; ``wanted``: the terms
        and, for a ranked level, how many score words a row holds) in ``sort`` order after
        ``after``, read in the way :func:`sqlite_text.way` chooses (see :meth:`_find_text`);
        the way's common table expression is added to ``ways``."""
        terms, level = wanted
        text = sqlite_text.table(collection)
        counted = level is not None and 0 < level[1] < len(dict.fromkeys(level[0][1]))
        walks: list[str] = []
        way = str(sqlite_text.SORT)
        if self._index_hint(collection, filter, sort):
            # Only an order an index serves can be walked; otherwise the matches are sorted.
            name = f"_way{len(ways)}"
            choice = sqlite_text.way(collection, limit, self.text_way)
            ways.append((f"{name} AS (SELECT {choice} AS way)", [query]))
            way = f"(SELECT way FROM {name})"
            # Very many matches: each row's own words, checked as the walk reads it.
            checks: list[Any] = []
            held = [sqlite_text.holds_sql(field, word, checks) for field, word in terms]
            if level is not None:
                held.append(f"{sqlite_text.held_count_sql(level[0], checks)} = {level[1]}")
            walks.append(
                self._ordered_read(
                    collection, filter, sort, after, limit, params,
                    condition=(" AND ".join(held), checks),
                    guard=(f"{way} = {sqlite_text.WALK}", []),
                )
            )  # fmt: skip
            # More: a row is kept when its rowid is among the matches, read once into a set.
            among = f'"{collection}".rowid IN (SELECT rowid FROM "{text}" WHERE "{text}" MATCH ?)'
            members: list[Any] = [query]
            if counted:
                assert level is not None
                among += f" AND {sqlite_text.held_count_sql(level[0], members)} = {level[1]}"
            walks.append(
                self._ordered_read(
                    collection, filter, sort, after, limit, params,
                    condition=(among, members),
                    guard=(f"{way} = {sqlite_text.SEMI_JOIN}", []),
                )
            )  # fmt: skip
        # Few matches: read them from the posting lists (CROSS JOIN keeps that order of
        # loops), then sort them. The inner LIMIT is 0 when a walk above reads instead.
        inner_limit = (
            f"(CASE WHEN {way} = {sqlite_text.SORT} THEN -1 ELSE 0 END)" if walks else "-1"
        )
        params.append(query)
        where = where_sql(_with_keyset(filter, sort, after), params)
        if counted:
            # A middle level's query holds some score words; count them.
            assert level is not None
            where += f" AND {sqlite_text.held_count_sql(level[0], params)} = {level[1]}"
        read = (
            f'SELECT doc FROM (SELECT rowid AS _match FROM "{text}" WHERE "{text}" MATCH ? '
            f'LIMIT {inner_limit}) CROSS JOIN "{collection}" ON "{collection}".rowid = _match '
            f"WHERE {where} ORDER BY {order_sql(sort)}"
        )
        if limit is not None:
            read += " LIMIT ?"
            params.append(limit)
        if not walks:
            return read
        # With the page's LIMIT, the statement ends as soon as one way has filled the page.
        both = " UNION ALL ".join(f"SELECT doc FROM ({part})" for part in [*walks, read])
        if limit is not None:
            both += " LIMIT ?"
            params.append(limit)
        return both

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
        values = list(dict.fromkeys(group_values))
        groups: dict[Any, list[Document]] = {value: [] for value in values}
        if not values:
            return groups
        # One bounded select per parent, each walking the (group, sort) index and stopping at
        # its page, glued with UNION ALL: a page costs its size however many children exist.
        path = check_path(group_field)
        # Every arm is the same select but for its parent's value: built once, with a marker
        # where the value goes (a large page of parents made the SQL text anew per parent).
        template: list[Any] = []
        scoped = {"$and": [{path: _PARENT}, filter or {}]}
        read = self._ordered_read(collection, scoped, sort, after, limit_per_group, template)
        slots = [index for index, param in enumerate(template) if param is _PARENT]
        if not await self._has_table(collection):
            return groups
        for start in range(0, len(values), _MAX_ARMS):
            chunk = values[start : start + _MAX_ARMS]
            params: list[Any] = []
            arms: list[str] = []
            for position, value in enumerate(chunk):
                arm_params = list(template)
                if value is None or isinstance(value, Mapping):
                    # No longer one equality with a parameter: build this arm as it reads.
                    arm_params = []
                    own = {"$and": [{path: value}, filter or {}]}
                    arm_read = self._ordered_read(
                        collection, own, sort, after, limit_per_group, arm_params
                    )
                    arms.append(f"SELECT {position} AS arm, doc FROM ({arm_read})")
                else:
                    for slot in slots:
                        arm_params[slot] = to_json_scalar(value)
                    arms.append(f"SELECT {position} AS arm, doc FROM ({read})")
                params += arm_params
            rows = await self._fetch(" UNION ALL ".join(arms), params, bounded=True)
            for arm, doc in rows:
                groups[chunk[arm]].append(from_json(doc))
        return groups

    async def _find_together(self, reads: Sequence[Read[Any]]) -> list[list[Document]]:
        found: list[list[Document]] = [[] for _ in reads]
        arms: list[str] = []
        params: list[Any] = []
        glued: list[int] = []
        for position, read in enumerate(reads):
            fields = self._text_fields(read.collection)
            if read.limit == 0 or (fields and sqlite_text.split(read.filter, fields)[1]):
                # Nothing to read, or a read through the text index: made on its own.
                found[position] = await self._find(
                    read.collection, read.filter, sort=read.sort, limit=read.limit
                )
                continue
            arm_params: list[Any] = []
            sql = self._ordered_read(
                read.collection, read.filter, read.sort, None, read.limit, arm_params
            )
            if not await self._has_table(read.collection):
                continue  # answers nothing
            params += arm_params
            arms.append(f"SELECT {position} AS arm, doc FROM ({sql})")
            glued.append(position)
        if arms:
            rows = await self._fetch(" UNION ALL ".join(arms), params)
            for position in glued:
                mine = [row[1:] for row in rows if row[0] == position]
                found[position] = self._documents(reads[position].collection, mine)
        return found

    async def count(self, collection: str, filter: Filter | None = None) -> int:
        check_score(filter, (), None)
        params: list[Any] = []
        where = where_sql(filter, params)
        if not await self._has_table(collection):
            return 0
        rows = await self._fetch(f'SELECT COUNT(*) FROM "{collection}" WHERE {where}', params, 0)
        return int(rows[0][0])

    async def count_grouped(
        self,
        collection: str,
        group_field: str,
        group_values: Sequence[Any],
        filter: Filter | None = None,
    ) -> dict[Any, int]:
        values = list(dict.fromkeys(group_values))
        counts: dict[Any, int] = {value: 0 for value in values}
        if not values:
            return counts
        # Rows come back as SQLite sees the field; map them back to the values asked for.
        asked = {to_json_scalar(value): value for value in values}
        params: list[Any] = []
        where = where_sql({"$and": [{group_field: {"$in": values}}, filter or {}]}, params)
        group = field_sql(check_path(group_field))
        if not await self._has_table(collection):
            return counts
        rows = await self._fetch(
            f'SELECT {group}, COUNT(*) FROM "{collection}" WHERE {where} GROUP BY {group}',
            params,
            0,
        )
        for key, total in rows:
            counts[asked[key]] = int(total)
        return counts

    async def _insert(self, collection: str, document: Mapping[str, Any]) -> Document:
        return (await self._insert_many(collection, [document]))[0]

    async def _insert_many(
        self, collection: str, documents: Sequence[Mapping[str, Any]]
    ) -> list[Document]:
        await self._ensure_table(collection)
        stored = [normalise({"version": 1, **document}) for document in documents]
        if any("_id" not in document for document in stored):
            raise ValueError("documents need an _id")
        if not stored:
            return []
        texts = [(document["_id"], to_json(document)) for document in stored]

        async def apply() -> None:
            # One statement per chunk: a statement is all or nothing, so is the transaction.
            for start in range(0, len(texts), _MAX_ROWS):
                chunk = texts[start : start + _MAX_ROWS]
                rows = ", ".join("(?, ?)" for _ in chunk)
                params = [value for row in chunk for value in row]
                await self._write(
                    collection, f'INSERT INTO "{collection}" (id, doc) VALUES {rows}', params
                )
            self._remember(collection, texts)

        if self._current() is None and len(texts) <= _MAX_ROWS:
            await apply()  # one statement commits on its own
        else:
            await self.transaction(apply)
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
            current = await self._current_document(collection, document_id)
            if current is None or current.get("version") != expected_version:
                raise VersionConflictError(collection, document_id)
            for path, value in changes.items():
                _set_path(current, check_path(path), normalise_value(value))
            current["version"] = expected_version + 1
            text = to_json(current)
            await self._write(
                collection, f'UPDATE "{collection}" SET doc = ? WHERE id = ?', [text, document_id]
            )
            self._remember(collection, [(document_id, text)])
            return current

        return await self.transaction(apply)

    async def _replace_many(
        self, collection: str, documents: Sequence[Mapping[str, Any]]
    ) -> list[Document]:
        await self._ensure_table(collection)
        if not documents:
            return []

        async def apply() -> list[Document]:
            # Read in this transaction already (the usual case), they cost no statement here;
            # nobody else writes before it commits.
            current = await self._get_many(collection, [d["_id"] for d in documents])
            stored = []
            for document in documents:
                found = current.get(document["_id"])
                if found is None or found.get("version") != document.get("version"):
                    raise VersionConflictError(collection, document["_id"])
                stored.append(normalise({**document, "version": found["version"] + 1}))
            texts = [(document["_id"], to_json(document)) for document in stored]
            for start in range(0, len(texts), _MAX_ROWS):
                chunk = texts[start : start + _MAX_ROWS]
                rows = ", ".join("(?, ?)" for _ in chunk)
                await self._write(
                    collection,
                    f'INSERT INTO "{collection}" (id, doc) VALUES {rows} '
                    "ON CONFLICT(id) DO UPDATE SET doc = excluded.doc",
                    [value for row in chunk for value in row],
                )
            self._remember(collection, texts)
            return stored

        return await self.transaction(apply)

    async def _increment(
        self, collection: str, document_id: str, amounts: Mapping[str, int]
    ) -> Document | None:
        await self._ensure_table(collection)
        paths = [f"$.{check_path(path)}" for path in amounts]
        if "$.version" in paths:
            raise ValueError("the version moves on by itself")

        # Read and written in one statement (on its own, it commits on its own); inside a
        # transaction the document's text comes back to be kept.
        params: list[Any] = []
        sets = ["'$.version', json_extract(doc, '$.version') + 1"]
        for path, amount in zip(paths, amounts.values(), strict=True):
            sets.append("?, coalesce(json_extract(doc, ?), 0) + ?")
            params += [path, path, int(amount)]
        sql = (
            f'UPDATE "{collection}" SET doc = json_set(doc, {", ".join(sets)}) '
            "WHERE id = ? RETURNING doc"
        )
        params.append(document_id)
        if self._current() is not None:
            rows = execute(self._lane.connection, sql, params)
        else:
            rows = await self._lane.run(
                lambda connection: connection.execute(sql, params).fetchall()
            )
        self._counted()
        return self._documents(collection, rows)[0] if rows else None

    async def _hold(self, collection: str, document_id: str) -> Document | None:
        # A writing transaction holds SQLite's write lock from BEGIN IMMEDIATE to its end, so
        # what it reads stays as it is until it commits.
        return (await self._get_many(collection, [document_id])).get(document_id)

    async def _increment_many(
        self,
        collection: str,
        amounts: dict[str, dict[str, int]],
        on_insert: dict[str, dict[str, Any]],
    ) -> set[str]:
        await self._ensure_table(collection)
        ids = list(amounts)

        async def apply() -> set[str]:
            created: set[str] = set()
            for start in range(0, len(ids), _MAX_ROWS):
                chunk = ids[start : start + _MAX_ROWS]
                sql, params = _upsert_increments(collection, chunk, amounts, on_insert)
                rows = await self._write_returning(collection, sql, params)
                created.update(row[0] for row in rows if row[1] == 1)
            # Written without being read: what this transaction remembers of them is stale.
            for document_id in ids:
                self._forget(collection, document_id)
            return created

        if self._current() is None and len(ids) <= _MAX_ROWS:
            return await apply()  # one statement commits on its own
        return await self.transaction(apply)

    async def delete_many(self, collection: str, filter: Filter) -> int:
        check_score(filter, (), None)
        await self._ensure_table(collection)
        params: list[Any] = []
        where = where_sql(filter, params)
        deleted = await self._write(collection, f'DELETE FROM "{collection}" WHERE {where}', params)
        self._forget(collection)
        return deleted

    async def delete(self, collection: str, document_id: str, *, expected_version: int) -> None:
        await self._ensure_table(collection)

        async def apply() -> None:
            current = await self._current_document(collection, document_id)
            if current is None or current.get("version") != expected_version:
                raise VersionConflictError(collection, document_id)
            await self._write(collection, f'DELETE FROM "{collection}" WHERE id = ?', [document_id])
            self._forget(collection, document_id)

        await self.transaction(apply)

    async def delete_all(self, collection: str) -> None:
        await self._ensure_table(collection)
        await self._write(collection, f'DELETE FROM "{collection}"', [])
        self._forget(collection)

    async def transaction(self, work: Callable[[], Awaitable[T]]) -> T:
        if self._current() is not None:
            return await work()
        transaction = _Transaction()
        await self._lane.begin()
        token = self._transaction.set(transaction)
        try:
            result = await work()
        except BaseException:
            transaction.open = False
            self._lane.rollback()
            raise
        finally:
            self._transaction.reset(token)
        transaction.open = False
        self._lane.commit()
        # Only now: a table created in a transaction that rolled back is gone again.
        self._tables |= transaction.created
        self._counted()
        return result

    async def _ensure_text_index(self, spec: IndexSpec) -> None:
        # Read first: a store already set up needs no write lock, so a process that starts
        # while another holds it (or while the disk is full) still starts and serves reads.
        if await self._text_index_state(spec) != "current":
            await self.transaction(functools.partial(self._make_text_index_current, spec))

    async def _make_text_index_current(self, spec: IndexSpec) -> None:
        state = await self._text_index_state(spec)  # again, now holding the write lock
        if state == "missing":
            for statement in sqlite_text.create_statements(spec):
                execute(self._lane.connection, statement)
        elif state == "outdated":
            name = sqlite_text.update_trigger_name(spec)
            execute(self._lane.connection, f'DROP TRIGGER IF EXISTS "{name}"')
            execute(self._lane.connection, sqlite_text.update_trigger(spec))

    async def _text_index_state(self, spec: IndexSpec) -> Literal["missing", "outdated", "current"]:
        """``outdated``: made by an earlier release, whose trigger re-indexed on every update."""
        text = sqlite_text.table(spec.collection)
        if not await self._fetch("SELECT 1 FROM sqlite_master WHERE name = ?", [text], 0):
            return "missing"
        name = sqlite_text.update_trigger_name(spec)
        held = await self._fetch("SELECT sql FROM sqlite_master WHERE name = ?", [name], 0)
        return "current" if held and held[0][0] == sqlite_text.update_trigger(spec) else "outdated"

    def _text_fields(self, collection: str) -> tuple[str, ...]:
        fields = self._text_of.get(collection)
        if fields is None:
            specs = [spec for spec in self._indexes.get(collection, []) if spec.text]
            fields = self._text_of[collection] = specs[0].fields if specs else ()
        return fields

    def _index_hint(self, collection: str, filter: Filter | None, sort: Sort) -> str:
        """``INDEXED BY`` the declared index that serves ``filter`` and ``sort`` in order, if any.

        Such an index reads a page's rows in order and stops at the page. Without statistics
        SQLite's planner sometimes prefers an index on a filtered field (say ``status``) and
        then sorts every match, so the adapter names the index itself.
        """
        wanted = tuple(name for name, _ in full_sort(sort))
        if SCORE in wanted:
            return ""
        fixed = frozenset(_equality_fields(filter))
        shape = (collection, fixed, wanted)
        hint = self._hints.get(shape)
        if hint is None:
            if len(self._hints) >= _MAX_HINTS:
                self._hints.clear()  # shapes come from the code; this only bounds a surprise
            best: tuple[int, str] | None = None
            for spec in self._indexes.get(collection, []):
                keys = spec.keys
                prefix = len(keys) - len(wanted)
                serves = prefix >= 0 and keys[prefix:] == wanted and set(keys[:prefix]) <= fixed
                if serves and (best is None or prefix > best[0]):
                    best = (prefix, spec.name)
            hint = self._hints[shape] = f' INDEXED BY "{best[1]}"' if best else ""
        return hint

    async def _has_table(self, collection: str) -> bool:
        """Whether ``collection``'s table exists (a read finds it with a read; its answer
        about a collection never written is empty, and creating the table would be a write
        on its path, waiting for the write lock)."""
        if collection in self._tables:
            return True
        transaction = self._current()
        if transaction is not None and collection in transaction.created:
            return True
        found = await self._fetch(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
            [check_collection(collection)],
            0,
            bounded=True,
        )
        if found:
            # Not made by this transaction (that is in ``created``): committed, so it stays.
            self._tables.add(collection)
        return bool(found)

    async def _ensure_table(self, collection: str) -> None:
        if await self._has_table(collection):
            return
        create = (
            f'CREATE TABLE IF NOT EXISTS "{check_collection(collection)}" '
            "(id TEXT PRIMARY KEY, doc TEXT NOT NULL)"
        )
        transaction = self._current()
        if transaction is None:
            await self._lane.run(_statement(create))
            self._tables.add(collection)
        elif collection not in transaction.created:
            # Created inside the transaction, the table vanishes if it rolls back: it is
            # remembered once the transaction commits (creating it outside instead would need
            # the write lock this transaction holds).
            execute(self._lane.connection, create)
            transaction.created.add(collection)

    def _current(self) -> _Transaction | None:
        """The transaction this task runs in, if any (and still open: a task started inside
        one may outlive it)."""
        transaction = self._transaction.get()
        return transaction if transaction is not None and transaction.open else None

    def _documents(self, collection: str, rows: Iterable[Sequence[Any]]) -> list[Document]:
        """The documents of rows of ``doc``; inside a transaction, kept for its later reads."""
        documents = [from_json(row[0]) for row in rows]
        transaction = self._current()
        if transaction is not None:
            seen = transaction.seen(collection)
            for row, document in zip(rows, documents, strict=False):
                seen[document["_id"]] = row[0]
        return documents

    async def _current_document(self, collection: str, document_id: str) -> Document | None:
        """The document as the running transaction sees it (read once per transaction)."""
        found = await self._get_many(collection, [document_id])
        return found.get(document_id)

    def _remember(self, collection: str, texts: Iterable[tuple[str, str]]) -> None:
        transaction = self._current()
        if transaction is not None:
            transaction.seen(collection).update(texts)

    def _forget(self, collection: str, document_id: str | None = None) -> None:
        transaction = self._current()
        if transaction is None:
            return
        if document_id is None:
            transaction.documents.pop(collection, None)
        else:
            transaction.seen(collection).pop(document_id, None)

    async def _fetch(
        self, sql: str, params: Sequence[Any], count: int | None = None, *, bounded: bool = False
    ) -> list[Any]:
        """The rows of a read: inside a transaction on its connection; ``bounded`` (its work
        bounded by the rows it answers, see the module's docstring) inline; otherwise on the
        reader's thread."""
        if self._current() is not None:
            rows = execute(self._lane.connection, sql, params)
        elif bounded and self._inline is not None:
            rows = await self._inline_read(self._inline, sql, params)
        else:
            rows = await self._threaded_read(sql, params)
        self._counted(len(rows) if count is None else count)
        return rows

    async def _inline_read(
        self, connection: sqlite3.Connection, sql: str, params: Sequence[Any]
    ) -> list[Any]:
        """A bounded read made inline and answered in its turn (:meth:`_turn`); one that would
        wait for a lock is made on the reader's thread, which waits with the busy timeout."""
        try:
            with unavailable_on_error():
                rows: list[Any] = connection.execute(sql, params).fetchall()
        except StoreUnavailableError as error:
            if busy(error):
                return await self._threaded_read(sql, params)
            await self._turn()
            raise
        await self._turn()
        return rows

    async def _turn(self) -> None:
        """Wait until every read asked before this one has been answered, and at least until
        the event loop's next turn. The reader's thread answers its reads one after another,
        each in a later turn of the loop; inline reads keep that order, so fields read side by
        side meet their results, and their errors, in the order they asked, whichever way
        each read went (graphql-core records errors in the order its resolvers meet them)."""
        previous = self._threaded
        if previous is None or previous.done():
            await asyncio.sleep(0)
        else:
            await asyncio.shield(previous)

    async def _threaded_read(self, sql: str, params: Sequence[Any]) -> list[Any]:
        answered = asyncio.get_running_loop().create_future()
        self._threaded = answered
        try:
            with unavailable_on_error():
                # One hop to the reader's thread (a cursor's execute, fetch and close were three).
                return list(await self._read_connection().execute_fetchall(sql, params))
        finally:
            if not answered.done():
                answered.set_result(None)

    async def _write_returning(self, collection: str, sql: str, params: Sequence[Any]) -> list[Any]:
        """Run a statement that changes ``collection`` and returns rows (``RETURNING``)."""
        try:
            if self._current() is not None:
                rows = execute(self._lane.connection, sql, params)
            else:
                rows = await self._lane.run(
                    lambda connection: connection.execute(sql, params).fetchall()
                )
        except sqlite3.IntegrityError as error:
            raise DuplicateKeyError(collection, _index_name(collection, str(error))) from error
        self._counted()
        return rows

    async def _write(self, collection: str, sql: str, params: Sequence[Any]) -> int:
        """Run a statement that changes ``collection``; returns how many rows it changed."""
        try:
            if self._current() is not None:
                changed = execute_changing(self._lane.connection, sql, params)
            else:
                changed = await self._lane.run(
                    lambda connection: connection.execute(sql, params).rowcount
                )
        except sqlite3.IntegrityError as error:
            raise DuplicateKeyError(collection, _index_name(collection, str(error))) from error
        self._counted()
        return int(changed)

    def _read_connection(self) -> aiosqlite.Connection:
        if self._reader is None:
            raise StoreUnavailableError("the SQLite store is not connected")
        return self._reader


@dataclass
class _Transaction:
    """What one write transaction has seen: the documents it read or wrote, as stored text by
    collection and id, and the tables it created. The transaction holds SQLite's write lock,
    so no one else changes those documents before it ends."""

    documents: dict[str, dict[str, str]] = field(default_factory=dict)
    created: set[str] = field(default_factory=set)
    open: bool = True

    def seen(self, collection: str) -> dict[str, str]:
        return self.documents.setdefault(collection, {})


class _Parent:
    """Where a grouped read's arm takes its parent's value (see ``_find_grouped``)."""


_PARENT = _Parent()


def _statement(sql: str) -> Callable[[sqlite3.Connection], object]:
    return lambda connection: connection.execute(sql)


def _upsert_increments(
    collection: str,
    ids: Sequence[str],
    amounts: Mapping[str, Mapping[str, int]],
    on_insert: Mapping[str, Mapping[str, Any]],
) -> tuple[str, list[Any]]:
    """One statement that adds ``amounts`` to the documents ``ids`` (creating the missing ones)
    and returns each one's id and version afterwards (1: created now).

    Each row inserted is the document as it would be created: its amounts are at their paths
    there, so an existing document adds ``excluded``'s value at each path. Documents whose
    amounts name the same paths share one ``json_set`` (an accept's counters all do), picked
    by id: the statement's text depends on the shapes only, so it stays prepared."""
    params: list[Any] = []
    # Documents given the same amounts (an accept's partner and platform scopes all are) share
    # one nested object of them, and their shape. ``increment_many`` checked that no path runs
    # through an ``on_insert`` field, so the nested objects are only ever read.
    made: dict[tuple[tuple[str, int], ...], tuple[dict[str, Any], tuple[str, ...]]] = {}
    shapes: dict[tuple[str, ...], list[str]] = {}
    for document_id in ids:
        added = amounts[document_id]
        key = tuple(added.items())
        found = made.get(key)
        if found is None:
            found = made[key] = (_nested(added), tuple(sorted(added)))
        nested, shape = found
        document = {"_id": document_id, "version": 1}
        fields = on_insert.get(document_id)
        if fields:
            document.update(normalise(fields))
        document.update(nested)
        params += [document_id, to_json(document)]
        shapes.setdefault(shape, []).append(document_id)
    arms: list[str] = []
    for paths, members in shapes.items():
        sets = ["'$.version', json_extract(doc, '$.version') + 1"]
        arm_params: list[Any] = []
        for path in paths:
            sets.append("?, coalesce(json_extract(doc, ?), 0) + json_extract(excluded.doc, ?)")
            arm_params += [f"$.{path}"] * 3
        change = f"json_set(doc, {', '.join(sets)})"
        if len(shapes) == 1:
            arms.append(change)
        else:
            arms.append(f"WHEN id IN ({', '.join('?' for _ in members)}) THEN {change}")
            arm_params = [*members, *arm_params]
        params += arm_params
    update = arms[0] if len(arms) == 1 else f"CASE {' '.join(arms)} END"
    rows = ", ".join("(?, ?)" for _ in ids)
    sql = (
        f'INSERT INTO "{collection}" (id, doc) VALUES {rows} '
        f"ON CONFLICT(id) DO UPDATE SET doc = {update} "
        "RETURNING id, json_extract(doc, '$.version')"
    )
    return sql, params


def _nested(amounts: Mapping[str, int]) -> dict[str, Any]:
    """Amounts by dotted path, as the nested objects a created document holds them in."""
    nested: dict[str, Any] = {}
    for path, amount in amounts.items():
        _set_path(nested, path, amount)
    return nested


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
