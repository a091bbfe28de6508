"""Webhooks: registering endpoints (URL rules, the limit), signed deliveries to a real HTTP
server on 127.0.0.1 that fails, times out and recovers, in order, and disabling after the
give-up period with the reason visible to the partner. Where they may go: no address off the
public internet in any spelling (but the operator's allow-list), each name resolved once per
round and connected to as checked, redirects not followed."""

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
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from datastore.sqlite import SQLiteStore
from datastore.store import DocumentStore
from edge.gateway_settings import Settings
from edge.settings import EdgeSettingsError
from edge.stream_settings import StreamSettings
from edge.webhooks import WebhookWorker
from resolvers.events import EventType
from resolvers.identity import Role
from resolvers.webhook_targets import AllowedTargets
from tests.conftest import (
    JWT_SECRET,
    SETTINGS,
    GraphQLClient,
    Make,
    request_form,
    serving,
    token,
    token_of,
)
from tests.live import uvicorn_serving
from tests.stores import sqlite_only
from tests.test_seller_request_api import CREATE
from tests.tls import Authority

CREATE_HOOK = """mutation($url: String!, $types: [EventType!]!) {
  createWebhookSubscription(url: $url, types: $types) {
    webhookSubscription { id url types status }
    secret userErrors { field message code } } }"""
LIST = """{ webhookSubscriptions { id url status disabledReason
  deliveries { eventId eventType attempt statusCode error succeeded } } }"""
DELETE = """mutation($id: ID!) { deleteWebhookSubscription(id: $id) {
  deletedId userErrors { field code } } }"""
# The receiver of these tests listens on 127.0.0.1: allowed by the operator's setting.
LOCAL = AllowedTargets.parse("127.0.0.1")
FAST = StreamSettings(
    webhook_timeout_seconds=0.3,
    webhook_backoff_seconds=0.05,
    webhook_give_up_seconds=3600,
    webhook_allowed_hosts=LOCAL,
)


@dataclass
class Receiver:
    """A webhook endpoint: answers with the scripted statuses ("slow" sleeps past the
    timeout), then 200; remembers what arrived."""

    url: str = ""
    port: int = 0
    script: list[int | str] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    redirected: int = 0
    # Set on each arrival, for whoever waits for deliveries made by another process.
    arrival: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        step = self.script.pop(0) if self.script else 200
        if step == "slow":
            await asyncio.sleep(1.0)
            return Response(status_code=200)
        if step == "redirect":
            return Response(status_code=307, headers={"Location": "/elsewhere"})
        assert isinstance(step, int)
        if 200 <= step < 300:
            self.received.append((dict(request.headers), body))
            self.arrival.set()
        return Response(status_code=step)

    async def elsewhere(self, request: Request) -> Response:
        self.redirected += 1
        return Response(status_code=200)


@contextlib.asynccontextmanager
async def _receiving(**tls: Any) -> AsyncIterator[Receiver]:
    """A receiver served on 127.0.0.1 (over TLS with ``ssl_certfile``/``ssl_keyfile``)."""
    receiver = Receiver()
    app = Starlette(
        routes=[
            Route("/hook", receiver.handle, methods=["POST"]),
            Route("/elsewhere", receiver.elsewhere, methods=["GET", "POST"]),
        ]
    )
    async with uvicorn_serving(app, force_exit=True, lifespan="off", **tls) as port:
        receiver.url = f"http://127.0.0.1:{port}/hook"
        receiver.port = port
        yield receiver


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with _receiving() as receiver:
        yield receiver


def _allowing(hosts: str) -> Settings:
    streams = StreamSettings(
        webhook_worker=False, webhook_allowed_hosts=AllowedTargets.parse(hosts)
    )
    return dataclasses.replace(SETTINGS, streams=streams)


@pytest.fixture
async def local(store: DocumentStore) -> AsyncIterator[GraphQLClient]:
    """The API of a gateway whose operator allows the local receiver (127.0.0.1)."""
    async with serving(store, _allowing("127.0.0.1")) as http:
        yield GraphQLClient(http)


