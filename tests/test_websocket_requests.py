"""Each operation on a WebSocket (graphql-transport-ws) is a request of its own, as over HTTP:
priced, spent and refunded alone, choosing its operation by the name it sent, refused with the
same codes, and logged under its own request id."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from datastore.store import DocumentStore
from edge.request_log import JsonLogFormatter
from edge.stream_settings import StreamSettings
from edge.throttle import ThrottlePolicy
from resolvers.identity import Role
from tests.conftest import SETTINGS, Make, token, token_of
from tests.live import PATIENCE, WSClient, served, subscribed, ws_client
from tests.polling import until
from tests.test_subscriptions import EVENTS, _request_to


def m20(visitor: str) -> str:
    """A mutation of cost 200 that writes nothing: twenty link opens of tokens naming no
    offer (``visitor`` makes a document of its own, which no validation cache holds yet)."""
    opens = " ".join(
        f'o{n}: recordOfferLinkOpen(token: "nope{n}", visitorId: "{visitor}{n}") {{ __typename }}'
        for n in range(20)
    )
    return f"mutation {{ {opens} }}"


CAPACITY = 2000
# Restoring (almost) nothing while a test runs: what is spent stays spent.
TIGHT = dataclasses.replace(
    SETTINGS,
    policy=dataclasses.replace(
        SETTINGS.policy,
        throttle=ThrottlePolicy(capacity=CAPACITY, restore_rate=0.001, sync_wait_seconds=60),
    ),
    streams=StreamSettings(ping_seconds=0, subscriptions_per_connection=50),
)


@pytest.fixture
async def tight(store: DocumentStore) -> AsyncIterator[str]:
    async with served(store, TIGHT) as url:
        yield url


async def _acked(client: WSClient) -> None:
    assert (await client.receive())["type"] == "connection_ack"


async def _run(client: WSClient, operation: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Subscribes ``operation`` with ``payload`` and reads its messages up to its last (its
    ``complete`` or ``error``); ``next`` messages only are returned (an ``error`` as a
    one-message list holding it)."""
    await client.send({"id": operation, "type": "subscribe", "payload": payload})
    received: list[dict[str, Any]] = []
    while True:
        message = await client.receive()
        assert message.get("id") == operation, message
        if message["type"] == "complete":
            return received
        received.append(message)
        if message["type"] == "error":
            return received


def _cost(message: dict[str, Any]) -> dict[str, Any]:
    cost: dict[str, Any] = message["payload"]["extensions"]["cost"]
    return cost


def _code(message: dict[str, Any]) -> str | None:
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    code: str | None = errors[0].get("extensions", {}).get("code")
    return code


def _outcome(answer: dict[str, Any]) -> tuple[str | None, int, int, float | None]:
    """What an answer (an HTTP response's body, or a WebSocket message) says of its cost: its
    error code (None: it ran), requested and actual cost, and what the bucket then held (to the
    point). A refusal before anything was read is priced at nothing: over HTTP its body says
    so, a WebSocket's ``error`` message has no place to say it."""
    if answer.get("type") == "error":
        return (answer["payload"][0]["extensions"]["code"], 0, 0, None)
    payload = answer.get("payload", answer)
    cost = payload["extensions"]["cost"]
    errors = payload.get("errors") or [{}]
    code = errors[0].get("extensions", {}).get("code")
    available = round(cost["throttleStatus"]["currentlyAvailable"])
    return (code, cost["requestedQueryCost"], cost["actualQueryCost"], available)


# 2000 points: two mutations validated afresh (240: the caches keep a document from its second
# time), seven more (200), one refused for want of budget, then two refused before they are
# read, as their caller is inside the Retry-After of that refusal.
MUTATIONS = 12


async def test_mutations_on_a_websocket_spend_the_bucket_as_over_http(
    tight: str, make: Make
) -> None:
    over_http, over_ws = await make.partner(), await make.partner()
    async with httpx.AsyncClient(base_url=tight, timeout=PATIENCE) as http:
        headers = {"Authorization": f"Bearer {token_of(over_http)}"}
        first = await http.post("/graphql", json={"query": "{ __typename }"}, headers=headers)
        assert "errors" not in first.json(), first.json()
        http_outcomes = [
            _outcome(
                (await http.post("/graphql", json={"query": m20("h")}, headers=headers)).json()
            )
            for _ in range(MUTATIONS)
        ]
    async with ws_client(tight, token_of(over_ws)) as client:
        await _acked(client)
        # A planned query first: its counted cost must not be taken for the mutations'.
        [first_ws] = await _run(client, "0", {"query": "{ __typename }"})
        assert "errors" not in first_ws["payload"], first_ws
        ws_outcomes = []
        for n in range(MUTATIONS):
            [answer] = await _run(client, f"m{n}", {"query": m20("w")})
            ws_outcomes.append(_outcome(answer))
    ran = [(None, 240, 240, 1760), (None, 240, 240, 1520)]
    ran += [(None, 200, 200, 1520 - 200 * n) for n in range(1, 8)]
    refused = [("THROTTLED", 200, 0, 120)]
    assert http_outcomes == [*ran, *refused, ("THROTTLED", 0, 0, 120), ("THROTTLED", 0, 0, 120)]
    assert ws_outcomes == [*ran, *refused, ("THROTTLED", 0, 0, None), ("THROTTLED", 0, 0, None)]


