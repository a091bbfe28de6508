"""Background loops report store trouble once when it starts and once when it ends, and any
other failure with its traceback every time (resolvers/round_failures.py)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from datastore import collections as c
from datastore.store import DocumentStore
from resolvers.event_hub import EventHub
from resolvers.round_failures import RoundFailures
from tests.polling import until
from tests.stores import open_store

LOGGER = "tsp.test_round_failures"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[DocumentStore]:
    opened = await open_store("sqlite", tmp_path)
    yield opened
    await opened.close()


def _messages(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str, bool]]:
    return [
        (record.levelname, record.getMessage(), record.exc_info is not None)
        for record in caplog.records
        if record.name == LOGGER
    ]


async def test_store_trouble_is_logged_when_it_starts_and_when_it_ends(
    store: DocumentStore, caplog: pytest.LogCaptureFixture
) -> None:
    failures = RoundFailures(logging.getLogger(LOGGER), "sweep")
    await store.close()  # every read now fails StoreUnavailableError
    with caplog.at_level(logging.INFO, LOGGER):
        for _ in range(5):
            try:
                await store.find(c.PARTNERS)
            except Exception:
                failures.failed()
        assert failures.store_away
        await store.connect()
        await store.find(c.PARTNERS)
        failures.succeeded()
        failures.succeeded()
    assert not failures.store_away
    [(level, warning, traced), (back_level, back, _)] = _messages(caplog)
    assert (level, traced) == ("WARNING", False)
    assert warning.startswith("sweep: the store is unavailable (")
    assert back_level == "INFO" and back.startswith("sweep: the store answers again")


async def test_any_other_failure_is_logged_with_its_traceback_every_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failures = RoundFailures(logging.getLogger(LOGGER), "sweep")
    with caplog.at_level(logging.INFO, LOGGER):
        for _ in range(2):
            try:
                raise ValueError("a bug")
            except ValueError:
                failures.failed()
    assert _messages(caplog) == [("ERROR", "sweep failed; retrying", True)] * 2
    assert not failures.store_away


async def test_the_event_log_follower_logs_an_outage_once(
    store: DocumentStore, caplog: pytest.LogCaptureFixture
) -> None:
    """It polls every few milliseconds: each failed poll used to log a traceback."""
    hub = EventHub(store, poll_seconds=0.001)
    await hub.start()
    try:
        with caplog.at_level(logging.INFO, "tsp"):
            await store.close()
            polls = hub.polls
            await until(lambda: len(caplog.records) > 0, "the follower met the outage")
            await store.connect()
            await until(lambda: hub.polls > polls, "the follower read again")
            await until(lambda: len(caplog.records) > 1, "the follower said so")
    finally:
        await hub.stop()
    levels = [(record.levelname, record.getMessage().split(":")[0]) for record in caplog.records]
    assert levels == [
        ("WARNING", "following the event log"),
        ("INFO", "following the event log"),
    ]
