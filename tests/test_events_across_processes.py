"""Two `tsp-gateway serve` processes on one SQLite file: a change made through one reaches a
subscriber connected to the other (each process follows the log by position)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from datastore.sqlite import SQLiteStore
from resolvers.identity import Role, issue_token
from tests.conftest import insert_partner, insert_seller, request_form
from tests.live import ws_client
from tests.servers import SECRET, Gateway, running_gateway
from tests.test_seller_request_api import CREATE
from tests.test_subscriptions import EVENTS


@pytest.fixture
def two_gateways(tmp_path: Path) -> Iterator[tuple[Gateway, Gateway]]:
    env = {"TSP_EVENTS_POLL_SECONDS": "0.05"}
    with running_gateway(tmp_path, env=env) as one, running_gateway(tmp_path, env=env) as two:
        yield one, two


async def _parties(path: Path, sellers: int) -> tuple[str, list[str]]:
    store = SQLiteStore(path)
    await store.connect()
    try:
        partner = await insert_partner(store)
        seller_ids = [(await insert_seller(store))["_id"] for _ in range(sellers)]
        return partner["_id"], seller_ids
    finally:
        await store.close()


async def test_a_change_through_one_process_reaches_a_subscriber_on_the_other(
    two_gateways: tuple[Gateway, Gateway], tmp_path: Path
) -> None:
    one, two = two_gateways
    partner_id, seller_ids = await _parties(tmp_path / "gateway.sqlite3", 3)
    bearer = issue_token(SECRET, Role.PARTNER, partner_id, timedelta(hours=1))
    latencies = []
    async with (
        ws_client(one.url, bearer) as client,
        httpx.AsyncClient(base_url=two.url, timeout=60) as http,
    ):
        assert (await client.receive())["type"] == "connection_ack"
        # From the start of the log (empty but for this test's changes): the first change
        # reaches the subscriber however late it joins; once it has, the others come live.
        await client.subscribe(EVENTS, {"after": "0"})
        for seller_id in seller_ids:
            seller = issue_token(SECRET, Role.SELLER, seller_id, timedelta(hours=1))
            response = await http.post(
                "/graphql",
                json={"query": CREATE, "variables": request_form(partner_id)},
                headers={"Authorization": f"Bearer {seller}"},
            )
            committed = time.perf_counter()
            request_id = response.json()["data"]["createRequest"]["requests"][0]["id"]
            event = (await client.next_data())["events"]
            latencies.append(time.perf_counter() - committed)
            assert (event["type"], event["subjectId"]) == ("REQUEST_RECEIVED", request_id)
    # Reported, not asserted (timings belong to bench/events.py): typically one poll interval.
    print(f"cross-process delivery latencies: {[round(x * 1000) for x in latencies]} ms")