@pytest.fixture
async def base_url(store: DocumentStore) -> AsyncIterator[str]:
    settings = dataclasses.replace(
        SETTINGS, streams=StreamSettings(poll_seconds=0.02, ping_seconds=0)
    )
    async with served(store, settings) as url:
        yield url


async def test_an_operation_s_cost_is_its_own_while_others_run_on_the_socket(
    tight: str, make: Make
) -> None:
    partner = await make.partner()
    async with ws_client(tight, token_of(partner)) as client:
        await _acked(client)
        await client.send({"id": "events", "type": "subscribe", "payload": {"query": EVENTS}})
        await subscribed(tight)
        # Costs 2 + 8 while the subscription runs; the next query's own cost is reported
        # alone, as are the subscription's events afterwards.
        query = {"query": "{ serviceCategories(first: 8) { nodes { name } } }"}
        [answer] = await _run(client, "query", query)
        assert _cost(answer)["requestedQueryCost"] == 10
        await _request_to(tight, partner, make)
        event = await client.receive()
        assert event["id"] == "events" and "errors" not in event["payload"], event
        assert _cost(event)["requestedQueryCost"] == _cost(event)["actualQueryCost"]
        assert 0 < _cost(event)["requestedQueryCost"] < 10


SEVERAL_QUERIES = "query A { viewer { role } } query B { __typename }"
SEVERAL_SUBSCRIPTIONS = "subscription A { events { cursor } } subscription B { events { cursor } }"


async def test_a_websocket_operation_runs_the_operation_its_name_chooses(
    base_url: str, make: Make
) -> None:
    partner = await make.partner()
    async with ws_client(base_url, token_of(partner)) as client:
        await _acked(client)
        named = {"query": SEVERAL_QUERIES, "operationName": "B"}
        [answer] = await _run(client, "query", named)
        assert answer["payload"]["data"] == {"__typename": "Query"}, answer
        unnamed = await _run(client, "unnamed", {"query": SEVERAL_QUERIES})
        assert [_code(m) for m in unnamed] == ["OPERATION_NAME_REQUIRED"]
        subscription = {"query": SEVERAL_SUBSCRIPTIONS, "operationName": "A"}
        await client.send({"id": "events", "type": "subscribe", "payload": subscription})
        await subscribed(base_url)
        await _request_to(base_url, partner, make)
        event = await client.receive()
        assert event["id"] == "events" and "errors" not in event["payload"], event
        assert set(event["payload"]["data"]["events"]) == {"cursor"}