async def _hook(gql: GraphQLClient, partner: Mapping[str, Any], url: str, **variables: Any) -> Any:
    result = await gql(
        CREATE_HOOK,
        {"url": url, "types": ["REQUEST_RECEIVED"], **variables},
        as_=token_of(partner),
    )
    assert "errors" not in result, result
    return result["data"]["createWebhookSubscription"]


async def _requests(
    gql: GraphQLClient, partner: Mapping[str, Any], make: Make, count: int
) -> list[str]:
    ids = []
    for _ in range(count):
        seller = await make.seller()
        result = await gql(CREATE, request_form(partner["_id"]), as_=token_of(seller))
        ids.append(result["data"]["createRequest"]["requests"][0]["id"])
    return ids


async def _deliver_until(
    worker: WebhookWorker, done: Any, rounds: int = 200, pause: float = 0.05
) -> None:
    for _ in range(rounds):  # bounded
        await worker.run_once()
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
    local: GraphQLClient, store: DocumentStore, receiver: Receiver, make: Make
) -> None:
    partner = await make.partner()
    created = await _hook(local, partner, receiver.url)
    assert created["userErrors"] == []
    secret = created["secret"]
    assert secret.startswith("whsec_")
    request_ids = await _requests(local, partner, make, 3)
    await _requests(local, await make.partner(), make, 1)  # another partner's
    worker = WebhookWorker(store, FAST)
    await _deliver_until(worker, lambda: len(receiver.received) >= 3)
    delivered = [_verified(secret, h, b) for h, b in receiver.received]
    assert [e["subjectId"] for e in delivered] == request_ids
    assert {e["type"] for e in delivered} == {"REQUEST_RECEIVED"}
    assert {e["changes"]["reasonCode"] for e in delivered} == {"SENT_BY_SELLER"}
    assert all(e["partnerId"] == partner["_id"] for e in delivered)
    # Nothing more is due: a later round sends nothing again.
    assert await worker.run_once() == 0
    listed = await local(LIST, as_=token_of(partner))
    hook = listed["data"]["webhookSubscriptions"][0]
    assert "secret" not in hook
    assert [d["succeeded"] for d in hook["deliveries"]] == [True, True, True]


async def test_an_event_logged_without_a_reason_code_is_still_delivered_as_it_is(
    local: GraphQLClient, store: DocumentStore, receiver: Receiver, make: Make
) -> None:
    from tests.test_subscriptions import logged_by_an_earlier_release

    partner = await make.partner()
    created = await _hook(local, partner, receiver.url, types=["REQUEST_ACCEPTED"])
    request = await make.request(await make.seller(), partner)
    accepted = {"status": {"from": "PARTNER_REVIEWING", "to": "PARTNER_ACCEPTED"}}
    await logged_by_an_earlier_release(store, EventType.REQUEST_ACCEPTED, request, accepted)
    await _deliver_until(WebhookWorker(store, FAST), lambda: len(receiver.received) >= 1)
    [(headers, body)] = receiver.received
    delivered = _verified(created["secret"], headers, body)
    assert (delivered["type"], delivered["changes"]) == ("REQUEST_ACCEPTED", accepted)


