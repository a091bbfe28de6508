"""The change stream that wakes the event hub on MongoDB: a resume token that can no longer
resume, or a stream the server invalidated, is given up once for a fresh stream (with one extra
wake-up so followers catch up by position), never retried forever."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pymongo.errors import AutoReconnect, OperationFailure

from datastore.mongodb import MongoStore, _token_is_dead
from datastore.store import Collection
from tests.stores import drop_store, open_store, requires_mongodb

THINGS = Collection("things", dict)
MAX_POLLS = 600
"""How many 0.05 s polls a wait lasts at most (generous: the server may be slow)."""


def test_a_lost_history_or_a_fatal_stream_error_means_the_token_is_dead() -> None:
    assert _token_is_dead(OperationFailure("history lost", code=286))
    assert _token_is_dead(OperationFailure("bad token", code=260))
    assert _token_is_dead(OperationFailure("fatal", code=280))
    labelled = OperationFailure(
        "no", code=1, details={"errorLabels": ["NonResumableChangeStreamError"]}
    )
    assert _token_is_dead(labelled)
    # Worth retrying with the same token: the server was unreachable, or refused something else.
    assert not _token_is_dead(AutoReconnect("connection reset"))
    assert not _token_is_dead(OperationFailure("not authorized", code=13))


@pytest.fixture(params=[pytest.param("mongodb", id="mongodb", marks=requires_mongodb)])
async def mongo(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MongoStore]:
    opened = await open_store(request.param, tmp_path)
    assert isinstance(opened, MongoStore)
    yield opened
    await drop_store(opened)


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "datastore.mongodb"]


async def _wait_for(wakes: list[int], count: int, store: MongoStore | None = None) -> None:
    """Until ``wakes`` reaches ``count``; with ``store``, inserting a document now and then (a
    stream only sees inserts made after it opened, and when it did is not observable)."""
    for poll in range(MAX_POLLS):
        if len(wakes) >= count:
            return
        if store is not None and poll % 10 == 0:
            await store.insert(THINGS, {"_id": f"thg_{count}_{poll}"})
        await asyncio.sleep(0.05)
    pytest.fail(f"{len(wakes)} wake-ups after {MAX_POLLS} polls, wanted {count}")


async def test_an_invalidated_stream_starts_afresh_and_says_so_once(
    mongo: MongoStore, caplog: pytest.LogCaptureFixture
) -> None:
    wakes: list[int] = []

    async def watch() -> None:
        async for _ in mongo.watch_inserts(THINGS):
            wakes.append(1)

    watcher = asyncio.create_task(watch())
    try:
        with caplog.at_level(logging.WARNING, logger="datastore.mongodb"):
            await _wait_for(wakes, 1, mongo)
            # Dropping the collection invalidates every stream on it.
            await mongo._database().drop_collection(str(THINGS))
            for _ in range(MAX_POLLS):
                if _warnings(caplog):
                    break
                await asyncio.sleep(0.05)
            # The old stream ended at the invalidation, after every earlier insert; of the
            # next two wake-ups at most one is the fresh stream's own, so an insert woke it.
            seen = len(wakes)
            await _wait_for(wakes, seen + 2, mongo)
    finally:
        watcher.cancel()
        with pytest.raises(asyncio.CancelledError):
            await watcher
    warnings = _warnings(caplog)
    assert len(warnings) == 1, warnings
    assert "invalidated" in warnings[0] and "fresh stream" in warnings[0]
