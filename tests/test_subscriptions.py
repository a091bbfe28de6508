"""Live events over graphql-transport-ws and SSE, on a real socket: typed subjects, resuming
with a cursor, tokens that are bad or expire, malformed messages, and the limits."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

import graphql
import httpx
import pytest
from graphql import DocumentNode
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from datastore import collections as c
from datastore.codec import utc_now
from datastore.documents import SellerDocument
from datastore.ids import new_id
from datastore.store import DocumentStore
from edge import extension
from edge.stream_settings import StreamSettings
from edge.throttle import ThrottlePolicy
from resolvers import events
from resolvers.identity import Role
from tests.conftest import SETTINGS, Make, PartnerFactory, request_form, token, token_of
from tests.live import PATIENCE, WSClient, served, subscribed, ws_client
from tests.test_edge_connections import URQL_ACCEPT
from tests.test_seller_request_api import CREATE

EVENTS = """subscription($types: [EventType!], $after: String) {
  events(types: $types, after: $after) {
    __typename id type cursor subjectId partnerId sellerId changes reasonCode reason
    ... on SellerRequestEvent { request { id status } }
    ... on AuthorizationEvent { authorization { status endDate } }
  } }"""


@pytest.fixture
async def base_url(store: DocumentStore) -> AsyncIterator[str]:
    settings = dataclasses.replace(
        SETTINGS, streams=StreamSettings(poll_seconds=0.02, ping_seconds=0)
    )
    async with served(store, settings) as url:
        yield url


async def _request_to(
    base_url: str, partner: Mapping[str, Any], make: Make
) -> tuple[str, SellerDocument]:
    """A new seller sends ``partner`` a request through the API: one REQUEST_RECEIVED."""
    seller = await make.seller()
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        response = await http.post(
            "/graphql",
            json={"query": CREATE, "variables": request_form(partner["_id"])},
            headers={"Authorization": f"Bearer {token(Role.SELLER, seller['_id'])}"},
        )
    created = response.json()["data"]["createRequest"]
    assert created["userErrors"] == [], created
    return created["requests"][0]["id"], seller


async def _refusal(client: WSClient) -> dict[str, Any]:
    """The error that ended a subscription (a ``next`` with errors and no data, then its
    ``complete``)."""
    refused = await client.receive()
    assert refused["type"] == "next" and refused["payload"]["data"] is None, refused
    assert (await client.receive()) == {"id": refused["id"], "type": "complete"}
    error: dict[str, Any] = refused["payload"]["errors"][0]
    return error


# Lives of tokens that must expire while a test watches, shortest first: one that expired
# before a slow machine even opened the connection is issued again with a longer life.
_SHORT_LIVES = tuple(timedelta(seconds=2**n) for n in range(1, 8))


async def _acked(client: WSClient) -> None:
    assert (await client.receive())["type"] == "connection_ack"


async def test_a_partner_receives_its_events_with_typed_subjects(base_url: str, make: Make) -> None:
    partner = await make.partner()
    async with ws_client(base_url, token_of(partner)) as client:
        await _acked(client)
        await client.subscribe(EVENTS)
        await subscribed(base_url)
        request_id, seller = await _request_to(base_url, partner, make)
        event = (await client.next_data())["events"]
    assert event["__typename"] == "SellerRequestEvent"
    assert event["type"] == "REQUEST_RECEIVED"
    assert event["subjectId"] == request_id
    assert (event["partnerId"], event["sellerId"]) == (partner["_id"], seller["_id"])
    assert event["request"] == {"id": request_id, "status": "PARTNER_REVIEWING"}
    assert event["changes"]["status"]["to"] == "PARTNER_REVIEWING"


async def test_resuming_with_a_cursor_replays_exactly_what_was_missed_then_goes_live(
    base_url: str, make: Make
) -> None:
    partner = await make.partner()
    bearer = token_of(partner)
    async with ws_client(base_url, bearer) as client:
        await _acked(client)
        await client.subscribe(EVENTS)
        await subscribed(base_url)
        first, _ = await _request_to(base_url, partner, make)
        seen = (await client.next_data())["events"]
        assert seen["subjectId"] == first
    # Disconnected: three changes happen meanwhile (and one for another partner).
    missed = [(await _request_to(base_url, partner, make))[0] for _ in range(3)]
    await _request_to(base_url, await make.partner(), make)
    async with ws_client(base_url, bearer) as client:
        await _acked(client)
        await client.subscribe(EVENTS, {"after": seen["cursor"]})
        replayed = [(await client.next_data())["events"] for _ in range(3)]
        assert [e["subjectId"] for e in replayed] == missed
        cursors = [int(e["cursor"]) for e in replayed]
        assert cursors == sorted(cursors) and int(seen["cursor"]) < cursors[0]
        live, _ = await _request_to(base_url, partner, make)
        assert (await client.next_data())["events"]["subjectId"] == live
        # Once: nothing else is pending.
        with pytest.raises(TimeoutError):
            await client.receive(wait=0.5)


async def test_types_filter_the_feed(base_url: str, make: Make) -> None:
    partner = await make.partner()
    async with ws_client(base_url, token_of(partner)) as client:
        await _acked(client)
        await client.subscribe(EVENTS, {"types": ["AUTHORIZATION_GRANTED"]})
        await subscribed(base_url)
        await _request_to(base_url, partner, make)
        with pytest.raises(TimeoutError):
            await client.receive(wait=0.5)


async def test_bad_subscriptions_get_errors_with_codes(
    base_url: str, store: DocumentStore, make: Make
) -> None:
    partner = await make.partner()
    async with ws_client(base_url, token_of(partner)) as client:
        await _acked(client)
        await client.subscribe(EVENTS, {"types": ["AUTHORIZATION_EXPLODED"]})
        unknown = await client.receive()
        assert unknown["type"] == "error"
        assert "AUTHORIZATION_EXPLODED" in unknown["payload"][0]["message"]
        await client.subscribe(EVENTS, {"after": "yesterday"})
        bad_cursor = await _refusal(client)
        assert bad_cursor["extensions"] == {"code": "INVALID_CURSOR", "field": "after"}
        # Events up to position 5 were pruned: an older cursor is refused, naming the oldest.
        await events.ensure_sequence(store)
        sequence = (await store.get_many(c.EVENT_SEQUENCE, ["events"]))["events"]
        await store.update(
            c.EVENT_SEQUENCE,
            "events",
            expected_version=sequence["version"],
            changes={"prunedThrough": 5},
        )
        await client.subscribe(EVENTS, {"after": "2"})
        pruned = await _refusal(client)
        assert pruned["extensions"] == {
            "code": "EVENT_CURSOR_PRUNED",
            "field": "after",
            "oldestPosition": 6,
        }
        assert "oldest position available is 6" in pruned["message"]


TRANSPORTS = ["graphql-transport-ws", "sse"]

Payloads = Callable[[], Awaitable[dict[str, Any]]]


@contextlib.asynccontextmanager
async def _events_over(
    transport: str, base_url: str, bearer: str, variables: dict[str, Any]
) -> AsyncIterator[Payloads]:
    """One subscription to EVENTS over ``transport``: each call gives the payload of its next
    ``next`` message (data, or the errors that refused it)."""
    if transport == "sse":
        headers = {"Authorization": f"Bearer {bearer}", "Accept": "text/event-stream"}
        body = {"query": EVENTS, "variables": variables}
        async with (
            httpx.AsyncClient(base_url=base_url, timeout=PATIENCE) as http,
            http.stream("POST", "/graphql", json=body, headers=headers) as stream,
        ):
            assert stream.status_code == 200
            lines = stream.aiter_lines()
            yield lambda: asyncio.wait_for(_next_sse(lines), PATIENCE)
        return
    async with ws_client(base_url, bearer) as client:
        await _acked(client)
        await client.subscribe(EVENTS, variables)

        async def payload() -> dict[str, Any]:
            message = await client.receive()
            assert message["type"] == "next", message
            received: dict[str, Any] = message["payload"]
            return received

        yield payload


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_cursor_beyond_the_end_of_the_log_is_refused(
    base_url: str, store: DocumentStore, make: Make, transport: str
) -> None:
    """Such a cursor (held across a restore from a backup, say) would skip every event up to
    it: the feed would stay silent while the log grows."""
    partner = await make.partner()
    await _request_to(base_url, partner, make)
    end = (await events.bounds(store)).end
    assert end > 0
    for beyond in (end + 1, 999_999):
        async with _events_over(
            transport, base_url, token_of(partner), {"after": str(beyond)}
        ) as payloads:
            refused = await payloads()
        assert refused["data"] is None
        [error] = refused["errors"]
        assert error["extensions"] == {
            "code": "INVALID_CURSOR",
            "field": "after",
            "lastPosition": end,
        }
        assert f"whose newest position is {end}" in error["message"]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_cursor_at_the_end_receives_what_is_appended_while_it_starts(
    base_url: str, store: DocumentStore, make: Make, transport: str
) -> None:
    """Events appended between the check of the cursor and the feed's first read are neither
    refused nor lost: the subscription and the appends race."""
    partner = await make.partner()
    request_id, _ = await _request_to(base_url, partner, make)
    request = (await store.get_many(c.REQUESTS, [request_id]))[request_id]
    end = (await events.bounds(store)).end
    racing = 5

    async def append(count: int) -> None:
        for _ in range(count):
            await events.append(store, events.EventType.REQUEST_CLOSED, request, {})
            await asyncio.sleep(0)  # let the subscription's reads interleave

    async with _events_over(
        transport, base_url, token_of(partner), {"after": str(end)}
    ) as payloads:

        async def receive(count: int) -> list[int]:
            received = []
            for _ in range(count):
                payload = await payloads()
                assert "errors" not in payload, payload
                received.append(int(payload["data"]["events"]["cursor"]))
            return received

        received, _ = await asyncio.gather(receive(racing), append(racing))
        assert received == list(range(end + 1, end + racing + 1))
        # Each once: the next one received is the next one appended.
        (after, _) = await asyncio.gather(receive(1), append(1))
        assert after == [end + racing + 1]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_an_empty_list_of_types_is_refused_as_a_webhook_refuses_it(
    base_url: str, make: Make, transport: str
) -> None:
    partner = await make.partner()
    async with _events_over(transport, base_url, token_of(partner), {"types": []}) as payloads:
        refused = await payloads()
    assert refused["data"] is None
    [error] = refused["errors"]
    assert error["extensions"] == {"code": "NO_EVENT_TYPES", "field": "types"}
    assert error["message"].startswith("types: name at least one event type")


async def logged_by_an_earlier_release(
    store: DocumentStore,
    kind: events.EventType,
    subject: Mapping[str, Any],
    changes: dict[str, Any],
) -> None:
    """An event as releases before every status change named a reason code logged it (the log
    now refuses to write one without), at the next position."""
    await events.ensure_sequence(store)
    moved = await store.increment(c.EVENT_SEQUENCE, "events", {"position": 1})
    assert moved is not None
    await store.insert(
        c.EVENTS,
        {
            "_id": new_id("evt"),
            "position": moved["position"],
            "type": kind.value,
            "subjectId": subject["_id"],
            "partnerId": subject["partnerId"],
            "sellerId": subject["sellerId"],
            "changes": changes,
            "createdAt": utc_now(),
        },
    )


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_events_say_why_and_those_logged_without_a_reason_are_served_as_they_are(
    base_url: str, store: DocumentStore, make: Make, transport: str
) -> None:
    partner = await make.partner()
    request_id, _ = await _request_to(base_url, partner, make)
    request = (await store.get_many(c.REQUESTS, [request_id]))[request_id]
    accepted = {"status": {"from": "PARTNER_REVIEWING", "to": "PARTNER_ACCEPTED"}}
    await logged_by_an_earlier_release(store, events.EventType.REQUEST_ACCEPTED, request, accepted)
    async with _events_over(transport, base_url, token_of(partner), {"after": "0"}) as payloads:
        received = [(await payloads())["data"]["events"] for _ in range(2)]
    assert [(e["type"], e["reasonCode"], e["reason"]) for e in received] == [
        ("REQUEST_RECEIVED", "SENT_BY_SELLER", None),
        ("REQUEST_ACCEPTED", None, None),
    ]
    assert received[0]["changes"]["reasonCode"] == "SENT_BY_SELLER"
    assert received[1]["changes"] == accepted


async def test_anonymous_callers_cannot_follow_events(base_url: str) -> None:
    async with ws_client(base_url, None) as client:
        await _acked(client)
        await client.subscribe(EVENTS)
        refused = await _refusal(client)
        assert refused["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_bad_or_expired_token_is_refused_with_4403(
    base_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tsp.websocket")
    expired = token(Role.PARTNER, "ptn_x", ttl=timedelta(seconds=-5))
    for bad in (expired, "not-a-token"):
        async with ws_client(base_url, bad) as client:
            code, reason = await client.closed()
            assert code == 4403, reason
    for life in _SHORT_LIVES:
        soon = token(Role.PARTNER, "ptn_x", ttl=life)
        async with ws_client(base_url, soon) as client:
            try:
                await _acked(client)
            except ConnectionClosed:
                continue  # expired before the server read it: a slow machine
            await client.subscribe(EVENTS)
            code, reason = await client.closed(wait=life.total_seconds() + PATIENCE)
            assert (code, reason) == (4403, "Forbidden: token expired")
            break
    else:
        raise AssertionError("every token expired before its connection was acknowledged")
    # A token running out is no server trouble: a line at INFO, no traceback.
    assert "websocket closed with 4403: token expired" in caplog.messages
    assert [r.getMessage() for r in caplog.records if r.levelno > logging.INFO] == []


@pytest.mark.parametrize(
    "message",
    [
        "not json",
        "[1, 2]",
        {"type": 7},
        {"type": "subscribe", "id": "1", "payload": "query"},
        {"type": "subscribe", "id": 1, "payload": {"query": "{ viewer { role } }"}},
        {"type": "subscribe", "id": "1", "payload": {"query": 5}},
        {"type": "nonsense"},
    ],
)
async def test_malformed_messages_close_with_4400_and_the_server_carries_on(
    base_url: str, message: Any, make: Make
) -> None:
    partner = await make.partner()
    async with ws_client(base_url, token_of(partner)) as client:
        await _acked(client)
        await client.send(message)
        code, _ = await client.closed()
        assert code == 4400
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        assert (await http.get("/healthz")).status_code == 200


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("[" * 100_000, "A message must not nest so deeply"),
        (
            '{"type": "ping", "payload": {"x": ' + "[" * 5_000 + "]" * 5_000 + "}}",
            "A message must not nest so deeply",
        ),
        (
            json.dumps({"type": "ping", "payload": {"x": "a" * 1024 * 1024}}),
            "A message must be at most 1048576 bytes",
        ),
        (
            '{"type": "ping", "payload": {"x": ' + "1" * 5_000 + "}}",
            "A message must not hold a number that long",
        ),
    ],
    ids=["unclosed", "nested", "large", "long-number"],
)
async def test_messages_too_deep_or_too_large_close_with_4400_logged_at_info(
    base_url: str, message: str, reason: str, make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tsp.websocket")
    partner = await make.partner()
    async with ws_client(base_url, token_of(partner)) as client:
        await _acked(client)
        await client.send(message)
        assert await client.closed() == (4400, reason)
    assert f"websocket closed with 4400: {reason}" in caplog.messages
    assert [r.getMessage() for r in caplog.records if r.levelno > logging.INFO] == []
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        assert (await http.get("/healthz")).status_code == 200


async def test_subscriptions_per_connection_and_connections_per_caller_are_limited(
    store: DocumentStore, make: Make
) -> None:
    settings = dataclasses.replace(
        SETTINGS,
        streams=StreamSettings(subscriptions_per_connection=2, connections_per_caller=2),
    )
    partner = await make.partner()
    bearer = token_of(partner)
    async with served(store, settings) as url, ws_client(url, bearer) as first:
        await _acked(first)
        for _ in range(2):
            await first.subscribe(EVENTS)
        await first.subscribe(EVENTS)
        limited = await first.receive()
        assert limited["type"] == "error"
        assert limited["payload"][0]["message"] == "Subscription limit reached"
        async with ws_client(url, bearer) as second:
            await _acked(second)
            async with ws_client(url, bearer) as third:
                code, reason = await third.closed()
                assert code == 4429, reason
        # A closed connection frees its place.
        async with ws_client(url, bearer) as again:
            await _acked(again)


# A client that asks for a stream, and one that prefers JSON but accepts a stream (urql's
# default): either way a subscription, which no JSON answer can carry, streams.
STREAMING = ["text/event-stream", URQL_ACCEPT]


@pytest.mark.parametrize("accept", STREAMING)
async def test_sse_streams_events_with_the_authorization_header_past_the_request_timeout(
    store: DocumentStore, make: Make, accept: str
) -> None:
    settings = dataclasses.replace(
        SETTINGS, transport=dataclasses.replace(SETTINGS.transport, request_timeout_seconds=0.3)
    )
    partner = await make.partner()
    headers = {"Authorization": f"Bearer {token(Role.PARTNER, partner['_id'])}", "Accept": accept}
    body = {"query": EVENTS, "variables": {}}
    # The change comes through a gateway of its own: a request to the one under test may be
    # cut off by its short timeout on a busy machine.
    async with (
        served(store, SETTINGS) as changes,
        served(store, settings) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=60) as http,
        http.stream("POST", "/graphql", json=body, headers=headers) as stream,
    ):
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.aiter_lines()
        await asyncio.sleep(0.6)  # longer than the request timeout
        await subscribed(base_url)
        request_id, _ = await _request_to(changes, partner, make)
        event = await asyncio.wait_for(_next_sse(lines), 60)
    assert event["data"]["events"]["subjectId"] == request_id


@pytest.mark.parametrize("accept", STREAMING)
async def test_an_sse_stream_ends_with_unauthenticated_when_its_token_expires(
    store: DocumentStore, make_partner: PartnerFactory, accept: str
) -> None:
    partner = await make_partner()
    async with (
        served(store, SETTINGS) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=PATIENCE) as http,
    ):
        for life in _SHORT_LIVES:
            soon = token(Role.PARTNER, partner["_id"], ttl=life)
            headers = {"Authorization": f"Bearer {soon}", "Accept": accept}
            async with http.stream(
                "POST", "/graphql", json={"query": EVENTS}, headers=headers
            ) as stream:
                if stream.status_code == 401:
                    continue  # expired before the server read it: a slow machine
                assert stream.status_code == 200
                wait = life.total_seconds() + PATIENCE
                last = await asyncio.wait_for(_next_sse(stream.aiter_lines()), wait)
            break
        else:
            raise AssertionError("every token expired before its stream opened")
    [error] = last["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "expired" in error["message"]


async def _next_sse(lines: AsyncIterator[str]) -> dict[str, Any]:
    kind = None
    async for line in lines:
        if line.startswith("event: "):
            kind = line.removeprefix("event: ")
        elif line.startswith("data: ") and kind == "next":
            parsed: dict[str, Any] = json.loads(line.removeprefix("data: "))
            return parsed
    raise AssertionError("the stream ended")


async def test_a_subscription_costs_its_selection_once_and_is_refused_above_the_maximum(
    store: DocumentStore, make: Make
) -> None:
    partner = await make.partner()
    bearer = token_of(partner)
    cheap = dataclasses.replace(
        SETTINGS, policy=dataclasses.replace(SETTINGS.policy, max_query_cost=1)
    )
    async with served(store, cheap) as url, ws_client(url, bearer) as client:
        await _acked(client)
        await client.subscribe(EVENTS)
        refused = await _refusal(client)
        assert refused["extensions"]["code"] == "MAX_COST_EXCEEDED"
    # A bucket that holds one subscription's cost, restoring almost nothing: the events
    # still all arrive, since they are not charged.
    tight = dataclasses.replace(
        SETTINGS,
        policy=dataclasses.replace(
            SETTINGS.policy, throttle=ThrottlePolicy(capacity=3, restore_rate=0.001)
        ),
    )
    async with (
        served(store, SETTINGS) as changes,
        served(store, tight) as url,
        ws_client(url, bearer) as client,
    ):
        await _acked(client)
        await client.subscribe(EVENTS)
        await subscribed(url)
        for _ in range(5):
            await _request_to(changes, partner, make)
        costs = []
        for _ in range(5):
            message = await client.receive()
            assert "errors" not in message["payload"], message
            costs.append(message["payload"]["extensions"]["cost"]["requestedQueryCost"])
        assert len(set(costs)) == 1 and 0 < costs[0] <= 3


async def test_idle_connections_are_pinged(store: DocumentStore, make: Make) -> None:
    settings = dataclasses.replace(SETTINGS, streams=StreamSettings(ping_seconds=0.1))
    partner = await make.partner()
    async with (
        served(store, settings) as url,
        ws_client(url, token_of(partner)) as client,
    ):
        await _acked(client)
        raw = await asyncio.wait_for(client.connection.recv(), 60)
        assert json.loads(raw) == {"type": "ping"}


async def test_a_connection_that_never_sends_connection_init_is_closed_with_4408(
    store: DocumentStore,
) -> None:
    settings = dataclasses.replace(SETTINGS, streams=StreamSettings(connection_init_seconds=0.2))
    async with served(store, settings) as url:
        address = url.replace("http", "ws", 1) + "/graphql"
        async with connect(address, subprotocols=["graphql-transport-ws"]) as connection:  # type: ignore[list-item]
            code, _reason = await WSClient(connection).closed(wait=10)
    assert code == 4408


@pytest.mark.parametrize("accept", STREAMING)
async def test_sse_streams_count_as_connections_of_their_caller(
    store: DocumentStore, make: Make, accept: str
) -> None:
    settings = dataclasses.replace(SETTINGS, streams=StreamSettings(connections_per_caller=1))
    partner = await make.partner()
    headers = {"Authorization": f"Bearer {token(Role.PARTNER, partner['_id'])}", "Accept": accept}
    body = {"query": EVENTS, "variables": {}}
    async with (
        served(store, settings) as url,
        httpx.AsyncClient(base_url=url, timeout=60) as http,
    ):
        async with http.stream("POST", "/graphql", json=body, headers=headers) as first:
            assert first.status_code == 200
            assert first.headers["content-type"].startswith("text/event-stream")
            second = await http.post("/graphql", json=body, headers=headers)
            assert second.status_code == 429
            assert second.json()["errors"][0]["extensions"]["code"] == "TOO_MANY_CONNECTIONS"
        # The first stream ended: its place is free again once the server saw it go.
        for _ in range(100):  # bounded
            async with http.stream("POST", "/graphql", json=body, headers=headers) as again:
                if again.status_code == 200:
                    break
            await asyncio.sleep(0.05)
        assert again.status_code == 200


async def test_the_operation_chosen_decides_whether_a_client_accepting_a_stream_gets_one(
    store: DocumentStore, make: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = dataclasses.replace(SETTINGS, streams=StreamSettings(connections_per_caller=1))
    partner = await make.partner()
    headers = {"Authorization": f"Bearer {token_of(partner)}", "Accept": URQL_ACCEPT}
    # New to the parser cache, which keeps a document from the second time it is read.
    unique = uuid.uuid4().hex
    document = (
        f"query First{unique} {{ __typename }} subscription Events{unique} {{ events {{ id }} }}"
    )
    parsed: list[str] = []

    def parse(source: str, **options: Any) -> DocumentNode:
        parsed.append(source)
        return graphql.parse(source, **options)

    monkeypatch.setattr(extension, "parse", parse)
    async with (
        served(store, settings) as url,
        httpx.AsyncClient(base_url=url, timeout=60) as http,
    ):
        subscription = {"query": document, "operationName": f"Events{unique}"}
        async with http.stream("POST", "/graphql", json=subscription, headers=headers) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            await subscribed(url)
            # Read once, though the gateway looked at its operations before execution.
            assert parsed == [document]
            # The same document's query, while the caller holds the one stream it may: JSON,
            # no stream held.
            query = {"query": document, "operationName": f"First{unique}"}
            answered = await http.post("/graphql", json=query, headers=headers)
            assert answered.status_code == 200, answered.text
            assert answered.headers["content-type"] == "application/graphql-response+json"
            assert answered.json()["data"] == {"__typename": "Query"}
            unknown = {"query": document, "operationName": "Missing"}
            refused = await http.post("/graphql", json=unknown, headers=headers)
            assert refused.status_code == 400
            [error] = refused.json()["errors"]
            assert error["extensions"]["code"] == "UNKNOWN_OPERATION_NAME"
    # Read afresh once more (the cache keeps it from then on), and not for the third request.
    assert parsed == [document, document]


async def test_a_registered_or_persisted_subscription_streams_to_a_client_accepting_a_stream(
    store: DocumentStore, make: Make
) -> None:
    from gateway import trusted_documents

    registered = await trusted_documents(store, SETTINGS).add(EVENTS)
    persisted = f"subscription Persisted{uuid.uuid4().hex} {{ events {{ id }} }}"
    digest = hashlib.sha256(persisted.encode()).hexdigest()
    apq = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    partner = await make.partner()
    headers = {"Authorization": f"Bearer {token_of(partner)}", "Accept": URQL_ACCEPT}
    bodies = [
        {"documentId": registered},
        {"query": persisted, "extensions": apq},
        {"extensions": apq},  # the hash alone, once the gateway knows it
    ]
    async with (
        served(store, SETTINGS) as url,
        httpx.AsyncClient(base_url=url, timeout=60) as http,
    ):
        for body in bodies:
            async with http.stream("POST", "/graphql", json=body, headers=headers) as stream:
                assert stream.status_code == 200, (body, await stream.aread())
                assert stream.headers["content-type"].startswith("text/event-stream"), body


async def test_trusted_documents_only_holds_on_the_websocket_too(
    store: DocumentStore, make: Make
) -> None:
    from gateway import trusted_documents

    settings = dataclasses.replace(
        SETTINGS, policy=dataclasses.replace(SETTINGS.policy, trusted_documents_only=True)
    )
    await trusted_documents(store, settings).add(EVENTS)
    partner = await make.partner()
    async with (
        served(store, settings) as url,
        ws_client(url, token_of(partner)) as client,
    ):
        await _acked(client)
        await client.subscribe("subscription { events { id } }")
        refused = await client.receive()
        assert refused["type"] == "error"
        assert refused["payload"][0]["extensions"]["code"] == "TRUSTED_DOCUMENT_REQUIRED"
        await client.subscribe(EVENTS)
        await subscribed(url)
        async with served(store, SETTINGS) as changes:
            request_id, _ = await _request_to(changes, partner, make)
        assert (await client.next_data())["events"]["subjectId"] == request_id


async def test_graphiql_runs_subscriptions_over_the_websocket(store: DocumentStore) -> None:
    from tests.conftest import serving

    async with serving(store, dataclasses.replace(SETTINGS, demo=True)) as http:
        page = (await http.get("/graphql", headers={"Accept": "text/html"})).text
    # Its fetcher opens graphql-transport-ws for subscription operations...
    assert '"graphql-transport-ws"' in page and "connection_init" in page
    # ...and a tab shows one.
    assert "subscription PartnerEvents" in page


async def test_each_event_reads_its_subject_afresh(
    base_url: str, store: DocumentStore, make: Make
) -> None:
    partner = await make.partner()
    query = """subscription { events { ... on SellerRequestEvent {
      request { partner { name } } } } }"""
    async with ws_client(base_url, token_of(partner)) as client:
        await _acked(client)
        await client.subscribe(query)
        await subscribed(base_url)
        await _request_to(base_url, partner, make)
        first = (await client.next_data())["events"]["request"]["partner"]["name"]
        # Creating a request writes the partner too (the rule it checks holds that way).
        current = (await store.get_many(c.PARTNERS, [partner["_id"]]))[partner["_id"]]
        await store.update(
            c.PARTNERS,
            partner["_id"],
            expected_version=current["version"],
            changes={"name": "Renamed Partner"},
        )
        await _request_to(base_url, partner, make)
        second = (await client.next_data())["events"]["request"]["partner"]["name"]
    assert (first, second) == (partner["name"], "Renamed Partner")


async def test_a_page_from_another_origin_cannot_open_a_websocket(base_url: str) -> None:
    from websockets.exceptions import InvalidStatus

    url = base_url.replace("http", "ws", 1) + "/graphql"
    with pytest.raises(InvalidStatus) as refused:
        async with connect(
            url,
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
            origin="https://evil.example",  # type: ignore[arg-type]
        ):
            pass
    assert refused.value.response.status_code == 403