async def test_a_failing_then_slow_endpoint_is_retried_in_order_until_it_recovers(
    local: GraphQLClient, store: DocumentStore, receiver: Receiver, make: Make
) -> None:
    partner = await make.partner()
    await _hook(local, partner, receiver.url)
    receiver.script = [500, "slow", 503]
    request_ids = await _requests(local, partner, make, 2)
    worker = WebhookWorker(store, FAST)
    await _deliver_until(worker, lambda: len(receiver.received) >= 2)
    # At least once, in order: the second event never overtook the failing first one.
    assert [json.loads(b)["subjectId"] for _, b in receiver.received] == request_ids
    listed = await local(LIST, as_=token_of(partner))
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
    local: GraphQLClient, store: DocumentStore, receiver: Receiver, make: Make
) -> None:
    partner = await make.partner()
    await _hook(local, partner, receiver.url)
    receiver.script = [500] * 1000
    await _requests(local, partner, make, 1)
    settings = dataclasses.replace(FAST, webhook_give_up_seconds=0.3)
    worker = WebhookWorker(store, settings)

    async def disabled() -> bool:
        listed = await local(LIST, as_=token_of(partner))
        return bool(listed["data"]["webhookSubscriptions"][0]["status"] == "DISABLED")

    for _ in range(100):
        await worker.run_once()
        if await disabled():
            break
        await asyncio.sleep(0.05)
    listed = await local(LIST, as_=token_of(partner))
    hook = listed["data"]["webhookSubscriptions"][0]
    assert hook["status"] == "DISABLED"
    assert "HTTP 500" in hook["disabledReason"]
    assert receiver.received == []
    # Disabled: no more attempts.
    before = len(hook["deliveries"])
    assert await worker.run_once() == 0
    again = await local(LIST, as_=token_of(partner))
    assert len(again["data"]["webhookSubscriptions"][0]["deliveries"]) == before


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("not a url", "INVALID_URL"),
        ("ftp://example.com/hook", "INVALID_URL"),
        ("https://exa mple.com/hook", "INVALID_URL"),
        ("https://example.com:99999/hook", "INVALID_URL"),
        ("https://1.2.3.256/hook", "INVALID_URL"),
        ("https://08.0.0.1/hook", "INVALID_URL"),
        ("https://1.2.3.4.5/hook", "INVALID_URL"),
        ("https://exa%2emple.com/hook", "INVALID_URL"),
        # Stored and shown back to whoever sees the subscription: a signature authenticates.
        ("https://user:pw@hooks.example.com/hook", "INVALID_URL"),
        ("https://token@hooks.example.com/hook", "INVALID_URL"),
        ("https://user:pw@2130706433:8443/x", "INVALID_URL"),
        ("http://example.com/hook", "URL_NOT_HTTPS"),
    ],
)
async def test_bad_urls_are_refused(
    gql: GraphQLClient, store: DocumentStore, make: Make, url: str, code: str
) -> None:
    partner = await make.partner()
    created = await _hook(gql, partner, url)
    assert created["webhookSubscription"] is None and created["secret"] is None
    assert [(e["field"], e["code"]) for e in created["userErrors"]] == [(["url"], code)]
    assert await store.count("webhooks") == 0


LOOPBACK = "a loopback address (this machine)"
PRIVATE = "a private network address"
METADATA = "a cloud metadata address"
MAPPED = " (as 127.0.0.1 inside an IPv6 address)"


