"""Reads live through store trouble: with the throttle on as served, queries answer normally
while another process holds SQLite's write lock (nothing on a query's path writes), writes
answer STORE_UNAVAILABLE with 503 and Retry-After and write nothing, ``/readyz`` answers 503
on its own short timeout, a process that starts meanwhile starts and serves reads, and a store
that is gone is STORE_UNAVAILABLE on every path."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from datastore import collections as c
from datastore.collections import INDEXES
from datastore.demo import demo_subjects
from datastore.sqlite import SQLiteStore
from edge.documents import document_id
from edge.extension import GatewayPolicy
from edge.readiness import READY_TIMEOUT_SECONDS
from edge.throttle import ThrottlePolicy
from gateway import create_app, prepare_store
from resolvers.demo_seed import seed_demo
from resolvers.identity import Role
from resolvers.store_setup import set_up_store
from tests.conftest import SETTINGS, token
from tests.stores import write_locked

# Longer than the throttle's wait for its exchange and /readyz's timeout, so both of those
# give up before SQLite does.
BUSY_TIMEOUT_MS = 1_500
READS = {
    "anonymous": ("{ serviceCategories(first: 8) { nodes { name } } }", None),
    "viewer": ("{ viewer { role } }", None),
    "partner": (
        """{ viewer { partner { name serviceOffers(first: 10) { nodes { id status
        services { name } authorizations(first: 5) { nodes { id status seller { name } } } } }
        } } }""",
        Role.PARTNER,
    ),
    "seller": ("{ viewer { role seller { name } } }", Role.SELLER),
    "admin": ("{ partners(first: 5) { nodes { name status } } }", Role.ADMIN),
}
# A trusted document no one registered: looking it up reads a collection never written.
UNKNOWN_DOCUMENT = {"documentId": "sha256:" + "0" * 64}
CLOSE_PARTNER = """mutation($id: ID!) {
  closePartner(input: {id: $id, reason: "Policy violation"}) {
    partner { status } userErrors { code } } }"""


@dataclass
class Seeded:
    """The demo data in a SQLite file of its own, served with the throttle as served (on,
    default budgets) unless ``throttle`` is off; each caller address gets its own client."""

    store: SQLiteStore
    subjects: dict[str, str]
    throttle: bool = True

    @asynccontextmanager
    async def client(self, address: str = "10.0.0.1") -> AsyncIterator[httpx.AsyncClient]:
        policy = GatewayPolicy(throttle=ThrottlePolicy(enabled=self.throttle))
        app = create_app(replace(SETTINGS, policy=policy), store=self.store)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=(address, 1))
            async with httpx.AsyncClient(transport=transport, base_url="http://g") as client:
                yield client

    async def read(self, client: httpx.AsyncClient, name: str) -> httpx.Response:
        query, role = READS[name]
        headers = {}
        if role is not None:
            subject = self.subjects[role.value.lower()]
            headers["Authorization"] = f"Bearer {token(role, subject)}"
        return await client.post("/graphql", json={"query": query}, headers=headers)


@pytest.fixture
async def seeded(tmp_path: Path) -> AsyncIterator[Seeded]:
    store = SQLiteStore(tmp_path / "seeded.sqlite3", busy_timeout_ms=BUSY_TIMEOUT_MS)
    await store.connect()
    try:
        await store.ensure_indexes(INDEXES)
        await seed_demo(store, only_if_empty=False)
        yield Seeded(store, await demo_subjects(store))
    finally:
        await store.close()


def _data(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body


def _unknown_document(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


@pytest.mark.parametrize("mode", ["IMMEDIATE", "EXCLUSIVE"])
async def test_reads_answer_and_writes_are_unavailable_while_another_process_writes(
    seeded: Seeded, mode: str
) -> None:
    """Every caller is new to the gateway's throttle, so each read first meets a throttle
    that cannot write its bucket."""
    partner_id = seeded.subjects["partner"]
    before = await seeded.store.get_many(c.PARTNERS, [partner_id])
    history = await seeded.store.count(c.HISTORY)
    admin = {"Authorization": f"Bearer {token(Role.ADMIN)}"}
    close = {"query": CLOSE_PARTNER, "variables": {"id": partner_id}}
    async with seeded.client() as http:
        with write_locked(seeded.store.path, mode):
            for attempt in range(3):
                async with seeded.client(f"10.9.0.{attempt}") as fresh:
                    # Concurrently, then one by one.
                    answers = await asyncio.gather(*(seeded.read(fresh, name) for name in READS))
                    for name, answer in zip(READS, answers, strict=True):
                        assert _data(answer)["data"], name
                    for name in READS:
                        _data(await seeded.read(fresh, name))
                    _unknown_document(await fresh.post("/graphql", json=UNKNOWN_DOCUMENT))
            written = await http.post("/graphql", json=close, headers=admin)
            assert written.status_code == 503, written.text
            assert written.headers["retry-after"].isdigit()
            [error] = written.json()["errors"]
            assert error["extensions"]["code"] == "STORE_UNAVAILABLE"
            assert error["extensions"]["retryable"] is True
            ready = await http.get("/readyz")
            assert ready.status_code == 503
            assert f"within {READY_TIMEOUT_SECONDS} s" in ready.json()["reason"]
        assert await seeded.store.get_many(c.PARTNERS, [partner_id]) == before
        assert await seeded.store.count(c.HISTORY) == history
        assert (await http.get("/readyz")).status_code == 200
        closed = _data(await http.post("/graphql", json=close, headers=admin))
        assert closed["data"]["closePartner"]["partner"] == {"status": "CLOSED"}


@pytest.mark.parametrize("mode", ["IMMEDIATE", "EXCLUSIVE"])
async def test_a_process_starting_while_another_writes_starts_and_serves_reads(
    seeded: Seeded, mode: str
) -> None:
    """A store an earlier start set up is set up again without a write (a restarted worker,
    a deploy): the new process's store starts within SQLite's busy timeout, not after it,
    answers reads, and answers writes STORE_UNAVAILABLE until the other process commits."""
    await set_up_store(seeded.store)  # the earlier start
    starting = SQLiteStore(seeded.store.path, busy_timeout_ms=BUSY_TIMEOUT_MS)
    admin = {"Authorization": f"Bearer {token(Role.ADMIN)}"}
    close = {"query": CLOSE_PARTNER, "variables": {"id": seeded.subjects["partner"]}}
    with write_locked(seeded.store.path, mode):
        await prepare_store(starting)
        app = create_app(SETTINGS, store=starting, owns_store=True)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=("10.8.0.1", 1))
            async with httpx.AsyncClient(transport=transport, base_url="http://g") as http:
                for name in READS:
                    assert _data(await seeded.read(http, name))["data"], name
                written = await http.post("/graphql", json=close, headers=admin)
                assert written.status_code == 503, written.text
                [error] = written.json()["errors"]
                assert error["extensions"]["code"] == "STORE_UNAVAILABLE"


async def test_nothing_on_a_query_path_writes_the_store(seeded: Seeded) -> None:
    """Every statement the reads run is a read (the throttle, off here, writes only from its
    background exchanges: see tests/test_throttle.py)."""
    seeded.throttle = False
    statements: list[str] = []
    async with seeded.client() as http:
        await seeded.store.trace(statements.append)
        try:
            for name in READS:
                _data(await seeded.read(http, name))
            _unknown_document(await http.post("/graphql", json=UNKNOWN_DOCUMENT))
        finally:
            await seeded.store.trace(None)
    assert statements
    writes = [s for s in statements if not s.lstrip().upper().startswith(("SELECT", "WITH"))]
    assert writes == []


async def test_a_store_that_is_gone_is_unavailable_on_every_path(seeded: Seeded) -> None:
    """Its connections closed under a running gateway: a query (the throttle deciding alone),
    a trusted document looked up before execution, and /readyz all answer 503 with
    STORE_UNAVAILABLE, never a bare driver message."""
    query = {"query": READS["admin"][0]}
    by_id = {"documentId": document_id(READS["admin"][0])}
    admin = {"Authorization": f"Bearer {token(Role.ADMIN)}"}
    async with seeded.client() as http:
        await seeded.store.close()
        for body in (query, by_id):
            answer = await http.post("/graphql", json=body, headers=admin)
            assert answer.status_code == 503, answer.text
            assert answer.headers["retry-after"].isdigit()
            [error] = answer.json()["errors"]
            assert error["extensions"]["code"] == "STORE_UNAVAILABLE"
            assert error["extensions"]["retryable"] is True
            assert "SQLite" not in error["message"]
        assert (await http.get("/readyz")).status_code == 503
