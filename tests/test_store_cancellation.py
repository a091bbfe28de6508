"""A request timeout cancels whatever the store was doing; the SQLite adapter must come out of
it usable, even when the cancellation hit while ``BEGIN`` waited for another writer."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from datastore import collections as c
from datastore.sqlite import SQLiteStore


async def test_a_transaction_cancelled_while_waiting_for_the_writer_lock_leaves_none_open(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cancel.sqlite3"
    store = SQLiteStore(path)
    await store.connect()
    try:
        await store.insert(c.PARTNERS, {"_id": "ptn_seed", "name": "seed"})  # table in place
        # Another process holds the write lock (a second gateway worker, say).
        other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")
        # It lets go after the request timeout below fired, while BEGIN is still waiting.
        release = threading.Timer(0.5, other.execute, ("COMMIT",))

        async def write(document_id: str) -> Mapping[str, Any]:
            return await store.insert(c.PARTNERS, {"_id": document_id, "name": document_id})

        release.start()
        try:
            await asyncio.wait_for(store.transaction(lambda: write("ptn_cut")), 0.1)
        except TimeoutError:
            pass
        else:
            raise AssertionError("the transaction should have waited for the lock")
        release.join()
        other.close()

        written = await store.transaction(lambda: write("ptn_after"))
        assert written["_id"] == "ptn_after"
        found = await store.get_many(c.PARTNERS, ["ptn_cut", "ptn_after"])
        assert set(found) == {"ptn_after"}
    finally:
        await store.close()


async def test_a_transaction_waits_for_another_writer_while_the_loop_serves_reads(
    tmp_path: Path,
) -> None:
    """``BEGIN`` finding another process writing tries again from the loop, which meanwhile
    answers reads; once the other writer is done, the transaction commits."""
    path = tmp_path / "wait.sqlite3"
    store = SQLiteStore(path)
    await store.connect()
    try:
        await store.insert(c.PARTNERS, {"_id": "ptn_seed", "name": "seed"})  # table in place
        other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")

        async def write() -> Mapping[str, Any]:
            return await store.insert(c.PARTNERS, {"_id": "ptn_waited", "name": "waited"})

        waiting = asyncio.create_task(store.transaction(write))
        # Reads answer while the write waits (a read never waits on a write).
        for _ in range(5):
            assert set(await store.get_many(c.PARTNERS, ["ptn_seed", "ptn_waited"])) == {"ptn_seed"}
            await asyncio.sleep(0.01)
        assert not waiting.done()
        other.execute("COMMIT")
        other.close()
        written = await asyncio.wait_for(waiting, 5)
        assert written["_id"] == "ptn_waited"
        assert set(await store.get_many(c.PARTNERS, ["ptn_waited"])) == {"ptn_waited"}
    finally:
        await store.close()