@pytest.mark.parametrize(
    ("url", "host", "reason"),
    [
        ("https://127.0.0.1/hook", "127.0.0.1", LOOPBACK),
        ("https://2130706433/hook", "127.0.0.1", LOOPBACK),
        ("https://0177.0.0.1/hook", "127.0.0.1", LOOPBACK),
        ("https://0x7f000001/hook", "127.0.0.1", LOOPBACK),
        ("https://0x7F.0.0.1/hook", "127.0.0.1", LOOPBACK),
        ("https://127.1/hook", "127.0.0.1", LOOPBACK),
        ("https://127.0.0.1./hook", "127.0.0.1", LOOPBACK),
        ("https://\uff11\uff12\uff17.\uff10.\uff10.\uff11/hook", "127.0.0.1", LOOPBACK),
        ("https://0/hook", "0.0.0.0", "an unspecified address"),
        ("https://0.0.0.0/hook", "0.0.0.0", "an unspecified address"),
        ("https://167772161/hook", "10.0.0.1", PRIVATE),
        ("https://10.1.2.3/hook", "10.1.2.3", PRIVATE),
        ("https://192.168.0.1/hook", "192.168.0.1", PRIVATE),
        ("https://172.16.0.1/hook", "172.16.0.1", PRIVATE),
        ("https://100.64.0.1/hook", "100.64.0.1", "not a public internet address"),
        ("https://2852039166/hook", "169.254.169.254", METADATA),
        ("https://169.254.169.254/latest", "169.254.169.254", METADATA),
        ("https://0xa9.0xfe.0xa9.0xfe/latest", "169.254.169.254", METADATA),
        ("https://[fd00:ec2::254]/latest", "fd00:ec2::254", METADATA),
        ("https://169.254.1.1/hook", "169.254.1.1", "a link-local address"),
        ("https://224.0.0.1/hook", "224.0.0.1", "a multicast address"),
        ("https://255.255.255.255/hook", "255.255.255.255", "the broadcast address"),
        ("https://240.0.0.1/hook", "240.0.0.1", PRIVATE),
        ("https://[::1]/hook", "::1", LOOPBACK),
        ("https://[::]/hook", "::", "an unspecified address"),
        ("https://[::ffff:127.0.0.1]/hook", "::ffff:7f00:1", LOOPBACK + MAPPED),
        ("https://[::ffff:7f00:1]/hook", "::ffff:7f00:1", LOOPBACK + MAPPED),
        ("https://[::127.0.0.1]/hook", "::7f00:1", LOOPBACK + MAPPED),
        ("https://[64:ff9b::7f00:1]/hook", "64:ff9b::7f00:1", LOOPBACK + MAPPED),
        ("https://[2002:7f00:1::]/hook", "2002:7f00:1::", LOOPBACK + MAPPED),
        ("https://[fd12:3456::1]/hook", "fd12:3456::1", PRIVATE),
        ("https://[fe80::1]/hook", "fe80::1", "a link-local address"),
        ("https://[ff02::1]/hook", "ff02::1", "a multicast address"),
        ("https://localhost:8443/hook", "localhost", "a name of this machine or a local network"),
        ("https://LocalHost./hook", "localhost", "a name of this machine or a local network"),
        (
            "https://api.localhost/hook",
            "api.localhost",
            "a name of this machine or a local network",
        ),
        (
            "https://metadata.google.internal/x",
            "metadata.google.internal",
            "a name of this machine or a local network",
        ),
        ("https://metadata/x", "metadata", "a single-label name (resolved on the local network)"),
    ],
)
async def test_every_spelling_of_a_local_address_is_refused_at_creation_naming_why(
    gql: GraphQLClient, store: DocumentStore, make: Make, url: str, host: str, reason: str
) -> None:
    partner = await make.partner()
    created = await _hook(gql, partner, url)
    assert created["webhookSubscription"] is None and created["secret"] is None
    [error] = created["userErrors"]
    assert (error["field"], error["code"]) == (["url"], "WEBHOOK_URL_NOT_ALLOWED")
    assert error["message"].startswith(f"url must not point at {reason}: {host} ("), error
    assert await store.count("webhooks") == 0


async def test_demo_mode_opens_no_address(store: DocumentStore, make: Make) -> None:
    async with serving(store, dataclasses.replace(SETTINGS, demo=True)) as http:
        gql = GraphQLClient(http)
        partner = await make.partner()
        for url, code in (
            ("http://127.0.0.1:9000/hook", "WEBHOOK_URL_NOT_ALLOWED"),
            ("https://169.254.169.254/latest", "WEBHOOK_URL_NOT_ALLOWED"),
            ("http://hooks.example.com/x", "URL_NOT_HTTPS"),
        ):
            created = await _hook(gql, partner, url)
            assert [e["code"] for e in created["userErrors"]] == [code], url


