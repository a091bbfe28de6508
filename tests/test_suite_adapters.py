"""The suite's own bookkeeping of adapters: a test whose id names an adapter runs on it (the
check ``tests/conftest.py`` applies to every test, and CI's count of passed ``[mongodb]`` tests
relies on)."""

from __future__ import annotations

from pathlib import Path

from datastore.mongodb import MongoStore
from datastore.sqlite import SQLiteStore
from tests.stores import adapter_problem


def test_a_mongodb_id_given_only_a_sqlite_store_is_a_problem(tmp_path: Path) -> None:
    sqlite = SQLiteStore(tmp_path / "unused.sqlite3")
    mongodb = MongoStore("mongodb://db.example/tsp")  # never connected: only its class matters
    assert adapter_problem("test_x[mongodb]", ["mongodb"], [sqlite, 3]) == (
        "test_x[mongodb] is named for mongodb but was given no MongoStore"
    )
    assert adapter_problem("test_x[mongodb-10]", ["mongodb", 10], ["a", None]) is not None
    assert adapter_problem("test_x[mongodb]", ["mongodb"], [mongodb, sqlite]) == (
        "test_x[mongodb] is named for mongodb but was also given SQLiteStore"
    )
    assert adapter_problem("test_x[mongodb]", ["mongodb"], [mongodb]) is None
    assert adapter_problem("test_x[sqlite-999-200]", ["sqlite", 999, 200], [sqlite]) is None
    assert adapter_problem("test_x[sqlite]", ["sqlite"], [mongodb]) is not None


def test_a_test_parametrised_with_no_adapter_is_not_checked(tmp_path: Path) -> None:
    sqlite = SQLiteStore(tmp_path / "unused.sqlite3")
    assert adapter_problem("test_x", [], [sqlite]) is None
    # A parameter that only mentions an adapter (a URL, an id) is not one.
    url = "mongodb://127.0.0.1:1/tsp"
    assert adapter_problem("test_x[unreachable-mongodb]", [url], []) is None
