"""Writes a request does not wait for: written at once when the store takes them, else retried
in the background until it does, within a bound on how many wait; what is lost is logged."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from pathlib import Path

import pytest

from datastore.sqlite import SQLiteStore
from datastore.store import Collection
from edge.deferred_writes import DeferredWrites
from tests.polling import until
from tests.stores import write_locked

NOTES = Collection("notes", dict)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "deferred.sqlite3", busy_timeout_ms=50)
    await opened.connect()
    await opened.insert(NOTES, {"_id": "nte_0"})  # the table exists before the lock is taken
    yield opened
    await opened.close()


def _note(store: SQLiteStore, number: int) -> Callable[[], Awaitable[object]]:
    return partial(store.insert, NOTES, {"_id": f"nte_{number}"})


async def _count(store: SQLiteStore, expected: int) -> bool:
    return await store.count(NOTES) == expected


async def test_a_write_the_store_takes_is_written_at_once(store: SQLiteStore) -> None:
    deferred = DeferredWrites()
    assert await deferred.write("note", _note(store, 1)) is True
    assert await store.count(NOTES) == 2
    assert deferred.pending == 0


async def test_a_write_the_store_cannot_take_is_written_once_it_can(store: SQLiteStore) -> None:
    deferred = DeferredWrites(first_retry_seconds=0.01, longest_retry_seconds=0.05)
    with write_locked(store.path, "IMMEDIATE"):
        assert await deferred.write("note", _note(store, 1)) is False
        assert deferred.pending == 1
        assert await store.count(NOTES) == 1
    await until(lambda: _count(store, 2), "the deferred note written")
    await until(lambda: deferred.pending == 0, "its retries ended")
    await deferred.close()


async def test_deferred_writes_are_written_oldest_first_once_the_store_is_back(
    store: SQLiteStore,
) -> None:
    deferred = DeferredWrites(first_retry_seconds=0.01, longest_retry_seconds=0.05)
    statements: list[str] = []
    with write_locked(store.path, "IMMEDIATE"):
        for number in (1, 2, 3):
            assert await deferred.write("note", _note(store, number)) is False
        assert deferred.pending == 3
        await store.trace(statements.append)
    await until(lambda: deferred.pending == 0, "the waiting notes written")
    await store.trace(None)
    assert await store.count(NOTES) == 4
    inserted = [line for line in statements if line.startswith('INSERT INTO "notes"')]
    assert [line.split("'nte_")[1][0] for line in inserted] == ["1", "2", "3"]
    await deferred.close()


async def test_writes_beyond_the_bound_are_lost_and_logged(
    store: SQLiteStore, caplog: pytest.LogCaptureFixture
) -> None:
    deferred = DeferredWrites(first_retry_seconds=0.01, max_pending=1)
    with caplog.at_level(logging.WARNING, "tsp.deferred_writes"):
        with write_locked(store.path, "IMMEDIATE"):
            assert await deferred.write("note", _note(store, 1)) is False
            assert await deferred.write("note", _note(store, 2)) is False
            assert deferred.pending == 1
        await until(lambda: deferred.pending == 0, "the waiting note written")
    assert await store.count(NOTES) == 2
    [lost] = [record.getMessage() for record in caplog.records]
    assert lost == "note lost (1): the store cannot take writes and 1 are already waiting"
    await deferred.close()


async def test_closing_ends_the_retries_and_logs_what_was_lost(
    store: SQLiteStore, caplog: pytest.LogCaptureFixture
) -> None:
    deferred = DeferredWrites(first_retry_seconds=0.01, longest_retry_seconds=0.02)
    with caplog.at_level(logging.WARNING, "tsp.deferred_writes"), write_locked(store.path):
        assert await deferred.write("note", _note(store, 1)) is False
        await deferred.close()
    assert deferred.pending == 0
    assert await store.count(NOTES) == 1
    assert [record.getMessage() for record in caplog.records] == [
        "note lost (1): the process stopped before the store took it"
    ]


async def test_a_first_try_past_the_wait_finishes_in_the_background_uncancelled(
    store: SQLiteStore,
) -> None:
    """Cancelling it would wait for its clean-up on the request's path (on MongoDB, aborting a
    started transaction waits for a primary): it goes on, and is not tried a second time."""
    deferred = DeferredWrites(wait_seconds=0.01, first_retry_seconds=0.01)
    release = asyncio.Event()
    tries: list[str] = []

    async def slow_note() -> object:
        tries.append("started")
        await release.wait()
        return await store.insert(NOTES, {"_id": "nte_1"})

    assert await deferred.write("note", slow_note) is False
    release.set()
    await until(lambda: _count(store, 2), "the first try's note written")
    assert tries == ["started"]
    assert deferred.pending == 0
    await deferred.close()