@pytest.mark.parametrize(
    ("hosts", "url", "stored"),
    [
        ("127.0.0.1", "http://127.0.0.1:9000/hook", "http://127.0.0.1:9000/hook"),
        ("127.0.0.0/8", "http://0x7f.1:9000/hook?a=b", "http://127.0.0.1:9000/hook?a=b"),
        ("localhost", "http://LOCALHOST:9000/hook", "http://localhost:9000/hook"),
        ("::1", "http://[0:0::1]:9000/hook", "http://[::1]:9000/hook"),
        ("hooks.test", "http://hooks.test/x#frag", "http://hooks.test/x"),
        ("", "https://Hooks.Example.COM./x", "https://hooks.example.com/x"),
        ("", "https://134744072/x", "https://8.8.8.8/x"),
    ],
)
async def test_an_allowed_or_public_host_is_stored_in_canonical_form(
    store: DocumentStore, make: Make, hosts: str, url: str, stored: str
) -> None:
    async with serving(store, _allowing(hosts)) as http:
        created = await _hook(GraphQLClient(http), await make.partner(), url)
    assert created["userErrors"] == []
    assert created["webhookSubscription"]["url"] == stored


async def test_the_allow_list_opens_only_what_it_names(store: DocumentStore, make: Make) -> None:
    async with serving(store, _allowing("127.0.0.1,localhost,169.254.0.0/16")) as http:
        gql = GraphQLClient(http)
        partner = await make.partner()
        for url, codes in (
            ("http://127.0.0.2/hook", ["WEBHOOK_URL_NOT_ALLOWED"]),
            ("http://[::1]/hook", ["WEBHOOK_URL_NOT_ALLOWED"]),
            ("https://api.localhost/hook", ["WEBHOOK_URL_NOT_ALLOWED"]),
            # Metadata stays closed whatever the list says.
            ("https://169.254.169.254/latest", ["WEBHOOK_URL_NOT_ALLOWED"]),
            ("https://169.254.1.1/hook", []),
        ):
            created = await _hook(gql, partner, url)
            assert sorted(e["code"] for e in created["userErrors"]) == sorted(codes), url


def test_the_allow_list_setting_is_read_and_refused_when_malformed() -> None:
    streams = StreamSettings.from_env({"TSP_WEBHOOK_ALLOWED_HOSTS": " localhost, 10.0.0.0/8,::1,"})
    allowed = streams.webhook_allowed_hosts
    assert allowed.names == {"localhost"}
    assert [str(n) for n in allowed.networks] == ["10.0.0.0/8", "::1/128"]
    assert StreamSettings.from_env({}).webhook_allowed_hosts == AllowedTargets()
    with pytest.raises(EdgeSettingsError, match="TSP_WEBHOOK_ALLOWED_HOSTS"):
        StreamSettings.from_env({"TSP_WEBHOOK_ALLOWED_HOSTS": "local host"})


async def test_types_are_required_and_unknown_ones_refused(gql: GraphQLClient, make: Make) -> None:
    partner = await make.partner()
    empty = await _hook(gql, partner, "https://hooks.example.com/x", types=[])
    assert [e["code"] for e in empty["userErrors"]] == ["NO_EVENT_TYPES"]
    unknown = await gql(
        CREATE_HOOK,
        {"url": "https://hooks.example.com/x", "types": ["NOPE"]},
        as_=token_of(partner),
    )
    assert "NOPE" in unknown["errors"][0]["message"]


async def test_at_most_ten_endpoints_per_partner_even_when_created_at_once(
    gql: GraphQLClient, store: DocumentStore, make: Make
) -> None:
    partner = await make.partner()
    results = await asyncio.gather(
        *(_hook(gql, partner, f"https://hooks.example.com/{i}") for i in range(13))
    )
    refused = [r for r in results if r["userErrors"]]
    assert len(results) - len(refused) == 10
    assert {e["code"] for r in refused for e in r["userErrors"]} == {"TOO_MANY_WEBHOOKS"}
    assert await store.count("webhooks", {"partnerId": partner["_id"]}) == 10


