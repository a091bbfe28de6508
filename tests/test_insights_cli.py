"""``tsp-gateway insights rebuild`` on a store the demo seed built through the resolvers."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from cli import main
from datastore import collections as c
from datastore.sqlite import SQLiteStore

SECRET = "cli-secret-" + "z" * 40


async def _counters(database: Path, *, scramble: bool = False) -> dict[str, Any]:
    store = SQLiteStore(database)
    await store.connect()
    try:
        found = await store.find(c.INSIGHT_COUNTERS)
        if scramble:  # what a rebuild must put right
            for document in found:
                await store.update(
                    c.INSIGHT_COUNTERS,
                    document["_id"],
                    expected_version=document["version"],
                    changes={"base": 99, "counts": {}},
                )
    finally:
        await store.close()
    return {
        d["_id"]: (d["scope"], d["day"], d["base"], d.get("counts"), d.get("acceptance"))
        for d in found
    }


def test_rebuild_recomputes_what_was_counted_live(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "cli.sqlite3"
    monkeypatch.setenv("TSP_JWT_SECRET", SECRET)
    monkeypatch.setenv("TSP_DATABASE_URL", f"sqlite:///{database}")
    assert main(["seed", "--demo"]) == 0
    live = asyncio.run(_counters(database, scramble=True))
    assert live, "the demo's offer is counted as it is created"
    capsys.readouterr()
    assert main(["insights", "rebuild"]) == 0
    assert f"Insight counters rebuilt: {len(live)} documents" in capsys.readouterr().out
    assert asyncio.run(_counters(database)) == live