@pytest.fixture
def log_lines(caplog: pytest.LogCaptureFixture) -> Iterator[list[dict[str, Any]]]:
    """The gateway's log lines at INFO and above while the test runs, as the JSON the
    gateway writes (each with its request id)."""
    lines: list[dict[str, Any]] = []
    formatter = JsonLogFormatter()

    class Lines(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(json.loads(formatter.format(record)))

    handler = Lines(logging.INFO)
    root = logging.getLogger()
    root.addHandler(handler)
    caplog.set_level(logging.INFO)
    try:
        yield lines
    finally:
        root.removeHandler(handler)


async def _sse(base_url: str, body: dict[str, Any], bearer: str) -> dict[str, Any]:
    """What a GraphQL over SSE request that fails before it runs is answered: the first
    ``next`` event's payload, or the JSON body of a refusal before the stream."""
    headers = {"Authorization": f"Bearer {bearer}", "Accept": "text/event-stream"}
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=PATIENCE) as http,
        http.stream("POST", "/graphql", json=body, headers=headers) as stream,
    ):
        if not stream.headers["content-type"].startswith("text/event-stream"):
            await stream.aread()
            answer: dict[str, Any] = stream.json()
            return answer
        kind = None
        async for line in stream.aiter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: ") and kind == "next":
                payload: dict[str, Any] = json.loads(line.removeprefix("data: "))
                return payload
    raise AssertionError("the stream ended")


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        ({"query": "query A { viewer { role } }", "operationName": "Z"}, "UNKNOWN_OPERATION_NAME"),
        (
            {"query": "subscription A { events { cursor } }", "operationName": "Z"},
            "UNKNOWN_OPERATION_NAME",
        ),
        ({"query": "query A { __typename }", "operationName": "no name"}, "UNKNOWN_OPERATION_NAME"),
        ({"query": "fragment F on Query { __typename }"}, "UNKNOWN_OPERATION_NAME"),
        ({"query": ""}, "MISSING_QUERY"),
    ],
    ids=["query", "subscription", "not-a-name", "no-operation", "empty"],
)
async def test_a_request_naming_no_operation_is_refused_alike_on_every_transport(
    base_url: str, make: Make, request_: dict[str, Any], code: str, log_lines: list[dict[str, Any]]
) -> None:
    partner = await make.partner()
    bearer = token_of(partner)
    async with ws_client(base_url, bearer) as client:
        await _acked(client)
        [over_ws] = await _run(client, "z", request_)
        assert over_ws["type"] == "error", over_ws
        assert _code(over_ws) == code
        # The connection carries on.
        [answer] = await _run(client, "after", {"query": "{ __typename }"})
        assert answer["payload"]["data"] == {"__typename": "Query"}
    over_sse = await _sse(base_url, request_, bearer)
    assert over_sse["errors"][0]["extensions"]["code"] == code, over_sse
    async with httpx.AsyncClient(base_url=base_url, timeout=PATIENCE) as http:
        answers = {
            accept: await http.post(
                "/graphql",
                json=request_,
                headers={"Authorization": f"Bearer {bearer}", "Accept": accept},
            )
            for accept in ("application/json", "application/graphql-response+json")
        }
    # An operation that cannot be determined is a GraphQL result under application/json (200,
    # as OPERATION_NAME_REQUIRED), a request error under graphql-response+json; a request
    # with no query is refused under both.
    assert [response.status_code for response in answers.values()] == [
        400 if code == "MISSING_QUERY" else 200,
        400,
    ]
    for response in answers.values():
        assert response.json()["errors"][0]["extensions"]["code"] == code
    # The client's mistake: a line at INFO naming it, no ERROR line, no traceback.
    assert any(code in line["message"] for line in log_lines if line["level"] == "INFO")
    assert [line for line in log_lines if line["level"] not in ("INFO", "DEBUG")] == []
    assert not [line for line in log_lines if "error" in line]


async def test_a_registered_document_without_the_operation_named_is_refused_in_the_stream(
    base_url: str, store: DocumentStore, make: Make
) -> None:
    from gateway import trusted_documents

    registered = await trusted_documents(store, SETTINGS).add(
        "subscription Events { events { cursor } }"
    )
    partner = await make.partner()
    over_sse = await _sse(
        base_url, {"documentId": registered, "operationName": "Z"}, token_of(partner)
    )
    assert over_sse["errors"][0]["extensions"]["code"] == "UNKNOWN_OPERATION_NAME", over_sse
    assert over_sse.get("data") is None


