"""The export worker inside ``serve`` goes behind interactive requests: it reads the admission
middleware's count of requests in flight, halves its pages while it finds some (down to a
floor, never stopping), doubles them back when it finds none, and the file is the same
whatever the page sizes were. A request is held in flight by a body the test sends slowly."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import httpx
from starlette.applications import Starlette

from datastore.store import DocumentStore
from edge.export_pacing import MIN_PAGE, Pacing, requests_in_flight
from edge.transport import AdmissionMiddleware
from gateway import create_app, export_worker
from resolvers.bulk_export_query import PAGE_SIZE
from tests.conftest import MAX_PAGES, SETTINGS, GraphQLClient, Make, token_of
from tests.live import app_of, served, subscribed, ws_client
from tests.test_bulk_export_api import ADMIN, READ, _download, _page_all, _start

# A held request must stay in flight as long as the test holds it.
PATIENT = replace(
    SETTINGS,
    transport=replace(SETTINGS.transport, body_timeout_seconds=600, request_timeout_seconds=600),
)
LOOKS = 10_000  # bounded polls for a state the test is waiting for


@contextlib.asynccontextmanager
async def _app(store: DocumentStore) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    app = create_app(PATIENT, store=store)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            yield app, http


@contextlib.asynccontextmanager
async def _held(http: httpx.AsyncClient, in_flight: Callable[[], int]) -> AsyncIterator[None]:
    """One request in flight (its body not finished) until the block ends."""
    before = in_flight()
    release = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        yield b'{"query": "{ __typename }"'
        await release.wait()
        yield b"}"

    sent = asyncio.create_task(
        http.post("/graphql", content=body(), headers={"Content-Type": "application/json"})
    )
    await _until(lambda: in_flight() == before + 1)
    try:
        yield
    finally:
        release.set()
        response = await sent
        assert response.status_code == 200, response.text
        await _until(lambda: in_flight() == before)


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(LOOKS):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("the state waited for never came")


async def test_the_worker_reads_the_count_of_requests_in_flight(store: DocumentStore) -> None:
    async with _app(store) as (app, http):
        in_flight = requests_in_flight(app)
        assert in_flight() == 0
        await http.get("/healthz")  # Starlette builds its middleware stack at its first call
        assert in_flight() == 0
        async with _held(http, in_flight):
            assert in_flight() == 1
            async with _held(http, in_flight):
                assert in_flight() == 2
        assert in_flight() == 0


async def test_pages_halve_while_requests_are_in_flight_and_double_back_after(
    store: DocumentStore,
) -> None:
    async with _app(store) as (app, http):
        await http.get("/healthz")
        pacing = Pacing(requests_in_flight(app), PAGE_SIZE)
        assert await pacing.next_page() == PAGE_SIZE
        async with _held(http, pacing.in_flight):
            # Each call waits (bounded) and returns though the request is still in flight:
            # an export is slowed, never stopped.
            held = [await pacing.next_page() for _ in range(5)]
        after = [await pacing.next_page() for _ in range(5)]
    assert held == [PAGE_SIZE // 2, PAGE_SIZE // 4, PAGE_SIZE // 8, MIN_PAGE, MIN_PAGE]
    assert after == [MIN_PAGE * 2, MIN_PAGE * 4, MIN_PAGE * 8, PAGE_SIZE, PAGE_SIZE]


async def test_an_export_behind_a_request_in_flight_completes_with_the_same_file(
    store: DocumentStore, make: Make
) -> None:
    for _ in range(PAGE_SIZE + 30):
        await make.partner()
    query = "{ partners { nodes { id name } } }"
    async with _app(store) as (app, http):
        gql = GraphQLClient(http)
        worker = export_worker(store, PATIENT, requests_in_flight(app))
        started = await _start(gql, query, ADMIN)
        assert started["userErrors"] == []
        async with _held(http, worker.in_flight):
            # Pages of 50, 25, 12, then 10 at a time: the whole export behind the request.
            for _ in range(MAX_PAGES):
                if not await worker.run_once():
                    break
        export = (await gql(READ, {"id": started["bulkExport"]["id"]}, as_=ADMIN))["data"]
        assert export["bulkExport"]["status"] == "COMPLETED", export
        lines = await _download(http, export["bulkExport"]["url"])
        expected = await _page_all(
            gql,
            "query($after: String) { partners(first: 100, after: $after) { nodes { id name } "
            "pageInfo { hasNextPage endCursor } } }",
            ["partners"],
            ADMIN,
        )
    assert lines == expected and len(lines) == PAGE_SIZE + 30


async def test_the_worker_does_not_go_behind_subscriptions_on_websockets(
    store: DocumentStore, make: Make
) -> None:
    # They count against the in-flight limit, but mostly wait for events: an export held to
    # its smallest pages for as long as anyone stays subscribed would crawl for good.
    partner = await make.partner()
    async with served(store, PATIENT) as url, ws_client(url, token_of(partner)) as client:
        assert (await client.receive())["type"] == "connection_ack"
        await client.subscribe("subscription { events { id } }")
        await subscribed(url)
        app = app_of(url)
        layer: Any = app.middleware_stack
        while not isinstance(layer, AdmissionMiddleware):
            layer = layer.app
        assert layer.in_flight == 1  # the subscription is in flight
        assert requests_in_flight(app)() == 0
