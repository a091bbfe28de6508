"""What a write costs on SQLite, counted in statements (never timed): a table is created once,
whether first touched inside a transaction or not, and accepting an offer through the API runs
a bounded number of statements however many services it holds."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from datastore import sqlite_text
from datastore.sqlite import SQLiteStore
from datastore.store import Collection, DocumentStore, IndexSpec
from tests.conftest import (
    GraphQLClient,
    Make,
    accept,
)
from tests.stores import sqlite_only

FRESH = Collection("fresh", dict)
WORDED = Collection("worded", dict)
WORDS_INDEX = IndexSpec("worded", ("words", "title"), text=True)
# The accept itself (BEGIN and COMMIT included; the caller's seller read with the offer, in
# one statement), then the insight counters it moves: one increment of every counter document
# it touches (never read), whatever the scopes.
MAX_STATEMENTS_PER_ACCEPT = 14 + 1
# The WAL tests write 30 MB: several times this threshold (a quarter of the served one).
CHECKPOINT_BYTES = 1000 * 4096


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "writes.sqlite3")
    await opened.connect()
    yield opened
    await opened.close()


def _creates(statements: list[str], table: str) -> int:
    return sum(s.startswith(f'CREATE TABLE IF NOT EXISTS "{table}"') for s in statements)


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as connection:
        return {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}


async def test_a_table_first_created_in_a_transaction_is_remembered_after_commit(
    sqlite_store: SQLiteStore,
) -> None:
    statements: list[str] = []
    await sqlite_store.trace(statements.append)
    for n in range(4):
        await sqlite_store.transaction(_inserting(sqlite_store, f"f{n}"))
    await sqlite_store.insert(FRESH, {"_id": "outside"})
    assert await sqlite_store.count(FRESH) == 5
    assert _creates(statements, "fresh") == 1


async def test_a_table_created_in_a_transaction_that_rolled_back_is_created_again(
    sqlite_store: SQLiteStore,
) -> None:
    statements: list[str] = []
    await sqlite_store.trace(statements.append)

    async def write_then_fail() -> None:
        await sqlite_store.insert(FRESH, {"_id": "f1"})
        raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        await sqlite_store.transaction(write_then_fail)
    assert "fresh" not in _tables(sqlite_store.path)

    for document_id in ("f2", "f3"):
        await sqlite_store.transaction(_inserting(sqlite_store, document_id))
    assert "fresh" in _tables(sqlite_store.path)
    assert set(await sqlite_store.get_many(FRESH, ["f1", "f2", "f3"])) == {"f2", "f3"}
    assert _creates(statements, "fresh") == 2


def _inserting(store: SQLiteStore, document_id: str) -> Callable[[], Awaitable[None]]:
    async def write() -> None:
        await store.insert(FRESH, {"_id": document_id})

    return write


@sqlite_only
@pytest.mark.parametrize("services", [1, 3])
async def test_accepting_an_offer_runs_a_bounded_number_of_statements(
    store: DocumentStore, gql: GraphQLClient, make: Make, services: int
) -> None:
    """Every statement of the request on either connection, BEGIN and COMMIT included: the
    history entries and events of the accept are one insert each, the event counter one
    increment, documents read once per transaction and never read back after a write."""
    assert isinstance(store, SQLiteStore)
    partner = await make.partner()
    offered = [await make.service(partner) for _ in range(services)]
    # A first accept creates the event counter (a store seeded by `tsp-gateway seed` has it),
    # and a day's first accept starts that day's insight counters: the accept counted is one
    # made on the same UTC day as the one before it (a third is made if midnight fell between).
    days: list[date] = []
    while len(days) < 2 or (days[-1] != days[-2] and len(days) < 3):
        days.append(datetime.now(UTC).date())
        offer = await make.offer(partner, offered, days=60)
        seller = await make.seller()
        statements: list[str] = []
        await store.trace(statements.append)
        try:
            await accept(gql, offer, seller)
        finally:
            await store.trace(None)
    authorizations = [s for s in statements if s.startswith('INSERT INTO "authorizations"')]
    assert len(authorizations) == 1
    assert not any(s.startswith("CREATE") for s in statements), statements
    # The partner is held, not rewritten: SQLite's writing transactions never overlap.
    assert not any(s.startswith('UPDATE "partners"') for s in statements), statements
    # A checkpoint the lane's thread runs after a commit that left the WAL long (the session
    # store's WAL after the tests before this one, say) is the store's upkeep, not the accept's.
    own = [s for s in statements if not s.startswith("PRAGMA wal_checkpoint")]
    assert len(own) <= MAX_STATEMENTS_PER_ACCEPT, "\n".join(own)


async def test_the_wal_is_checkpointed_while_commits_run_inline(tmp_path: Path) -> None:
    """Transactions commit on the event loop's thread with SQLite's auto-checkpoint off; the
    lane checkpoints on a thread of its own once the WAL is past its threshold, so the WAL
    keeps being reused instead of growing with everything ever written."""
    store = SQLiteStore(tmp_path / "wal.sqlite3", checkpoint_bytes=CHECKPOINT_BYTES)
    await store.connect()
    wal = f"{store.path}-wal"
    chunk = "x" * 200_000
    written = 0
    try:
        for n in range(150):  # 30 MB in all: several times the threshold
            await store.transaction(_inserting_text(store, f"w{n}", chunk))
            written += len(chunk)
        assert os.stat(wal).st_size < written / 2
    finally:
        await store.close()


async def test_the_wal_is_started_over_while_another_writer_commits(tmp_path: Path) -> None:
    """Two stores on one file (as two worker processes are) write without a pause: each one's
    checkpoint holds the write lock while it copies, so it finishes although the other keeps
    committing, and the WAL is started over instead of growing with everything written."""
    path = tmp_path / "two.sqlite3"
    first = SQLiteStore(path, checkpoint_bytes=CHECKPOINT_BYTES)
    second = SQLiteStore(path, checkpoint_bytes=CHECKPOINT_BYTES)
    await first.connect()
    await second.connect()
    chunk = "x" * 200_000
    sizes: list[int] = []

    async def writes(store: SQLiteStore, name: str) -> None:
        for n in range(75):
            await store.transaction(_inserting_text(store, f"{name}{n}", chunk))
            sizes.append(os.stat(f"{path}-wal").st_size)
            await asyncio.sleep(0)  # the other store's transaction runs between two of these

    try:
        await asyncio.gather(writes(first, "a"), writes(second, "b"))
    finally:
        await first.close()
        await second.close()
    # 30 MB written in all; the WAL stays near the checkpoint threshold.
    assert max(sizes) < 150 * len(chunk) / 3


def _inserting_text(
    store: SQLiteStore, document_id: str, text: str
) -> Callable[[], Awaitable[None]]:
    async def write() -> None:
        await store.insert(FRESH, {"_id": document_id, "text": text})

    return write


async def test_a_write_that_keeps_the_words_writes_no_text_index_rows(
    sqlite_store: SQLiteStore,
) -> None:
    """A store made before re-indexing only changed words gets the new trigger when its
    indexes are ensured; then an update that keeps the words writes its one row, and one
    that changes them re-indexes the document."""
    await sqlite_store.ensure_indexes([WORDS_INDEX])
    name = sqlite_text.update_trigger_name(WORDS_INDEX)
    # The trigger as the earlier release created it: re-index on every update.
    earlier = (
        f'CREATE TRIGGER "{name}" AFTER UPDATE ON "worded" BEGIN '
        'DELETE FROM "worded__text" WHERE rowid = old.rowid; '
        'INSERT INTO "worded__text" (rowid, words, title) VALUES (new.rowid, '
        "(SELECT group_concat(value, ' ') FROM json_each(new.doc, '$.words')), "
        "(SELECT group_concat('c1' || value, ' ') FROM json_each(new.doc, '$.title'))); END"
    )
    with sqlite3.connect(sqlite_store.path) as connection:
        connection.execute(f'DROP TRIGGER "{name}"')
        connection.execute(earlier)
    await sqlite_store.close()
    reopened = SQLiteStore(sqlite_store.path)
    await reopened.connect()
    try:
        await reopened.ensure_indexes([WORDS_INDEX])
        with sqlite3.connect(reopened.path) as connection:
            (held,) = connection.execute("SELECT sql FROM sqlite_master WHERE name = ?", [name])
        assert held[0] == sqlite_text.update_trigger(WORDS_INDEX)
        words = [f"w{n}" for n in range(20)]
        await reopened.insert(WORDED, {"_id": "wrd_1", "words": words, "title": ["t"]})
        before = reopened.rows_written
        await reopened.update(WORDED, "wrd_1", expected_version=1, changes={"listed": False})
        assert reopened.rows_written - before == 1
        before = reopened.rows_written
        await reopened.update(WORDED, "wrd_1", expected_version=2, changes={"words": ["w99"]})
        assert reopened.rows_written - before > 1
        found = await reopened.find(WORDED, {"words": {"$contains": "w99"}})
        assert [d["_id"] for d in found] == ["wrd_1"]
    finally:
        await reopened.close()
