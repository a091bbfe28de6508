"""A bulk export worker killed mid-export (a real ``tsp-gateway export-worker`` process, SIGKILL):
the export stays RUNNING with no file to download, then another worker takes it over when the
lease runs out and runs it again from the start, into a new file; an export whose workers keep
dying ends FAILED with INTERRUPTED. Never COMPLETED with a half file."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from datastore import collections as c
from datastore.codec import utc_now
from datastore.files import NoSuchFile
from datastore.ids import new_id
from datastore.store import DocumentStore
from edge.gateway_settings import Settings
from gateway import export_worker, open_store
from resolvers import bulk_export_runs as runs
from resolvers.identity import Role
from tests.conftest import JWT_SECRET, SETTINGS, GraphQLClient, serving, token
from tests.servers import gateway_command
from tests.stores import ADAPTERS, drop_store, mongodb_url_for_test_database

PARTNERS = 250  # three pages of the top-level connection
START = """mutation($query: String!) { startBulkExport(input: {query: $query}) {
  bulkExport { id } userErrors { code } } }"""
READ = """query($id: ID!) { bulkExport(id: $id) { status objectCount url errorCode } }"""
WAIT_SECONDS = 90.0
POLL = 0.1


@pytest.fixture(params=ADAPTERS)
async def shared(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of a fresh store another process can open too."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'exports.sqlite3'}"
        return
    url = mongodb_url_for_test_database()
    yield url
    store = await open_store(Settings(jwt_secret=JWT_SECRET, database_url=url))
    await drop_store(store)


@pytest.fixture
async def opened(shared: str) -> AsyncIterator[DocumentStore]:
    """This process's own connection to the shared store (its adapter is the test's)."""
    store = await open_store(Settings(jwt_secret=JWT_SECRET, database_url=shared))
    try:
        yield store
    finally:
        await store.close()


@contextlib.contextmanager
def _worker_process(url: str, log: Path) -> Any:
    """``tsp-gateway export-worker`` on ``url``, slowed by a small export bucket so it is still
    mid-export when it is killed, with a short lease so the takeover comes soon after."""
    env = {
        "TSP_JWT_SECRET": JWT_SECRET,
        "TSP_DATABASE_URL": url,
        "TSP_EXPORT_LEASE_SECONDS": "2",
        "TSP_EXPORT_POLL_SECONDS": "0.1",
        "TSP_EXPORT_THROTTLE_CAPACITY": "150",
        "TSP_EXPORT_THROTTLE_RESTORE_RATE": "1",
    }
    process = gateway_command("export-worker", log, env)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


async def _export(store: DocumentStore, export_id: str) -> Any:
    return (await store.get_many(c.BULK_EXPORTS, [export_id]))[export_id]


async def _until(store: DocumentStore, export_id: str, done: Any, what: str) -> Any:
    for _ in range(int(WAIT_SECONDS / POLL)):
        export = await _export(store, export_id)
        if done(export):
            return export
        await asyncio.sleep(POLL)
    raise AssertionError(f"timed out waiting for {what}: {await _export(store, export_id)}")


async def test_a_worker_killed_mid_export_leaves_it_resumed_never_half_complete(
    shared: str, opened: DocumentStore, tmp_path: Path
) -> None:
    store = opened
    now = utc_now()
    for n in range(PARTNERS):
        await store.insert(
            c.PARTNERS,
            {
                "_id": new_id("ptn"),
                "name": f"Partner {n:04d}",
                "type": "TSP",
                "registrationRegion": "US",
                "targetMarkets": ["US"],
                "status": "ACTIVE",
                "createdAt": now + timedelta(milliseconds=n),
            },
        )
    async with serving(store, SETTINGS) as http:
        gql = GraphQLClient(http)
        admin = token(Role.ADMIN)
        body = await gql(START, {"query": "{ partners { nodes { id name } } }"}, as_=admin)
        export_id = body["data"]["startBulkExport"]["bulkExport"]["id"]

        with _worker_process(shared, tmp_path / "worker.log") as process:
            # It has written its first page and waits for its bucket: kill it there.
            await _until(
                store,
                export_id,
                lambda e: e["status"] == "RUNNING" and e["objectCount"] >= 100,
                "the first page",
            )
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)

        killed = await _export(store, export_id)
        assert killed["status"] == "RUNNING" and killed["attempts"] == 1
        read = (await gql(READ, {"id": export_id}, as_=admin))["data"]["bulkExport"]
        assert read["url"] is None
        with pytest.raises(NoSuchFile):
            [chunk async for chunk in store.files.read(killed["fileId"])]

        # Another worker takes it over once the dead one's lease has run out.
        worker = export_worker(store, SETTINGS)
        for _ in range(int(WAIT_SECONDS / POLL)):
            if await worker.run_once():
                break
            await asyncio.sleep(POLL)
        done = await _export(store, export_id)
        assert done["status"] == "COMPLETED" and done["attempts"] == 2
        read = (await gql(READ, {"id": export_id}, as_=admin))["data"]["bulkExport"]
        response = await http.get(read["url"])
        lines = [orjson.loads(line) for line in response.content.splitlines()]
        names = [line["name"] for line in lines]
        assert sorted(names) == [f"Partner {n:04d}" for n in range(PARTNERS)]
        assert len(set(names)) == PARTNERS  # nothing of the first attempt repeated
        assert int(response.headers["content-length"]) == len(response.content)
        with pytest.raises(NoSuchFile):
            [chunk async for chunk in store.files.read(killed["fileId"])]


async def test_an_export_whose_workers_keep_dying_fails_with_interrupted(
    gql: GraphQLClient, store: DocumentStore
) -> None:
    admin = token(Role.ADMIN)
    body = await gql(START, {"query": "{ partners { nodes { id } } }"}, as_=admin)
    export_id = body["data"]["startBulkExport"]["bulkExport"]["id"]
    for attempt in range(1, runs.MAX_ATTEMPTS + 1):
        claimed, _ = await runs.claim_next(store, f"exw_{attempt}", timedelta(seconds=-1))
        assert claimed is not None and claimed["attempts"] == attempt
        partial = store.files.open_writer(claimed["fileId"])
        await partial.write(b'{"id": "half"}\n' * 20_000)  # chunks of a dead worker
    claimed, stale = await runs.claim_next(store, "exw_last", timedelta(seconds=30))
    assert claimed is None and stale == [f"{export_id}.{runs.MAX_ATTEMPTS}"]
    read = (await gql(READ, {"id": export_id}, as_=admin))["data"]["bulkExport"]
    assert read["status"] == "FAILED" and read["errorCode"] == "INTERRUPTED"
    assert read["url"] is None
    events = await store.find(c.EVENTS, {"type": "BULK_EXPORT_FINISHED"})
    assert [(e["changes"]["reasonCode"], e["changes"]["errorCode"]) for e in events] == [
        ("EXPORT_FAILED", "INTERRUPTED")
    ]
    for file_id in stale:
        await store.files.delete(file_id)
