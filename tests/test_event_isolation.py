"""Tenant isolation: while partner A's and seller A's objects change, partner B and seller B
receive nothing on either channel (live feed, webhook), and A does (the control)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from datastore.store import DocumentStore
from edge.stream_settings import StreamSettings
from edge.webhooks import WebhookWorker
from resolvers.identity import Role
from tests.conftest import SETTINGS, GraphQLClient, Make, request_form, token, token_of
from tests.live import WSClient, served, subscribed, ws_client
from tests.test_seller_request_api import ACCEPT, CREATE
from tests.test_subscriptions import EVENTS
from tests.test_webhooks import CREATE_HOOK, FAST, LOCAL, Receiver, receiver

__all__ = ["receiver"]  # the fixture, used here


@pytest.fixture
async def base_url(store: DocumentStore) -> AsyncIterator[str]:
    settings = dataclasses.replace(
        SETTINGS,
        streams=StreamSettings(
            poll_seconds=0.02, ping_seconds=0, webhook_worker=False, webhook_allowed_hosts=LOCAL
        ),
    )
    async with served(store, settings) as url:
        yield url


async def _subscribed(client: WSClient) -> None:
    assert (await client.receive())["type"] == "connection_ack"
    await client.subscribe(EVENTS)


async def test_partner_b_and_seller_b_receive_nothing_of_a(
    base_url: str, store: DocumentStore, receiver: Receiver, make: Make
) -> None:
    partner_a, partner_b = await make.partner(), await make.partner()
    seller_a, seller_b = await make.seller(), await make.seller()
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        gql = GraphQLClient(http)
        hooked = await gql(
            CREATE_HOOK,
            {"url": receiver.url, "types": ["REQUEST_RECEIVED", "REQUEST_ACCEPTED"]},
            as_=token_of(partner_b),
        )
        assert hooked["data"]["createWebhookSubscription"]["userErrors"] == []
        async with (
            ws_client(base_url, token_of(partner_b)) as watch_partner_b,
            ws_client(base_url, token_of(seller_b)) as watch_seller_b,
            ws_client(base_url, token_of(partner_a)) as watch_partner_a,
            ws_client(base_url, token_of(seller_a)) as watch_seller_a,
        ):
            for client in (watch_partner_b, watch_seller_b, watch_partner_a, watch_seller_a):
                await _subscribed(client)
            await subscribed(base_url, 4)
            # A's objects change: seller A asks partner A, partner A accepts.
            created = await gql(CREATE, request_form(partner_a["_id"]), as_=token_of(seller_a))
            request_id = created["data"]["createRequest"]["requests"][0]["id"]
            await gql(ACCEPT, {"id": request_id}, as_=token_of(partner_a))
            for control in (watch_partner_a, watch_seller_a):
                types = [(await control.next_data())["events"]["type"] for _ in range(2)]
                assert types == ["REQUEST_RECEIVED", "REQUEST_ACCEPTED"]
            for outsider in (watch_partner_b, watch_seller_b):
                with pytest.raises(TimeoutError):
                    await outsider.receive(wait=0.5)
        # SSE as partner B, replaying from the beginning of the log: still nothing.
        headers = {
            "Authorization": f"Bearer {token(Role.PARTNER, partner_b['_id'])}",
            "Accept": "text/event-stream",
        }
        body = {"query": EVENTS, "variables": {"after": "0"}}
        async with http.stream("POST", "/graphql", json=body, headers=headers) as stream:
            lines = stream.aiter_lines()
            with pytest.raises(TimeoutError):
                while True:
                    line = await asyncio.wait_for(anext(lines), 0.5)
                    assert not line.startswith("event: next"), line
        # Webhooks: B's endpoint is sent none of A's events...
        worker = WebhookWorker(store, FAST)
        assert await worker.run_once() == 0
        assert receiver.received == []
        # ...and B's own (the control that the endpoint works).
        own = await gql(CREATE, request_form(partner_b["_id"]), as_=token_of(seller_b))
        own_id = own["data"]["createRequest"]["requests"][0]["id"]
        assert await worker.run_once() == 1
    assert [json.loads(body)["subjectId"] for _, body in receiver.received] == [own_id]
