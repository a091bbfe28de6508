"""Opening real stores for tests: SQLite always, MongoDB when ``MONGODB_URI`` is set."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from pymongo import monitoring

from datastore.mongodb import MongoStore
from datastore.sqlite import SQLiteStore
from datastore.store import DocumentStore

_STORE_CLASSES: dict[str, type[DocumentStore]] = {"sqlite": SQLiteStore, "mongodb": MongoStore}

MONGODB_URI = os.environ.get("MONGODB_URI", "")

MONGODB_SKIP_REASON = (
    "MONGODB_URI is not set: no MongoDB replica set on this machine "
    "(see README, 'Running against MongoDB')"
)
requires_mongodb = pytest.mark.skipif(not MONGODB_URI, reason=MONGODB_SKIP_REASON)

STORE_KINDS = [pytest.param("sqlite", id="sqlite"), pytest.param("mongodb", id="mongodb")]
"""The session store's adapters (conftest skips ``mongodb`` itself, once, without a URI)."""

sqlite_only = pytest.mark.parametrize(
    "session_store", [pytest.param("sqlite", id="sqlite")], indirect=True
)
"""Pins a test that is about SQLite (its files, locks or query plans) to the session's SQLite
store: no ``[mongodb]`` id is collected for it. The parameter has the session fixture's own
value, so the test shares the SQLite store the ``[sqlite]`` half of the suite uses."""

mongodb_only = pytest.mark.parametrize(
    "session_store", [pytest.param("mongodb", id="mongodb")], indirect=True
)
"""Pins a test that is about MongoDB (its query plans) to the session's MongoDB store (skipped,
like every ``[mongodb]`` test, without ``MONGODB_URI``)."""

ADAPTERS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("mongodb", id="mongodb", marks=requires_mongodb),
]


def mongodb_url_for_test_database() -> str:
    """``MONGODB_URI`` with a fresh database name, so parallel runs never share data."""
    parts = urlsplit(MONGODB_URI)
    return urlunsplit(parts._replace(path=f"/tsp_test_{uuid.uuid4().hex[:12]}"))


async def open_store(kind: str, directory: Path) -> DocumentStore:
    store: DocumentStore
    if kind == "sqlite":
        store = SQLiteStore(directory / f"{uuid.uuid4().hex}.sqlite3")
    else:
        store = MongoStore(mongodb_url_for_test_database())
    await store.connect()
    return store


async def drop_store(store: DocumentStore) -> None:
    if isinstance(store, MongoStore):
        client = store._require_client()
        await client.drop_database(client.get_default_database().name)
    await store.close()


@contextlib.contextmanager
def write_locked(path: Path, mode: str = "EXCLUSIVE") -> Iterator[None]:
    """Another connection holds SQLite's write lock on ``path`` for the duration (``BEGIN
    EXCLUSIVE`` keeps readers out of a rollback-journal file too; ``IMMEDIATE`` lets them in)."""
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute(f"BEGIN {mode}")
        yield
        other.execute("ROLLBACK")
    finally:
        other.close()


def adapter_problem(test_id: str, params: Iterable[object], values: Iterable[object]) -> str | None:
    """Why a test parametrised with an adapter (a parameter whose value is ``"mongodb"`` or
    ``"sqlite"``, as ``STORE_KINDS``, ``ADAPTERS`` and the pins give) and set up with fixture
    ``values`` does not run on that adapter, or ``None``: it must be given a store of that
    adapter and none of another. (A ``[mongodb]`` test that quietly ran on SQLite would count
    as MongoDB coverage that never happened.)"""
    kinds = sorted(
        {param for param in params if isinstance(param, str) and param in _STORE_CLASSES}
    )
    if len(kinds) != 1:
        return None
    wanted = _STORE_CLASSES[kinds[0]]
    stores = [value for value in values if isinstance(value, DocumentStore)]
    if not any(isinstance(store, wanted) for store in stores):
        return f"{test_id} is named for {kinds[0]} but was given no {wanted.__name__}"
    others = sorted({type(s).__name__ for s in stores if not isinstance(s, wanted)})
    if others:
        return f"{test_id} is named for {kinds[0]} but was also given {', '.join(others)}"
    return None


_PLANNED = ("find", "aggregate", "filter", "sort", "limit", "pipeline", "projection", "cursor")


class ReadCommands(monitoring.CommandListener):
    """The reads (``find``, ``aggregate``) sent to MongoDB while a test records, as commands
    ``explain`` takes: what the adapter asked, without the session's fields. PyMongo's command
    monitoring, registered for every client the tests open (idle unless recording)."""

    def __init__(self) -> None:
        self._seen: list[dict[str, Any]] | None = None

    @contextlib.contextmanager
    def recording(self) -> Iterator[list[dict[str, Any]]]:
        """The reads sent while inside: ``{"database": ..., "find" | "aggregate": ...}``."""
        seen: list[dict[str, Any]] = []
        self._seen = seen
        try:
            yield seen
        finally:
            self._seen = None

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self._seen is not None and event.command_name in ("find", "aggregate"):
            kept = {key: value for key, value in event.command.items() if key in _PLANNED}
            self._seen.append({"database": event.database_name, **kept})

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


class SentCommands(monitoring.CommandListener):
    """Every command one client sends, as sent (PyMongo's command monitoring): give it to a
    store as ``MongoStore(url, event_listeners=[listener])``."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def named(self, *names: str) -> list[dict[str, Any]]:
        """The commands sent of these names (``find``, ``createIndexes``...), in order."""
        return [command for name, command in self.sent if name in names]

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.sent.append((event.command_name, dict(event.command)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


READ_COMMANDS = ReadCommands()
# Global listeners apply to clients created afterwards: this module is imported at collection,
# before any test opens a store.
monitoring.register(READ_COMMANDS)
