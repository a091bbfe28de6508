"""Opening real stores for tests: SQLite always, MongoDB when ``MONGODB_URI`` is set."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from datastore.mongodb import MongoStore
from datastore.sqlite import SQLiteStore
from datastore.store import DocumentStore

MONGODB_URI = os.environ.get("MONGODB_URI", "")

MONGODB_SKIP_REASON = (
    "MONGODB_URI is not set: no MongoDB replica set on this machine "
    "(see README, 'Running against MongoDB')"
)
requires_mongodb = pytest.mark.skipif(not MONGODB_URI, reason=MONGODB_SKIP_REASON)

STORE_KINDS = [pytest.param("sqlite", id="sqlite"), pytest.param("mongodb", id="mongodb")]
"""The session store's adapters (conftest skips ``mongodb`` itself, once, without a URI)."""

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
