"""Fuzzing the API over its exported schema (hypothesis-graphql): whatever operation a client
writes, valid or not, as any caller, the answer is never a 5xx or a masked INTERNAL error, every
error carries a code, and every userError path names a real argument of its mutation. Around
it, malformed requests of every other kind: raw request paths and headers on any route, and
WebSocket frames on /graphql; the answer is never a 5xx (but a file path's 503 while the browser
build is missing), never an ERROR in the log, and a bad frame closes with a 44xx code.

Examples are drawn up front, a bounded and derandomised number per run (so ``make test`` stays
fast and a failure reproduces), then sent through the app like any client request.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
from collections.abc import AsyncIterator
from datetime import UTC, timedelta
from typing import Any, TypeVar

import httpx
import pytest
from graphql import (
    FieldNode,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLSchema,
    OperationDefinitionNode,
    build_schema,
    get_named_type,
    get_nullable_type,
    parse,
)
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema, nodes
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from datastore import collections as c
from datastore.codec import utc_now
from datastore.ids import new_id, new_token
from datastore.store import DocumentStore
from edge.stream_settings import StreamSettings
from resolvers.identity import Role
from resolvers.offer_dates import day_after, day_start
from resolvers.referrals import REFERRAL_PATH_PREFIX
from schema.contract import exported_sdl
from tests.conftest import (
    SETTINGS,
    GraphQLClient,
    Make,
    token,
    token_of,
)
from tests.live import served

T = TypeVar("T")

EXAMPLES = int(os.environ.get("TSP_FUZZ_EXAMPLES", "40"))
"""Operations drawn per mode; each is sent once per caller (raise it for a deeper local run)."""

SCHEMA: GraphQLSchema = build_schema(exported_sdl())

_TEXT = st.text(max_size=12)
CUSTOM_SCALARS = {
    "Date": st.one_of(st.dates().map(lambda d: d.isoformat()), _TEXT).map(nodes.String),
    "DateTime": st.one_of(
        st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()),
        # Naive moments, and aware ones that leave the calendar once in UTC.
        st.datetimes().map(lambda d: d.isoformat()),
        st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"]),
        _TEXT,
    ).map(nodes.String),
    "Decimal": st.one_of(
        st.decimals(allow_nan=True, allow_infinity=True).map(str),
        st.sampled_from(["NaN", "sNaN", "-Infinity", "1e999999", "-0.00"]),
        _TEXT,
    ).map(nodes.String),
    "JSON": _TEXT.map(nodes.String),
}


def _drawn(strategy: st.SearchStrategy[T]) -> list[T]:
    """A bounded, reproducible sample of ``strategy`` (no shrinking: each failure names its
    example, which is short enough to read)."""
    drawn: list[T] = []

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        deadline=None,
    )
    @given(strategy)
    def collect(example: T) -> None:
        drawn.append(example)

    collect()
    return drawn


def _draw(mode: Mode) -> list[str]:
    return _drawn(from_schema(SCHEMA, custom_scalars=CUSTOM_SCALARS, mode=mode))


def _argument_path_exists(field: GraphQLField, path: list[str]) -> bool:
    """Whether ``path`` walks from one of ``field``'s arguments through input fields and list
    indexes."""
    if not path or path[0] not in field.args:
        return False
    current: GraphQLInputType = field.args[path[0]].type
    for step in path[1:]:
        current = get_nullable_type(current)  # type: ignore[assignment]
        if isinstance(current, GraphQLList):
            if not step.isdigit():
                return False
            current = current.of_type
            continue
        named = get_named_type(current)
        if not isinstance(named, GraphQLInputObjectType) or step not in named.fields:
            return False
        current = named.fields[step].type
    return True


def _check_user_error_paths(operation: str, data: dict[str, Any] | None) -> None:
    document = parse(operation)
    mutation_type = SCHEMA.mutation_type
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode) or mutation_type is None:
            continue
        if definition.operation.value != "mutation":
            continue
        for selection in definition.selection_set.selections:
            if not isinstance(selection, FieldNode):
                continue
            key = (selection.alias or selection.name).value
            payload = (data or {}).get(key)
            if not isinstance(payload, dict):
                continue
            field = mutation_type.fields[selection.name.value]
            for error in payload.get("userErrors") or []:
                path = error.get("field")
                if path is not None:
                    assert _argument_path_exists(field, path), (operation, error)


def _check(operation: str, status: int, body: Any) -> None:
    assert status < 500, (operation, status, body)
    assert isinstance(body, dict), (operation, body)
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        assert code, (operation, error)
        assert code != "INTERNAL", (operation, error)
    _check_user_error_paths(operation, body.get("data"))


@pytest.fixture
async def callers(store: DocumentStore, make: Make) -> dict[str, str | None]:
    """A partner with a live service and an open offer, and a seller, so that generated
    operations meet real documents as well as unknown ids."""
    partner = await make.partner()
    service = await make.service(partner)
    seller = await make.seller()
    now = utc_now()
    await store.insert(
        c.SERVICE_OFFERS,
        {
            "_id": new_id("ofr"),
            "partnerId": partner["_id"],
            "serviceIds": [service["_id"]],
            "startsAt": day_start(now.date()),
            "endsAt": day_after(now.date() + timedelta(days=30)),
            "contact": None,
            "settings": {
                "authorizeObject": "SHOP",
                "ticketAuthorization": True,
                "tspAccess": False,
                "dataCompassAccess": False,
            },
            "linkToken": new_token(),
            "status": "OPEN",
            "createdAt": now,
            "updatedAt": now,
        },
    )
    return {
        "anonymous": None,
        "admin": token(Role.ADMIN),
        "partner": token_of(partner),
        "seller": token_of(seller),
    }


@pytest.mark.parametrize("mode", [Mode.POSITIVE, Mode.NEGATIVE], ids=["valid", "invalid"])
async def test_generated_operations_never_fail_the_server(
    gql: GraphQLClient, callers: dict[str, str | None], mode: Mode
) -> None:
    operations = _draw(mode)
    assert len(operations) == EXAMPLES
    for operation in operations:
        for caller in callers.values():
            response = await gql.post(operation, as_=caller)
            _check(operation, response.status_code, response.json())


def test_the_path_check_refuses_invented_paths() -> None:
    mutation_type = SCHEMA.mutation_type
    assert mutation_type is not None
    withdraw = mutation_type.fields["withdrawServiceOffer"]
    assert _argument_path_exists(withdraw, ["id"])
    assert not _argument_path_exists(withdraw, ["input", "id"])
    create = mutation_type.fields["createRequest"]
    assert _argument_path_exists(create, ["input", "business", "shopMonthlyGmv"])
    assert _argument_path_exists(create, ["input", "partnerIds", "3"])
    assert not _argument_path_exists(create, ["input", "partnerIds", "x"])
    assert not _argument_path_exists(create, ["seller"])


# Raw requests on real sockets to uvicorn, so paths and headers reach the server exactly as
# drawn (an HTTP client would normalise or refuse them first).

_PREFIXES = (
    "/",
    "/graphql",
    "/graphql/",
    "/healthz",
    "/readyz",
    "/metrics",
    "/favicon.ico",
    "/static/graphiql/",
    "/app/assets/",
    "/authorize/",
    "/partner/",
    REFERRAL_PATH_PREFIX,
    "//",
)
_SEGMENT = st.one_of(
    st.sampled_from(
        [
            "",
            ".",
            "..",
            "%2e%2e",
            "%00",
            "%ff",
            "%",
            "%zz",
            "%2F",
            ";x",
            "~",
            "a" * 300,
            "index.html",
            "graphiql.min.js",
            "service",
            "new",
        ]
    ),
    st.text(st.characters(codec="utf-8", exclude_characters="/?# \r\n"), max_size=12),
    st.binary(max_size=6).map(lambda raw: "".join(f"%{byte:02X}" for byte in raw)),
)
_PATHS = st.tuples(
    st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE"]),
    st.builds(
        lambda prefix, segments, query: prefix + "/".join(segments) + query,
        st.sampled_from(_PREFIXES),
        st.lists(_SEGMENT, max_size=4),
        st.one_of(
            st.just(""),
            st.sampled_from(["?", "?query=%7B", "?query={__typename}", "?variables=%5B", "?a&&="]),
            st.text(st.characters(codec="utf-8", exclude_characters="# \r\n"), max_size=16).map(
                lambda text: "?" + text
            ),
        ),
    ),
)
_HEADER_NAMES = st.one_of(
    st.sampled_from(
        [
            "Host",
            "Content-Type",
            "Accept",
            "Authorization",
            "Origin",
            "Cookie",
            "Range",
            "Content-Encoding",
            "Accept-Encoding",
            "X-Request-Id",
            "Traceparent",
            "X-Forwarded-For",
            "If-None-Match",
            "Upgrade",
            "Sec-WebSocket-Protocol",
            "Access-Control-Request-Method",
            "Access-Control-Request-Headers",
        ]
    ),
    st.text(st.sampled_from("abcxyzABC-_!#$%&'*+.^`|~0123456789"), min_size=1, max_size=12),
)
_HEADER_VALUES = st.one_of(
    st.sampled_from(
        [
            "",
            "Bearer",
            "Bearer ",
            "Bearer a.b.c",
            "Basic Og==",
            "*/*",
            "text/event-stream",
            "application/json; charset=latin-1",
            "multipart/form-data; boundary=",
            "gzip",
            "application/graphql-response+json;q=nan",
            "[",
            "null",
            "00-zz-zz-01",
            "bytes=9-1",
            "http://[::1",
            "http://evil.example",
            "a" * 9000,
        ]
    ),
    st.binary(max_size=40).map(
        lambda raw: bytes(b for b in raw if b not in b"\r\n\0").decode("latin-1")
    ),
)
_TARGETS = (
    ("POST", "/graphql", b'{"query": "{ __typename }"}'),
    ("GET", "/graphql?query=%7B__typename%7D", b""),
    ("GET", "/graphql", b""),
    ("OPTIONS", "/graphql", b""),
    ("GET", "/healthz", b""),
    ("GET", "/authorize/abc", b""),
    ("GET", REFERRAL_PATH_PREFIX + "abc", b""),
    ("GET", "/static/graphiql/graphiql.min.js", b""),
    ("GET", "/metrics", b""),
)
_HEADERS = st.tuples(
    st.sampled_from(_TARGETS),
    st.lists(st.tuples(_HEADER_NAMES, _HEADER_VALUES), max_size=5).map(
        lambda pairs: [
            (name, value)
            for name, value in pairs
            if name.lower() not in ("content-length", "transfer-encoding", "connection")
        ]
    ),
)


async def _exchange(base_url: str, request: bytes) -> tuple[int, bytes]:
    """Send ``request`` as is; the status the server answered with, and the whole answer."""
    port = int(base_url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 30)  # Connection: close
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 "), (request[:300], answer[:300])
    return int(answer.split(b" ", 2)[1]), answer


def _check_answer(request: bytes, status: int, answer: bytes) -> None:
    # A page or file of a browser build that is missing answers 503 with how to build it (the
    # page, to a HEAD: its headers).
    head = answer.partition(b"\r\n\r\n")[0].lower()
    unbuilt = status == 503 and b"retry-after: 30" in head and b"text/html" in head
    assert status < 500 or unbuilt, (request[:300], answer[:500])


def _errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.fixture
async def base_url(store: DocumentStore) -> AsyncIterator[str]:
    settings = dataclasses.replace(
        SETTINGS, streams=StreamSettings(poll_seconds=0.05, ping_seconds=0)
    )
    async with served(store, settings) as url:
        yield url


async def test_malformed_paths_never_fail_the_server(
    base_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    drawn = _drawn(_PATHS)
    assert len(drawn) == EXAMPLES
    for method, target in drawn:
        request = (
            f"{method} {target} HTTP/1.1\r\nHost: gateway\r\nContent-Length: 0\r\n"
            "Connection: close\r\n\r\n"
        ).encode()
        status, answer = await _exchange(base_url, request)
        _check_answer(request, status, answer)
    assert _errors_logged(caplog) == []


async def test_malformed_headers_never_fail_the_server(
    base_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    drawn = _drawn(_HEADERS)
    assert len(drawn) == EXAMPLES
    for (method, target, body), headers in drawn:
        names = {name.lower() for name, _ in headers}
        lines = [f"{method} {target} HTTP/1.1"]
        if "host" not in names:
            lines.append("Host: gateway")
        if "content-type" not in names and body:
            lines.append("Content-Type: application/json")
        lines += [f"{name}: {value}" for name, value in headers]
        lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
        request = "\r\n".join(lines).encode("latin-1") + body
        status, answer = await _exchange(base_url, request)
        _check_answer(request, status, answer)
    assert _errors_logged(caplog) == []


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=6,
)
_SUBSCRIPTION = "subscription { events { id type } }"
_MESSAGE = st.one_of(
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(
                ["connection_init", "ping", "pong", "subscribe", "complete", "next", "error"]
            )
            | st.text(max_size=6)
            | _JSON
        },
        optional={
            "id": st.text(max_size=4) | _JSON,
            "payload": st.fixed_dictionaries(
                {},
                optional={
                    "query": st.sampled_from([_SUBSCRIPTION, "{ viewer { role } }", "}{", ""])
                    | _JSON,
                    "variables": _JSON,
                    "operationName": _JSON,
                    "extensions": _JSON,
                },
            )
            | _JSON,
        },
    ).map(json.dumps),
    _JSON.map(json.dumps),
    # Nested past what a decoder can recurse into, and past the body limit.
    st.sampled_from(
        ["[" * 100_000, '{"a":' * 5_000, json.dumps({"type": "ping", "x": "a" * 2**20})]
    ),
    st.text(max_size=30),
    st.binary(max_size=30),
)
_FRAMES = st.tuples(st.booleans(), st.lists(_MESSAGE, min_size=1, max_size=3))


async def _outcome(connection: ClientConnection) -> int | None:
    """Ping after the frames: None when the server answers (the connection carried on), else
    the code it closed with."""
    try:
        await connection.send(json.dumps({"type": "ping"}))
        while True:
            raw = await asyncio.wait_for(connection.recv(), 60)
            if json.loads(raw).get("type") == "pong":
                return None
    except ConnectionClosed:
        await asyncio.wait_for(connection.wait_closed(), 60)
        return connection.close_code


async def test_malformed_websocket_frames_close_with_a_code_and_never_fail_the_server(
    base_url: str, make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    partner = await make.partner()
    url = base_url.replace("http", "ws", 1) + "/graphql"
    drawn = _drawn(_FRAMES)
    assert len(drawn) == EXAMPLES
    for initialised, frames in drawn:
        async with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as connection:
            if initialised:
                bearer = {"Authorization": f"Bearer {token(Role.PARTNER, partner['_id'])}"}
                await connection.send(json.dumps({"type": "connection_init", "payload": bearer}))
                ack = json.loads(await asyncio.wait_for(connection.recv(), 60))
                assert ack["type"] == "connection_ack", ack
            for frame in frames:
                with contextlib.suppress(ConnectionClosed):
                    await connection.send(frame)
            code = await _outcome(connection)
        assert code is None or 4400 <= code < 4500, (initialised, frames, code)
    assert _errors_logged(caplog) == []
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        assert (await http.get("/healthz")).status_code == 200