async def test_a_variable_of_the_wrong_type_is_bad_user_input_on_every_transport(
    base_url: str, make: Make, log_lines: list[dict[str, Any]]
) -> None:
    partner = await make.partner()
    bearer = token_of(partner)
    subscription = {
        "query": "subscription($a: String) { events(after: $a) { cursor } }",
        "variables": {"a": 5},
    }
    async with ws_client(base_url, bearer) as client:
        await _acked(client)
        [over_ws] = await _run(client, "s", subscription)
        assert _code(over_ws) == "BAD_USER_INPUT", over_ws
    over_sse = await _sse(base_url, subscription, bearer)
    assert over_sse["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", over_sse
    query = {
        "query": "query($a: String) { serviceCategories(first: 1, after: $a) { totalCount } }",
        "variables": {"a": 5},
    }
    async with httpx.AsyncClient(base_url=base_url, timeout=PATIENCE) as http:
        over_http = await http.post("/graphql", json=query)
    assert over_http.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    # Logged with the code answered, on each transport.
    logged = [line["message"] for line in log_lines if "String cannot represent" in line["message"]]
    assert len(logged) == 3 and all("client error BAD_USER_INPUT" in m for m in logged), logged


async def test_each_websocket_operation_is_logged_under_a_request_id_of_its_own(
    base_url: str, make: Make, log_lines: list[dict[str, Any]]
) -> None:
    partner = await make.partner()
    broken = await make.service(partner, categoryId="scat_doesnotexist")
    query = {
        "query": "query($id: ID!) { node(id: $id) { ... on Service { category { name } } } }",
        "variables": {"id": broken["_id"]},
    }
    upgrade = [("X-Request-ID", "socket-7")]
    async with ws_client(base_url, token_of(partner), headers=upgrade) as client:
        await _acked(client)
        assert client.connection.response is not None
        assert client.connection.response.headers["x-request-id"] == "socket-7"
        masked = []
        for operation in ("first", "second"):
            [answer] = await _run(client, operation, query)
            masked.append(answer["payload"]["errors"][0]["extensions"])
        invalid = await _run(client, "invalid", {"query": "{ nonsense }"})
        assert [_code(m) for m in invalid] == ["GRAPHQL_VALIDATION_FAILED"]
    # Each operation's id is the connection's and its place among the connection's operations.
    assert masked == [
        {"code": "INTERNAL", "requestId": "socket-7.1"},
        {"code": "INTERNAL", "requestId": "socket-7.2"},
    ]
    for request_id in ("socket-7.1", "socket-7.2"):
        [logged] = [
            line
            for line in log_lines
            if line["level"] == "ERROR" and line["request_id"] == request_id
        ]
        assert "scat_doesnotexist" in logged["error"]
    [refused] = [line for line in log_lines if "GRAPHQL_VALIDATION_FAILED" in line["message"]]
    assert refused["request_id"] == "socket-7.3"
    # The connection's own line, as an HTTP request's, once it has closed.
    await until(
        lambda: any(line["message"] == "websocket" for line in log_lines),
        "the connection's line",
    )
    [connection] = [line for line in log_lines if line["message"] == "websocket"]
    assert connection["request_id"] == "socket-7"
    assert (connection["method"], connection["path"], connection["status"]) == (
        "GET",
        "/graphql",
        101,
    )


async def _role(client: WSClient) -> dict[str, Any]:
    [answer] = await _run(client, "viewer", {"query": "{ viewer { role partner { id } } }"})
    viewer: dict[str, Any] = answer["payload"]["data"]["viewer"]
    return viewer


async def test_the_upgrade_s_authorization_header_names_the_caller(
    base_url: str, make: Make
) -> None:
    partner, other = await make.partner(), await make.partner()
    bearer = token_of(partner)
    header = [("Authorization", f"Bearer {bearer}")]
    # The header alone: the connection is the partner's.
    async with ws_client(base_url, None, headers=header) as client:
        await _acked(client)
        assert await _role(client) == {"role": "PARTNER", "partner": {"id": partner["_id"]}}
    # The same token in both places is the same caller.
    async with ws_client(base_url, bearer, headers=header) as client:
        await _acked(client)
        assert (await _role(client))["role"] == "PARTNER"
    async with ws_client(base_url, None, headers=header, payload={"token": bearer}) as client:
        await _acked(client)
        assert (await _role(client))["role"] == "PARTNER"
    # Two callers named: refused rather than one picked.
    async with ws_client(base_url, token_of(other), headers=header) as client:
        code, reason = await client.closed()
        assert code == 4403, reason


@pytest.mark.parametrize(
    "headers",
    [
        [("Authorization", "Bearer forged.token.here")],
        [("Authorization", "Basic dXNlcjpwYXNz")],
        [("Authorization", f"Bearer {token(Role.PARTNER, 'ptn_x')}")] * 2,
    ],
    ids=["forged", "not-bearer", "twice"],
)
async def test_a_bad_authorization_header_refuses_the_upgrade_with_401(
    base_url: str, headers: list[tuple[str, str]], log_lines: list[dict[str, Any]]
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with ws_client(base_url, None, headers=headers):
            pass
    assert refused.value.response.status_code == 401
    assert refused.value.response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    body = json.loads(refused.value.response.body or b"{}")
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    # Its access line, with the status the handshake was answered with.
    await until(lambda: any(line["message"] == "websocket" for line in log_lines), "the line")
    [line] = [line for line in log_lines if line["message"] == "websocket"]
    assert line["status"] == 401


@pytest.mark.parametrize(
    "payload",
    [{"authToken": "forged"}, {"headers": {"Authorization": "Bearer forged"}}],
    ids=["authToken", "headers"],
)
async def test_connection_init_reads_authorization_and_token_only(
    base_url: str, payload: dict[str, Any]
) -> None:
    # Any other key is not a token the gateway reads (README): the connection is anonymous,
    # and what needs a caller says so.
    async with ws_client(base_url, None, payload=payload) as client:
        await _acked(client)
        assert await _role(client) == {"role": None, "partner": None}


async def test_an_anonymous_socket_spends_its_address_s_bucket_as_http_does(tight: str) -> None:
    ten = {"query": "{ serviceCategories(first: 8) { nodes { name } } }"}
    async with httpx.AsyncClient(base_url=tight, timeout=PATIENCE) as http:
        over_http = (await http.post("/graphql", json=ten)).json()
    assert _outcome(over_http) == (None, 10, 10, CAPACITY - 10)
    async with ws_client(tight, None) as client:
        await _acked(client)
        [over_ws] = await _run(client, "ten", ten)
    assert _outcome(over_ws) == (None, 10, 10, CAPACITY - 20)