async def test_only_partners_manage_their_own_endpoints(gql: GraphQLClient, make: Make) -> None:
    partner, other = await make.partner(), await make.partner()
    created = await _hook(gql, partner, "https://hooks.example.com/x")
    hook_id = created["webhookSubscription"]["id"]
    foreign = await gql(DELETE, {"id": hook_id}, as_=token(Role.PARTNER, other["_id"]))
    assert foreign["data"]["deleteWebhookSubscription"]["userErrors"] == [
        {"field": ["id"], "code": "NOT_FOUND"}
    ]
    theirs = await gql(LIST, as_=token(Role.PARTNER, other["_id"]))
    assert theirs["data"]["webhookSubscriptions"] == []
    seller = await make.seller()
    refused = await gql(
        CREATE_HOOK,
        {"url": "https://hooks.example.com/x", "types": ["REQUEST_RECEIVED"]},
        as_=token_of(seller),
    )
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    deleted = await gql(DELETE, {"id": hook_id}, as_=token_of(partner))
    assert deleted["data"]["deleteWebhookSubscription"]["deletedId"] == hook_id
    mine = await gql(LIST, as_=token_of(partner))
    assert mine["data"]["webhookSubscriptions"] == []


@sqlite_only
async def test_the_deliver_command_delivers_from_its_own_process(
    local: GraphQLClient, store: DocumentStore, receiver: Receiver, make: Make
) -> None:
    assert isinstance(store, SQLiteStore)
    partner = await make.partner()
    await _hook(local, partner, receiver.url)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TSP_")},
        "TSP_JWT_SECRET": JWT_SECRET,
        "TSP_DATABASE_URL": f"sqlite:///{store.path}",
        "TSP_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
        "TSP_WEBHOOK_POLL_SECONDS": "0.05",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli",
        "deliver",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        request_ids = await _requests(local, partner, make, 2)
        # Bounded by time, not by polls: the process may take long to start on a busy machine.
        async with asyncio.timeout(120):
            while len(receiver.received) < 2:
                receiver.arrival.clear()
                await receiver.arrival.wait()
        assert [json.loads(b)["subjectId"] for _, b in receiver.received] == request_ids
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)


async def test_without_the_allow_list_a_local_destination_is_not_delivered_to(
    local: GraphQLClient, store: DocumentStore, receiver: Receiver, make: Make
) -> None:
    partner = await make.partner()
    await _hook(local, partner, receiver.url)  # registered while the operator allowed it
    await _requests(local, partner, make, 1)
    closed = dataclasses.replace(FAST, webhook_allowed_hosts=AllowedTargets())
    assert await WebhookWorker(store, closed).run_once() == 0
    assert receiver.received == []
    listed = await local(LIST, as_=token_of(partner))
    attempt = listed["data"]["webhookSubscriptions"][0]["deliveries"][0]
    assert attempt["succeeded"] is False and attempt["statusCode"] is None
    assert attempt["error"] == (
        "127.0.0.1: it resolves to 127.0.0.1, a loopback address (this machine); not delivered"
    )


@dataclass
class Resolver:
    """A resolver the test controls: the addresses each name resolves to, and every lookup."""

    answers: dict[str, list[str]]
    asked: list[tuple[str, int]] = field(default_factory=list)

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append((host, port))
        return self.answers.get(host, [])


async def _hook_to_name(
    store: DocumentStore, partner: Mapping[str, Any], allowed: str, url: str
) -> None:
    async with serving(store, _allowing(allowed)) as http:
        created = await _hook(GraphQLClient(http), partner, url)
    assert created["userErrors"] == [], created


async def test_a_name_is_resolved_once_per_round_and_connected_to_as_resolved(
    local: GraphQLClient, store: DocumentStore, receiver: Receiver, make: Make
) -> None:
    partner = await make.partner()
    # hooks.test has no address but the one this resolver gives (the .test domain is never in
    # DNS): had anything resolved the name a second time, the connection would have failed.
    await _hook_to_name(store, partner, "hooks.test", f"http://hooks.test:{receiver.port}/hook")
    request_ids = await _requests(local, partner, make, 3)
    resolver = Resolver({"hooks.test": ["127.0.0.1"]})
    settings = dataclasses.replace(FAST, webhook_allowed_hosts=AllowedTargets.parse("hooks.test"))
    worker = WebhookWorker(store, settings, resolve=resolver)
    assert await worker.run_once() == 3
    assert resolver.asked == [("hooks.test", receiver.port)]
    assert [json.loads(b)["subjectId"] for _, b in receiver.received] == request_ids
    assert {h["host"] for h, _ in receiver.received} == {f"hooks.test:{receiver.port}"}


