"""Transport limits in front of the GraphQL layer: body size and time, request timeout,
admission, gzip, CORS and GraphQL over HTTP, on the whole app in-process."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import httpx
import pytest

from datastore import collections as c
from datastore.sqlite import SQLiteStore
from datastore.store import DocumentStore
from edge.graphql_http import prefers_graphql_response_json
from gateway import create_app
from tests.conftest import SETTINGS, Make
from tests.stores import sqlite_only

QUERY = b'{"query": "{ __typename }"}'

ClientFactory = Callable[..., contextlib.AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def client_with(store: DocumentStore) -> ClientFactory:
    """A client of the app with the given transport settings."""

    @contextlib.asynccontextmanager
    async def open_client(**transport: Any) -> AsyncIterator[httpx.AsyncClient]:
        settings = replace(SETTINGS, transport=replace(SETTINGS.transport, **transport))
        app = create_app(settings, store=store)
        async with app.router.lifespan_context(app):
            asgi = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=asgi, base_url="http://gateway") as client:
                yield client

    return open_client


def padded(size: int) -> bytes:
    """A valid GraphQL request body of exactly ``size`` bytes."""
    body = QUERY[:-1] + b" " * (size - len(QUERY)) + b"}"
    assert len(body) == size
    return body


def post(client: httpx.AsyncClient, content: Any, **headers: str) -> Any:
    return client.post(
        "/graphql", content=content, headers={"Content-Type": "application/json", **headers}
    )


class Gate:
    """A request body that sends its first bytes, then waits until released."""

    def __init__(self) -> None:
        self.released = asyncio.Event()
        self.started = asyncio.Event()

    async def body(self) -> AsyncIterator[bytes]:
        yield QUERY[:10]
        self.started.set()
        await self.released.wait()
        yield QUERY[10:]


# --- body size ---------------------------------------------------------------------------


@pytest.mark.parametrize(("size", "status"), [(999, 200), (1000, 200), (1001, 413)])
async def test_body_limit_at_under_and_over(
    client_with: ClientFactory, size: int, status: int
) -> None:
    async with client_with(max_body_bytes=1000) as client:
        response = await post(client, padded(size))
    assert response.status_code == status, response.text
    if status == 413:
        error = response.json()["errors"][0]
        assert error["extensions"] == {"code": "PAYLOAD_TOO_LARGE", "maximum": 1000}
        assert "TSP_MAX_BODY_BYTES" in error["message"]
        assert response.headers["connection"] == "close"
    else:
        assert response.json()["data"] == {"__typename": "Query"}


async def test_declared_length_over_the_limit_is_refused_before_reading(
    client_with: ClientFactory,
) -> None:
    read = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal read
        while True:
            read += 1
            yield b" " * 1024

    async with client_with(max_body_bytes=1000) as client:
        response = await post(client, endless(), **{"Content-Length": "1001"})
    assert response.status_code == 413
    assert read == 0  # not one chunk of the body was pulled


@pytest.mark.parametrize("declared", ["10", "1000"])
async def test_a_lying_content_length_is_cut_off_by_counting(
    client_with: ClientFactory, declared: str
) -> None:
    chunks_read = 0

    async def big() -> AsyncIterator[bytes]:
        nonlocal chunks_read
        for _ in range(2048):  # 2 MiB if it were read whole
            chunks_read += 1
            yield b" " * 1024

    async with client_with(max_body_bytes=1000) as client:
        response = await post(client, big(), **{"Content-Length": declared})
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert chunks_read <= 2  # stopped at the first chunk past the limit


async def test_a_chunked_body_over_the_limit_is_cut_off(client_with: ClientFactory) -> None:
    async def chunked() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b" " * 100

    async with client_with(max_body_bytes=5000) as client:
        response = await post(client, chunked())
        small = await post(client, padded(4000))
    assert response.status_code == 413
    assert small.status_code == 200


async def test_default_body_limit_is_one_mebibyte(client_with: ClientFactory) -> None:
    async with client_with() as client:
        at = await post(client, padded(1024 * 1024))
        over = await post(client, padded(1024 * 1024 + 1))
    assert at.status_code == 200
    assert over.status_code == 413


# --- time ----------------------------------------------------------------------------------


async def test_a_stalled_body_is_cut_off_with_408(client_with: ClientFactory) -> None:
    gate = Gate()
    async with client_with(body_timeout_seconds=0.2, request_timeout_seconds=60) as client:
        response = await post(client, gate.body())
        gate.released.set()
        prompt = await post(client, QUERY)
    assert response.status_code == 408
    error = response.json()["errors"][0]
    assert error["extensions"] == {"code": "BODY_TIMEOUT", "timeoutSeconds": 0.2}
    assert "stalled" in error["message"]
    assert "TSP_BODY_TIMEOUT_SECONDS" in error["message"]
    assert prompt.status_code == 200


async def test_a_request_running_past_the_timeout_is_cancelled_with_timeout_error(
    client_with: ClientFactory,
) -> None:
    gate = Gate()
    async with client_with(body_timeout_seconds=60, request_timeout_seconds=0.3) as client:
        response = await post(client, gate.body())
        gate.released.set()
    assert response.status_code == 504
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "errors": [
            {
                "message": "The request took longer than 0.3 s (TSP_REQUEST_TIMEOUT_SECONDS) "
                "and was cancelled",
                "extensions": {"code": "TIMEOUT", "timeoutSeconds": 0.3},
            }
        ]
    }


async def test_requests_within_the_timeout_are_answered(client_with: ClientFactory) -> None:
    async with client_with(request_timeout_seconds=30) as client:
        responses = [await post(client, QUERY) for _ in range(5)]
    assert [r.status_code for r in responses] == [200] * 5


# --- admission -----------------------------------------------------------------------------


async def test_admission_under_at_and_over_the_in_flight_limit(
    client_with: ClientFactory,
) -> None:
    async with client_with(max_in_flight=2) as client:
        first = Gate()
        held = asyncio.create_task(post(client, first.body()))
        await first.started.wait()
        # One in flight, limit 2: the next one is admitted.
        assert (await post(client, QUERY)).status_code == 200

        second = Gate()
        also_held = asyncio.create_task(post(client, second.body()))
        await second.started.wait()
        # Two in flight, at the limit: refused at once, health and metrics still answer.
        refused = await post(client, QUERY)
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/readyz")).status_code == 200
        assert (await client.get("/metrics")).status_code == 200

        first.released.set()
        second.released.set()
        assert [(await t).status_code for t in (held, also_held)] == [200, 200]
        after = await post(client, QUERY)
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "1"
    assert refused.json()["errors"][0]["extensions"] == {"code": "OVERLOADED", "maximum": 2}
    assert after.status_code == 200


# --- gzip, CORS, GraphQL over HTTP -------------------------------------------------------------

CATEGORIES = "{ serviceCategories(first: 50) { edges { node { id name } } } }"


async def test_gzip_over_one_kibibyte_when_accepted(http: httpx.AsyncClient) -> None:
    big = await http.post(
        "/graphql", json={"query": CATEGORIES}, headers={"Accept-Encoding": "gzip"}
    )
    assert big.headers["content-encoding"] == "gzip"
    assert len(big.content) > 1024  # httpx decoded it
    plain = await http.post(
        "/graphql", json={"query": CATEGORIES}, headers={"Accept-Encoding": "identity"}
    )
    assert "content-encoding" not in plain.headers
    assert plain.json() == big.json()
    small = await http.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"Accept-Encoding": "gzip"}
    )
    assert "content-encoding" not in small.headers


@pytest.mark.parametrize("accept_encoding", ["gzip;q=0", "identity, gzip;q=0", "br, GZIP;Q=0"])
async def test_no_gzip_for_a_client_that_refuses_it(
    http: httpx.AsyncClient, accept_encoding: str
) -> None:
    # q=0 is "not acceptable" (RFC 9110 12.5.3), not a preference for it.
    response = await http.post(
        "/graphql", json={"query": CATEGORIES}, headers={"Accept-Encoding": accept_encoding}
    )
    assert "content-encoding" not in response.headers
    assert len(response.content) > 1024
    assert response.json()["data"]["serviceCategories"]["edges"]


@pytest.mark.parametrize("accept_encoding", ["gzip;q=0.5", "deflate, GZip"])
async def test_gzip_for_a_client_that_accepts_it_in_any_spelling(
    http: httpx.AsyncClient, accept_encoding: str
) -> None:
    response = await http.post(
        "/graphql", json={"query": CATEGORIES}, headers={"Accept-Encoding": accept_encoding}
    )
    assert response.headers["content-encoding"] == "gzip"


async def test_gzip_body_really_is_gzip(http: httpx.AsyncClient) -> None:
    async with http.stream(
        "POST", "/graphql", json={"query": CATEGORIES}, headers={"Accept-Encoding": "gzip"}
    ) as response:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
    assert json.loads(gzip.decompress(raw))["data"]["serviceCategories"]["edges"]


DEV_ORIGIN = "http://localhost:5173"


async def test_cors_preflight_for_an_allowed_origin(client_with: ClientFactory) -> None:
    async with client_with(cors_origins=(DEV_ORIGIN,)) as client:
        preflight = await client.options(
            "/graphql",
            headers={
                "Origin": DEV_ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        simple = await client.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"Origin": DEV_ORIGIN}
        )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == DEV_ORIGIN
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in preflight.headers
    assert simple.headers["access-control-allow-origin"] == DEV_ORIGIN
    assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()


@pytest.mark.parametrize("origins", [(), (DEV_ORIGIN,)])
async def test_cors_refuses_origins_not_listed(
    client_with: ClientFactory, origins: tuple[str, ...]
) -> None:
    async with client_with(cors_origins=origins) as client:
        preflight = await client.options(
            "/graphql",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        simple = await client.post(
            "/graphql",
            json={"query": "{ __typename }"},
            headers={"Origin": "https://evil.example"},
        )
    assert preflight.status_code == 400  # answered, not 405, and without permission
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in simple.headers


SPEC = "application/graphql-response+json"


async def test_graphql_response_json_is_honoured(http: httpx.AsyncClient) -> None:
    ok = await http.post("/graphql", json={"query": "{ __typename }"}, headers={"Accept": SPEC})
    assert ok.status_code == 200
    assert ok.headers["content-type"] == SPEC
    assert ok.json()["data"] == {"__typename": "Query"}

    invalid = await http.post("/graphql", json={"query": "{ nope }"}, headers={"Accept": SPEC})
    assert invalid.status_code == 400  # a request error: no data, not a 200
    assert invalid.headers["content-type"] == SPEC
    assert "data" not in invalid.json()
    assert "nope" in invalid.json()["errors"][0]["message"]

    # Without the header: application/json and 200 for every GraphQL result (a request error
    # has no data entry under either).
    legacy = await http.post("/graphql", json={"query": "{ nope }"})
    assert legacy.status_code == 200
    assert legacy.headers["content-type"] == "application/json"
    assert "data" not in legacy.json()


async def test_media_types_are_read_whatever_their_case(http: httpx.AsyncClient) -> None:
    # RFC 9110 8.3.1: type, subtype and parameter names are case-insensitive.
    response = await http.post(
        "/graphql",
        content=QUERY,
        headers={
            "Content-Type": "Application/JSON; Charset=UTF-8",
            "Accept": "Application/GraphQL-Response+JSON",
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == SPEC
    assert response.json()["data"] == {"__typename": "Query"}


async def test_a_body_in_a_content_coding_is_refused_415_naming_what_is_accepted(
    http: httpx.AsyncClient,
) -> None:
    coded = await http.post(
        "/graphql",
        content=gzip.compress(QUERY),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert coded.status_code == 415, coded.text
    [error] = coded.json()["errors"]
    assert error["extensions"]["code"] == "UNSUPPORTED_CONTENT_ENCODING"
    # RFC 9110 15.5.16: the codings that would have been accepted.
    assert coded.headers["accept-encoding"] == "identity"
    plain = await http.post(
        "/graphql",
        content=QUERY,
        headers={"Content-Type": "application/json", "Content-Encoding": "Identity"},
    )
    assert plain.json()["data"] == {"__typename": "Query"}


@pytest.mark.parametrize(
    "accept", ["application/json;q=0", "text/html", "application/xml, text/plain;q=0.5"]
)
async def test_a_client_accepting_no_answer_the_endpoint_gives_is_refused_406(
    http: httpx.AsyncClient, accept: str
) -> None:
    # GraphQL over HTTP: the server MUST respect Accept (and SHOULD answer 406).
    for response in (
        await http.get("/graphql", params={"query": "{ __typename }"}, headers={"Accept": accept}),
        await http.post("/graphql", json={"query": "{ __typename }"}, headers={"Accept": accept}),
    ):
        assert response.status_code == 406, response.text
        assert response.headers["content-type"] == "application/json"
        [error] = response.json()["errors"]
        assert error["extensions"]["code"] == "NOT_ACCEPTABLE"


@pytest.mark.parametrize("accept", [None, "", "*/*", "application/*", "text/html, */*;q=0.8"])
async def test_no_accept_or_any_type_gets_application_json(
    http: httpx.AsyncClient, accept: str | None
) -> None:
    headers = {} if accept is None else {"Accept": accept}
    request = http.build_request("GET", "/graphql", params={"query": "{ __typename }"})
    if accept is None:
        del request.headers["accept"]
    request.headers.update(headers)
    response = await http.send(request)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["data"] == {"__typename": "Query"}


async def test_head_answers_the_get_s_headers_without_its_body(http: httpx.AsyncClient) -> None:
    # RFC 9110 9.3.2: GET and HEAD go together.
    params = {"query": CATEGORIES}
    get = await http.get("/graphql", params=params, headers={"Accept-Encoding": "identity"})
    head = await http.head("/graphql", params=params, headers={"Accept-Encoding": "identity"})
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.headers["content-length"] == get.headers["content-length"]
    mutation = await http.head("/graphql", params={"query": "mutation { __typename }"})
    assert mutation.status_code == 405
    assert mutation.headers["allow"] == "GET, HEAD, POST"


@pytest.mark.parametrize(
    ("method", "request_"),
    [
        ("GET", {"params": {"query": "{ __typename }"}}),
        ("POST", {"json": {"query": "{ __typename }"}}),
        ("POST", {"json": {"query": "{ nope }"}}),
        ("POST", {"content": b"{", "headers": {"Content-Type": "application/json"}}),
        ("GET", {}),
    ],
)
async def test_every_answer_of_the_endpoint_varies_by_accept(
    http: httpx.AsyncClient, method: str, request_: dict[str, Any]
) -> None:
    # Its media type, status and streaming depend on Accept: a cache must key on it.
    response = await http.request(method, "/graphql", **request_)
    assert "accept" in [v.strip().lower() for v in response.headers["vary"].split(",")]


async def test_a_refusal_honours_the_accepted_media_type(client_with: ClientFactory) -> None:
    async with client_with(max_body_bytes=10) as client:
        response = await post(client, QUERY, Accept=SPEC)
    assert response.status_code == 413
    assert response.headers["content-type"] == SPEC


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"{not json", "INVALID_BODY"),
        (b'{"query": "{ __typename }", "n": ' + b"1" * 5000 + b"}", "INVALID_BODY"),
        (b'{"variables": {}}', "MISSING_QUERY"),
    ],
    ids=["not-json", "too-many-digits", "no-query"],
)
async def test_http_errors_of_the_graphql_view_are_graphql_errors(
    http: httpx.AsyncClient, content: bytes, code: str
) -> None:
    response = await post(http, content)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json()["errors"][0]["extensions"]["code"] == code


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (SPEC, True),
        (f"{SPEC}, application/json;q=0.9", True),
        (f"application/json, {SPEC}", True),
        (f"application/json, {SPEC};q=0.5", False),
        ("application/json", False),
        ("*/*", False),
        ("", False),
        (f"{SPEC};q=0", False),
        (f"{SPEC};q=bogus", False),
    ],
)
def test_accept_header_ranking(accept: str, expected: bool) -> None:
    assert prefers_graphql_response_json(accept) is expected


async def test_a_method_the_endpoint_does_not_serve_gets_a_graphql_error(
    http: httpx.AsyncClient,
) -> None:
    response = await http.put("/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 405
    assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"


@sqlite_only
async def test_a_mutation_stuck_behind_another_writer_times_out_and_writes_nothing(
    client_with: ClientFactory, store: DocumentStore, make: Make, admin: str
) -> None:
    assert isinstance(store, SQLiteStore)
    partner = await make.partner()
    close = {
        "query": "mutation($i: ClosePartnerInput!) { closePartner(input: $i) "
        "{ partner { status } userErrors { code } } }",
        "variables": {"i": {"id": partner["_id"], "reason": "Policy"}},
    }
    headers = {"Authorization": f"Bearer {admin}"}
    # Another process holds SQLite's write lock until after the request timeout has fired.
    other = sqlite3.connect(store.path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    release = threading.Timer(1.0, other.execute, ("COMMIT",))
    async with client_with(request_timeout_seconds=0.3) as client:
        release.start()
        timed_out = await client.post("/graphql", json=close, headers=headers)
        await asyncio.to_thread(release.join)
        other.close()
        unchanged = await store.get_many(c.PARTNERS, [partner["_id"]])
        retried = await client.post("/graphql", json=close, headers=headers)
    assert timed_out.status_code == 504
    assert timed_out.json()["errors"][0]["extensions"]["code"] == "TIMEOUT"
    assert unchanged[partner["_id"]]["status"] == "ACTIVE"
    assert retried.json()["data"]["closePartner"] == {
        "partner": {"status": "CLOSED"},
        "userErrors": [],
    }
