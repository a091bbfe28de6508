"""What a write costs on SQLite, counted in statements (never timed): a table is created once,
whether first touched inside a transaction or not, and accepting an offer through the API runs
a bounded number of statements however many services it holds."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from datastore.sqlite import SQLiteStore
from datastore.store import Collection, DocumentStore
from tests.conftest import (
    GraphQLClient,
    Make,
    accept,
)
from tests.stores import sqlite_only

FRESH = Collection("fresh", dict)
# The accept itself (BEGIN and COMMIT included), then the insight counters it moves: one read
# of every counter document it touches and one write of them all, whatever the scopes.
MAX_STATEMENTS_PER_ACCEPT = 15 + 2


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
    # A first accept creates the event counter (a store seeded by `tsp-gateway seed` has it).
    for _ in range(2):
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
    assert len(statements) <= MAX_STATEMENTS_PER_ACCEPT, "\n".join(statements)
