"""Webhooks: registering endpoints (URL rules, the limit), signed deliveries to a real HTTP
server on 127.0.0.1 that fails, times out and recovers, in order, and disabling after the
give-up period with the reason visible to the partner."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import hmac
import json
import os
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from datastore.sqlite import SQLiteStore
from datastore.store import DocumentStore
from edge.stream_settings import StreamSettings
from edge.webhooks import WebhookWorker
from resolvers.identity import Role
from tests.conftest import (
    JWT_SECRET,
    SETTINGS,
    GraphQLClient,
    PartnerFactory,
    SellerFactory,
    serving,
    token,
)
from tests.live import _free_port
from tests.stores import sqlite_only
from tests.test_seller_request_api import CREATE, _form

CREATE_HOOK = """mutation($url: String!, $types: [EventType!]!) {
  createWebhookSubscription(url: $url, types: $types) {
    webhookSubscription { id url types status }
    secret userErrors { field message code } } }"""
LIST = """{ webhookSubscriptions { id url status disabledReason
  deliveries { eventId eventType attempt statusCode error succeeded } } }"""
DELETE = """mutation($id: ID!) { deleteWebhookSubscription(id: $id) {
  deletedId userErrors { field code } } }"""
DEMO = dataclasses.replace(SETTINGS, demo=True)
FAST = StreamSettings(
    webhook_timeout_seconds=0.3, webhook_backoff_seconds=0.05, webhook_give_up_seconds=3600
)


@dataclass
class Receiver:
    """A webhook endpoint: answers with the scripted statuses ("slow" sleeps past the
    timeout), then 200; remembers what arrived."""

    url: str = ""
    script: list[int | str] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        step = self.script.pop(0) if self.script else 200
        if step == "slow":
            await asyncio.sleep(1.0)
            return Response(status_code=200)
        assert isinstance(step, int)
        if 200 <= step < 300:
            self.received.append((dict(request.headers), body))
        return Response(status_code=step)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    port = _free_port()
    app = Starlette(routes=[Route("/hook", receiver.handle, methods=["POST"])])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    receiver.url = f"http://127.0.0.1:{port}/hook"
    yield receiver
    server.should_exit = True
    server.force_exit = True
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, 10)


@pytest.fixture
async def demo(store: DocumentStore) -> AsyncIterator[GraphQLClient]:
    settings = dataclasses.replace(DEMO, streams=StreamSettings(webhook_worker=False))
    async with serving(store, settings) as http:
        yield GraphQLClient(http)


async def _hook(gql: GraphQLClient, partner: Mapping[str, Any], url: str, **variables: Any) -> Any:
    result = await gql(
        CREATE_HOOK,
        {"url": url, "types": ["REQUEST_RECEIVED"], **variables},
        as_=token(Role.PARTNER, partner["_id"]),
    )
    assert "errors" not in result, result
    return result["data"]["createWebhookSubscription"]


async def _requests(
    gql: GraphQLClient, partner: Mapping[str, Any], make_seller: SellerFactory, count: int
) -> list[str]:
    ids = []
    for _ in range(count):
        seller = await make_seller()
        result = await gql(CREATE, _form(partner["_id"]), as_=token(Role.SELLER, seller["_id"]))
        ids.append(result["data"]["createRequest"]["requests"][0]["id"])
    return ids


async def _deliver_until(
    worker: WebhookWorker, done: Any, rounds: int = 200, pause: float = 0.05
) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(rounds):  # bounded
            await worker.run_once(client)
            if done():
                return
            await asyncio.sleep(pause)
    raise AssertionError("deliveries did not finish")


def _verified(secret: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    parts = dict(part.split("=", 1) for part in headers["x-tsp-signature"].split(","))
    expected = hmac.new(
        secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected)
    event: dict[str, Any] = json.loads(body)
    assert headers["x-tsp-event-id"] == event["id"]
    return event


async def test_events_are_posted_signed_and_in_order(
    demo: GraphQLClient,
    store: DocumentStore,
    receiver: Receiver,
    make_partner: PartnerFactory,
    make_seller: SellerFactory,
) -> None:
    partner = await make_partner()
    created = await _hook(demo, partner, receiver.url)
    assert created["userErrors"] == []
    secret = created["secret"]
    assert secret.startswith("whsec_")
    request_ids = await _requests(demo, partner, make_seller, 3)
    await _requests(demo, await make_partner(), make_seller, 1)  # another partner's
    worker = WebhookWorker(store, FAST, demo=True)
    await _deliver_until(worker, lambda: len(receiver.received) >= 3)
    delivered = [_verified(secret, h, b) for h, b in receiver.received]
    assert [e["subjectId"] for e in delivered] == request_ids
    assert {e["type"] for e in delivered} == {"REQUEST_RECEIVED"}
    assert all(e["partnerId"] == partner["_id"] for e in delivered)
    # Nothing more is due: a later round sends nothing again.
    async with httpx.AsyncClient() as client:
        assert await worker.run_once(client) == 0
    listed = await demo(LIST, as_=token(Role.PARTNER, partner["_id"]))
    hook = listed["data"]["webhookSubscriptions"][0]
    assert "secret" not in hook
    assert [d["succeeded"] for d in hook["deliveries"]] == [True, True, True]


async def test_a_failing_then_slow_endpoint_is_retried_in_order_until_it_recovers(
    demo: GraphQLClient,
    store: DocumentStore,
    receiver: Receiver,
    make_partner: PartnerFactory,
    make_seller: SellerFactory,
) -> None:
    partner = await make_partner()
    await _hook(demo, partner, receiver.url)
    receiver.script = [500, "slow", 503]
    request_ids = await _requests(demo, partner, make_seller, 2)
    worker = WebhookWorker(store, FAST, demo=True)
    await _deliver_until(worker, lambda: len(receiver.received) >= 2)
    # At least once, in order: the second event never overtook the failing first one.
    assert [json.loads(b)["subjectId"] for _, b in receiver.received] == request_ids
    listed = await demo(LIST, as_=token(Role.PARTNER, partner["_id"]))
    attempts = list(reversed(listed["data"]["webhookSubscriptions"][0]["deliveries"]))
    assert [(a["attempt"], a["statusCode"], a["succeeded"]) for a in attempts] == [
        (1, 500, False),
        (2, None, False),
        (3, 503, False),
        (4, 200, True),
        (1, 200, True),
    ]
    assert attempts[1]["error"] == "timed out after 0.3 s"
    assert {a["eventId"] for a in attempts[:4]} == {attempts[0]["eventId"]}


async def test_an_endpoint_failing_past_the_give_up_period_is_disabled_with_the_reason(
    demo: GraphQLClient,
    store: DocumentStore,
    receiver: Receiver,
    make_partner: PartnerFactory,
    make_seller: SellerFactory,
) -> None:
    partner = await make_partner()
    await _hook(demo, partner, receiver.url)
    receiver.script = [500] * 1000
    await _requests(demo, partner, make_seller, 1)
    settings = dataclasses.replace(FAST, webhook_give_up_seconds=0.3)
    worker = WebhookWorker(store, settings, demo=True)

    async def disabled() -> bool:
        listed = await demo(LIST, as_=token(Role.PARTNER, partner["_id"]))
        return bool(listed["data"]["webhookSubscriptions"][0]["status"] == "DISABLED")

    async with httpx.AsyncClient() as client:
        for _ in range(100):
            await worker.run_once(client)
            if await disabled():
                break
            await asyncio.sleep(0.05)
    listed = await demo(LIST, as_=token(Role.PARTNER, partner["_id"]))
    hook = listed["data"]["webhookSubscriptions"][0]
    assert hook["status"] == "DISABLED"
    assert "HTTP 500" in hook["disabledReason"]
    assert receiver.received == []
    # Disabled: no more attempts.
    before = len(hook["deliveries"])
    async with httpx.AsyncClient() as client:
        assert await worker.run_once(client) == 0
    again = await demo(LIST, as_=token(Role.PARTNER, partner["_id"]))
    assert len(again["data"]["webhookSubscriptions"][0]["deliveries"]) == before


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("not a url", "INVALID_URL"),
        ("ftp://example.com/hook", "INVALID_URL"),
        ("https://exa mple.com/hook", "INVALID_URL"),
        ("https://example.com:99999/hook", "INVALID_URL"),
        ("http://example.com/hook", "URL_NOT_HTTPS"),
        ("https://127.0.0.1/hook", "PRIVATE_ADDRESS"),
        ("https://localhost:8443/hook", "PRIVATE_ADDRESS"),
        ("https://10.1.2.3/hook", "PRIVATE_ADDRESS"),
        ("https://[::1]/hook", "PRIVATE_ADDRESS"),
        ("https://169.254.169.254/latest", "PRIVATE_ADDRESS"),
    ],
)
async def test_bad_urls_are_refused_outside_demo_mode(
    gql: GraphQLClient, store: DocumentStore, make_partner: PartnerFactory, url: str, code: str
) -> None:
    partner = await make_partner()
    created = await _hook(gql, partner, url)
    assert created["webhookSubscription"] is None and created["secret"] is None
    assert [(e["field"], e["code"]) for e in created["userErrors"]] == [(["url"], code)]
    assert await store.count("webhooks") == 0


async def test_types_are_required_and_unknown_ones_refused(
    gql: GraphQLClient, make_partner: PartnerFactory
) -> None:
    partner = await make_partner()
    empty = await _hook(gql, partner, "https://hooks.example.com/x", types=[])
    assert [e["code"] for e in empty["userErrors"]] == ["NO_EVENT_TYPES"]
    unknown = await gql(
        CREATE_HOOK,
        {"url": "https://hooks.example.com/x", "types": ["NOPE"]},
        as_=token(Role.PARTNER, partner["_id"]),
    )
    assert "NOPE" in unknown["errors"][0]["message"]


async def test_at_most_ten_endpoints_per_partner_even_when_created_at_once(
    gql: GraphQLClient, store: DocumentStore, make_partner: PartnerFactory
) -> None:
    partner = await make_partner()
    results = await asyncio.gather(
        *(_hook(gql, partner, f"https://hooks.example.com/{i}") for i in range(13))
    )
    refused = [r for r in results if r["userErrors"]]
    assert len(results) - len(refused) == 10
    assert {e["code"] for r in refused for e in r["userErrors"]} == {"TOO_MANY_WEBHOOKS"}
    assert await store.count("webhooks", {"partnerId": partner["_id"]}) == 10


async def test_only_partners_manage_their_own_endpoints(
    gql: GraphQLClient, make_partner: PartnerFactory, make_seller: SellerFactory
) -> None:
    partner, other = await make_partner(), await make_partner()
    created = await _hook(gql, partner, "https://hooks.example.com/x")
    hook_id = created["webhookSubscription"]["id"]
    foreign = await gql(DELETE, {"id": hook_id}, as_=token(Role.PARTNER, other["_id"]))
    assert foreign["data"]["deleteWebhookSubscription"]["userErrors"] == [
        {"field": ["id"], "code": "NOT_FOUND"}
    ]
    theirs = await gql(LIST, as_=token(Role.PARTNER, other["_id"]))
    assert theirs["data"]["webhookSubscriptions"] == []
    seller = await make_seller()
    refused = await gql(
        CREATE_HOOK,
        {"url": "https://hooks.example.com/x", "types": ["REQUEST_RECEIVED"]},
        as_=token(Role.SELLER, seller["_id"]),
    )
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    deleted = await gql(DELETE, {"id": hook_id}, as_=token(Role.PARTNER, partner["_id"]))
    assert deleted["data"]["deleteWebhookSubscription"]["deletedId"] == hook_id
    mine = await gql(LIST, as_=token(Role.PARTNER, partner["_id"]))
    assert mine["data"]["webhookSubscriptions"] == []


@sqlite_only
async def test_the_deliver_command_delivers_from_its_own_process(
    demo: GraphQLClient,
    store: DocumentStore,
    receiver: Receiver,
    make_partner: PartnerFactory,
    make_seller: SellerFactory,
) -> None:
    assert isinstance(store, SQLiteStore)
    partner = await make_partner()
    await _hook(demo, partner, receiver.url)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TSP_")},
        "TSP_JWT_SECRET": JWT_SECRET,
        "TSP_DATABASE_URL": f"sqlite:///{store.path}",
        "TSP_DEMO": "1",
        "TSP_WEBHOOK_POLL_SECONDS": "0.05",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway",
        "deliver",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        request_ids = await _requests(demo, partner, make_seller, 2)
        for _ in range(300):  # bounded
            if len(receiver.received) >= 2:
                break
            await asyncio.sleep(0.05)
        assert [json.loads(b)["subjectId"] for _, b in receiver.received] == request_ids
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)


async def test_outside_demo_mode_a_private_destination_is_not_delivered_to(
    demo: GraphQLClient,
    store: DocumentStore,
    receiver: Receiver,
    make_partner: PartnerFactory,
    make_seller: SellerFactory,
) -> None:
    partner = await make_partner()
    await _hook(demo, partner, receiver.url)  # registered while in demo mode
    await _requests(demo, partner, make_seller, 1)
    async with httpx.AsyncClient() as client:
        assert await WebhookWorker(store, FAST, demo=False).run_once(client) == 0
    assert receiver.received == []
    listed = await demo(LIST, as_=token(Role.PARTNER, partner["_id"]))
    attempt = listed["data"]["webhookSubscriptions"][0]["deliveries"][0]
    assert attempt["succeeded"] is False and attempt["statusCode"] is None
    assert "private address" in attempt["error"]