@pytest.mark.parametrize(
    ("allowed", "answers", "error"),
    [
        ("", ["127.0.0.1"], "it resolves to 127.0.0.1, a loopback address (this machine)"),
        ("", ["93.184.215.14", "10.0.0.7"], "it resolves to 10.0.0.7, a private network address"),
        ("", ["::ffff:169.254.169.254"], "it resolves to ::ffff:a9fe:a9fe, a cloud metadata"),
        ("", [], "it resolves to no address"),
        ("rebind.example", ["169.254.169.254"], "it resolves to 169.254.169.254, a cloud metadata"),
    ],
)
async def test_a_name_resolving_off_the_public_internet_is_not_connected_to(
    local: GraphQLClient,
    store: DocumentStore,
    make: Make,
    allowed: str,
    answers: list[str],
    error: str,
) -> None:
    partner = await make.partner()
    # Public when registered (nothing resolves it then); the name answers otherwise later.
    await _hook_to_name(store, partner, allowed, "https://rebind.example/hook")
    await _requests(local, partner, make, 1)
    resolver = Resolver({"rebind.example": answers})
    settings = dataclasses.replace(FAST, webhook_allowed_hosts=AllowedTargets.parse(allowed))
    assert await WebhookWorker(store, settings, resolve=resolver).run_once() == 0
    assert resolver.asked == [("rebind.example", 443)]
    listed = await local(LIST, as_=token_of(partner))
    [attempt] = listed["data"]["webhookSubscriptions"][0]["deliveries"]
    assert attempt["statusCode"] is None and attempt["succeeded"] is False
    assert attempt["error"].startswith(f"rebind.example: {error}"), attempt["error"]


async def test_redirects_are_not_followed(
    local: GraphQLClient, store: DocumentStore, receiver: Receiver, make: Make
) -> None:
    partner = await make.partner()
    await _hook(local, partner, receiver.url)
    receiver.script = ["redirect"]
    await _requests(local, partner, make, 1)
    assert await WebhookWorker(store, FAST).run_once() == 0
    assert receiver.redirected == 0
    listed = await local(LIST, as_=token_of(partner))
    [attempt] = listed["data"]["webhookSubscriptions"][0]["deliveries"]
    assert (attempt["statusCode"], attempt["error"]) == (307, "HTTP 307")


@pytest.mark.parametrize(("certified", "delivered"), [("hooks.test", True), ("other.test", False)])
async def test_over_tls_the_certificate_is_verified_for_the_name_not_the_address(
    local: GraphQLClient,
    store: DocumentStore,
    make: Make,
    tmp_path: Path,
    certified: str,
    delivered: bool,
) -> None:
    authority = Authority.create()
    cert, key = authority.issue(tmp_path, certified)
    async with _receiving(ssl_certfile=str(cert), ssl_keyfile=str(key)) as receiver:
        partner = await make.partner()
        url = f"https://hooks.test:{receiver.port}/hook"
        await _hook_to_name(store, partner, "hooks.test", url)
        await _requests(local, partner, make, 1)
        settings = dataclasses.replace(
            FAST, webhook_allowed_hosts=AllowedTargets.parse("hooks.test")
        )
        resolver = Resolver({"hooks.test": ["127.0.0.1"]})
        worker = WebhookWorker(store, settings, resolve=resolver, tls=authority.client_context())
        assert await worker.run_once() == int(delivered)
        assert len(receiver.received) == int(delivered)
    if delivered:
        assert receiver.received[0][0]["host"] == f"hooks.test:{receiver.port}"
    else:
        listed = await local(LIST, as_=token_of(partner))
        [attempt] = listed["data"]["webhookSubscriptions"][0]["deliveries"]
        assert "certificate" in attempt["error"].lower(), attempt["error"]
