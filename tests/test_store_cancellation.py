"""A request timeout cancels whatever the store was doing; the SQLite adapter must come out of
it usable, even when the cancellation hit while ``BEGIN`` waited for another writer."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from datastore import collections as c
from datastore.sqlite import SQLiteStore


@pytest.fixture
async def store_and_other_writer(
    tmp_path: Path,
) -> AsyncIterator[tuple[SQLiteStore, sqlite3.Connection]]:
    """A store with its table in place, and a connection of another process (a second gateway
    worker, say) holding the file's write lock: the test lets it go."""
    path = tmp_path / "locked.sqlite3"
    store = SQLiteStore(path)
    await store.connect()
    try:
        await store.insert(c.PARTNERS, {"_id": "ptn_seed", "name": "seed"})
        other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")
        try:
            yield store, other
        finally:
            other.close()
    finally:
        await store.close()


async def _insert(store: SQLiteStore, document_id: str) -> Mapping[str, Any]:
    return await store.insert(c.PARTNERS, {"_id": document_id, "name": document_id})


async def test_a_transaction_cancelled_while_waiting_for_the_writer_lock_leaves_none_open(
    store_and_other_writer: tuple[SQLiteStore, sqlite3.Connection],
) -> None:
    store, other = store_and_other_writer
    # It lets go after the request timeout below fired, while BEGIN is still waiting.
    release = threading.Timer(0.5, other.execute, ("COMMIT",))
    release.start()
    try:
        await asyncio.wait_for(store.transaction(lambda: _insert(store, "ptn_cut")), 0.1)
    except TimeoutError:
        pass
    else:
        raise AssertionError("the transaction should have waited for the lock")
    release.join()

    written = await store.transaction(lambda: _insert(store, "ptn_after"))
    assert written["_id"] == "ptn_after"
    found = await store.get_many(c.PARTNERS, ["ptn_cut", "ptn_after"])
    assert set(found) == {"ptn_after"}


async def test_a_transaction_waits_for_another_writer_while_the_loop_serves_reads(
    store_and_other_writer: tuple[SQLiteStore, sqlite3.Connection],
) -> None:
    """``BEGIN`` finding another process writing tries again from the loop, which meanwhile
    answers reads; once the other writer is done, the transaction commits."""
    store, other = store_and_other_writer
    waiting = asyncio.create_task(store.transaction(lambda: _insert(store, "ptn_waited")))
    # Reads answer while the write waits (a read never waits on a write).
    for _ in range(5):
        assert set(await store.get_many(c.PARTNERS, ["ptn_seed", "ptn_waited"])) == {"ptn_seed"}
        await asyncio.sleep(0.01)
    assert not waiting.done()
    other.execute("COMMIT")
    written = await asyncio.wait_for(waiting, 60)
    assert written["_id"] == "ptn_waited"
    assert set(await store.get_many(c.PARTNERS, ["ptn_waited"])) == {"ptn_waited"}
