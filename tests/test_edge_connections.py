"""Slow and streaming clients on a real server (``tsp-gateway serve``, and the app under uvicorn's
h11 parser): request headers have a deadline, one address holds a bounded number of connections
(a WebSocket for as long as it is open), a stream and each operation on a WebSocket count
against the in-flight limit, and only a client that prefers a stream gets one for a query (a
streamed query keeping the request timeout), any client accepting one for a subscription."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import struct
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from websockets.exceptions import InvalidStatus

from datastore.store import DocumentStore
from edge.connections import WAITING_REFUSALS_PER_CLIENT, GuardedHTTPProtocol
from gateway import create_app
from resolvers.identity import Role, issue_token
from tests.conftest import SETTINGS, token
from tests.live import uvicorn_serving, ws_client
from tests.polling import until
from tests.servers import SECRET, Gateway, read_response, running_gateway

HEADER_TIMEOUT = "0.5"
PER_CLIENT = 4
MAX_HEADER_BYTES = 4096
MAX_HEADERS = 30
ORIGIN = "http://localhost:5173"
SLOW_CLIENTS = {
    "TSP_HEADER_TIMEOUT_SECONDS": HEADER_TIMEOUT,
    "TSP_MAX_CONNECTIONS_PER_CLIENT": str(PER_CLIENT),
    "TSP_MAX_HEADER_BYTES": str(MAX_HEADER_BYTES),
    "TSP_MAX_HEADERS": str(MAX_HEADERS),
    "TSP_CORS_ORIGINS": ORIGIN,
    # The request timeout is short and the body timeout long: a request stalled in its body
    # meets the request timeout first, unless something exempts it.
    "TSP_REQUEST_TIMEOUT_SECONDS": "0.5",
    "TSP_BODY_TIMEOUT_SECONDS": "30",
}
URQL_ACCEPT = "application/graphql-response+json, application/json, text/event-stream"
HALF_SENT = b"POST /graphql HTTP/1.1\r\nHost: gw\r\nContent-Type: app"
HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n"


@pytest.fixture(scope="module", params=["serve", "h11"])
def gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """Served with short header and request timeouts, for the tests of those."""
    with _served(request.param, tmp_path_factory, SLOW_CLIENTS) as served:
        yield served


@pytest.fixture(scope="module", params=["serve", "h11"])
def patient_gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """Served with the suite's generous timeouts: a query on a busy machine may take longer
    than the short ones, and the tests using this one are not about them."""
    with _served(request.param, tmp_path_factory, {}) as served:
        yield served


@contextlib.contextmanager
def _served(
    server: str, tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]
) -> Iterator[Gateway]:
    http = "edge.connections_h11:GuardedH11Protocol" if server == "h11" else None
    workdir = tmp_path_factory.mktemp(f"{'slow' if env else 'patient'}-{server}")
    with running_gateway(workdir, env=env, http=http) as served:
        yield served


def connect(gateway: Gateway, source: str = "127.0.0.1") -> socket.socket:
    """A connection from ``source`` (any 127.x.y.z address is this machine), generous timeout."""
    return socket.create_connection(
        ("127.0.0.1", gateway.port), timeout=30, source_address=(source, 0)
    )


def read_until_closed(sock: socket.socket) -> bytes:
    received = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            received += chunk
    return received


def error_of(answer: bytes) -> dict[str, object]:
    body = json.loads(answer.partition(b"\r\n\r\n")[2])
    error: dict[str, object] = body["errors"][0]
    return error


def headers_of(answer: bytes) -> dict[str, str]:
    """The header fields of a response (names in lower case)."""
    lines = answer.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")[1:]
    return {name.lower(): value.strip() for name, _, value in (n.partition(":") for n in lines)}


# Where the refused request said it came from and which id it goes by: a browser's page reads
# the refusal only with CORS headers, and logs are found by the id.
FROM_THE_APP = f"Origin: {ORIGIN}\r\nX-Request-ID: refused-early\r\n".encode()


def assert_answered_like_any_request(answer: bytes) -> None:
    """The refusal carries what every answer of the gateway does: CORS for an allowed origin and
    the request id the client sent; and it closes the connection."""
    headers = headers_of(answer)
    assert headers["access-control-allow-origin"] == ORIGIN, answer
    assert "x-request-id" in headers["access-control-expose-headers"].lower()
    assert headers["x-request-id"] == "refused-early"
    assert headers["connection"] == "close"


def sent_in_pieces(gateway: Gateway, pieces: list[bytes]) -> bytes:
    """The server's answer to a request sent piece by piece (a piece the server no longer reads,
    having answered, is not sent)."""
    with connect(gateway) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for piece in pieces:  # bounded
                sock.sendall(piece)
        return read_until_closed(sock)


# --- headers ---------------------------------------------------------------------------------


def test_half_sent_headers_are_answered_408_and_closed(gateway: Gateway) -> None:
    with connect(gateway) as sock:
        sock.sendall(HALF_SENT)
        answer = read_until_closed(sock)  # bounded by the socket's 30 s timeout
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert error_of(answer)["extensions"] == {"code": "HEADER_TIMEOUT", "timeoutSeconds": 0.5}
    assert "x-request-id" in headers_of(answer)


def test_late_headers_are_answered_with_cors_and_their_request_id(gateway: Gateway) -> None:
    with connect(gateway) as sock:
        sock.sendall(b"POST /graphql HTTP/1.1\r\nHost: gw\r\n" + FROM_THE_APP + b"Content-Ty")
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert_answered_like_any_request(answer)


def test_headers_trickling_in_byte_by_byte_are_cut_off(gateway: Gateway) -> None:
    # Each byte would reset an idle timer; the deadline holds for the whole of the headers.
    line = b"X-Slow: " + b"a" * 400
    sent = 0
    with connect(gateway) as sock:
        sock.sendall(HALF_SENT + b"\r\n")
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for byte in line:  # bounded: 400 bytes, 0.05 s apart
                sock.sendall(bytes([byte]))
                sent += 1
                time.sleep(0.05)
        answer = read_until_closed(sock)
    assert sent < len(line)
    assert answer.startswith(b"HTTP/1.1 408 ")


def test_the_next_request_on_a_kept_alive_connection_has_the_deadline_too(
    gateway: Gateway,
) -> None:
    with connect(gateway) as sock:
        sock.sendall(HEALTHZ)
        assert read_response(sock).startswith(b"HTTP/1.1 200 ")
        time.sleep(1)  # idle past the header timeout: keep-alive keeps the connection
        sock.sendall(HEALTHZ)
        assert read_response(sock).startswith(b"HTTP/1.1 200 ")
        sock.sendall(HALF_SENT)
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408 ")


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /graphql HTTP/1.1\r\nHost: gw\r\nContent-Length: -1\r\n\r\n",
        b"POST /graphql HTTP/1.1\r\nHost: gw\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        b"GET /graphql HTTP/1.1\r\nHost : gw\r\n\r\n",
    ],
    ids=["negative-length", "two-lengths", "space-before-colon"],
)
def test_bytes_that_are_not_http_are_a_400_with_a_code(
    gateway: Gateway, request_bytes: bytes
) -> None:
    with connect(gateway) as sock:
        sock.sendall(request_bytes)
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 400 "), answer
    assert b"content-type: application/json" in answer
    assert error_of(answer)["extensions"] == {"code": "MALFORMED_REQUEST"}
    # Its own id, as every answer has (none was sent).
    assert re.fullmatch("[0-9a-f]{32}", headers_of(answer)["x-request-id"])


def test_a_head_larger_than_its_bound_is_answered_431_as_it_arrives(gateway: Gateway) -> None:
    # One endless field: the parser would hold it whole, whatever its size, until the header
    # timeout. It is cut off once the head passes its bound, not at the deadline.
    start = b"GET /graphql?query=%7B__typename%7D HTTP/1.1\r\nHost: gw\r\n" + FROM_THE_APP
    answer = sent_in_pieces(gateway, [start + b"X-Big: ", *[b"a" * 1024] * 64])
    assert answer.startswith(b"HTTP/1.1 431 "), answer
    assert error_of(answer)["extensions"] == {
        "code": "HEADERS_TOO_LARGE",
        "maximum": MAX_HEADER_BYTES,
    }
    assert_answered_like_any_request(answer)


def test_a_head_of_too_many_fields_is_answered_431(gateway: Gateway) -> None:
    fields = b"".join(b"X-Field-%d: a\r\n" % n for n in range(MAX_HEADERS))
    head = b"GET /healthz HTTP/1.1\r\nHost: gw\r\n" + FROM_THE_APP + fields + b"\r\n"
    assert len(head) < MAX_HEADER_BYTES
    answer = sent_in_pieces(gateway, [head])
    assert answer.startswith(b"HTTP/1.1 431 "), answer
    assert error_of(answer)["extensions"] == {"code": "TOO_MANY_HEADERS", "maximum": MAX_HEADERS}
    assert_answered_like_any_request(answer)


def test_a_target_longer_than_the_bound_is_answered_414(gateway: Gateway) -> None:
    start = b"GET /graphql?query=%7B__typename%7D&padding="
    answer = sent_in_pieces(gateway, [start, *[b"a" * 1024] * 64])
    assert answer.startswith(b"HTTP/1.1 414 "), answer
    assert error_of(answer)["extensions"] == {"code": "URI_TOO_LONG", "maximum": MAX_HEADER_BYTES}
    assert "x-request-id" in headers_of(answer)


def test_a_head_within_its_bounds_is_served(gateway: Gateway) -> None:
    # All the fields it may have, near the bytes it may have.
    fields = [b"Host: gw", b"Connection: close"]
    fields += [b"X-Field-%d: " % n for n in range(MAX_HEADERS - len(fields))]
    padding = MAX_HEADER_BYTES - 200 - sum(len(field) + 2 for field in fields)
    fields[-1] += b"a" * padding
    head = b"GET /healthz?padding=" + b"b" * 100 + b" HTTP/1.1\r\n"
    head += b"".join(field + b"\r\n" for field in fields) + b"\r\n"
    assert MAX_HEADER_BYTES - 100 < len(head) < MAX_HEADER_BYTES
    answer = sent_in_pieces(gateway, [head[:1000], head[1000:]])
    assert answer.startswith(b"HTTP/1.1 200 "), answer


def test_a_connection_that_sends_nothing_is_closed(gateway: Gateway) -> None:
    with connect(gateway) as sock:
        assert read_until_closed(sock) == b""


# --- connections per address -------------------------------------------------------------------


def test_an_address_over_its_connection_limit_is_refused_and_others_carry_on(
    gateway: Gateway,
) -> None:
    with contextlib.ExitStack() as opened:
        held = [opened.enter_context(connect(gateway, "127.0.0.2")) for _ in range(PER_CLIENT)]
        for sock in held:  # each really is open (kept alive after one request)
            sock.sendall(HEALTHZ)
            assert read_response(sock).startswith(b"HTTP/1.1 200 ")
        with connect(gateway, "127.0.0.2") as extra:
            refused = read_until_closed(extra)
        assert refused.startswith(b"HTTP/1.1 429 ")
        assert b"\r\nretry-after: 1\r\n" in refused.partition(b"\r\n\r\n")[0].lower()
        assert error_of(refused)["extensions"] == {
            "code": "TOO_MANY_CONNECTIONS",
            "maximum": PER_CLIENT,
        }
        # The address's open connections still work, and so does another address.
        held[0].sendall(HEALTHZ)
        assert read_response(held[0]).startswith(b"HTTP/1.1 200 ")
        with connect(gateway, "127.0.0.3") as other:
            other.sendall(HEALTHZ)
            assert read_response(other).startswith(b"HTTP/1.1 200 ")
        held.pop().close()
        # A closed connection frees its place once the server has seen it go.
        for _ in range(100):  # bounded
            with connect(gateway, "127.0.0.2") as again:
                again.sendall(HEALTHZ)
                answer = read_response(again)
            if answer.startswith(b"HTTP/1.1 200 "):
                break
            time.sleep(0.05)
        assert answer.startswith(b"HTTP/1.1 200 ")


def test_a_connection_over_the_limit_is_refused_with_cors_and_its_request_id(
    gateway: Gateway,
) -> None:
    with contextlib.ExitStack() as opened:
        held = [opened.enter_context(connect(gateway, "127.0.0.10")) for _ in range(PER_CLIENT)]
        for sock in held:
            sock.sendall(HEALTHZ)
            assert read_response(sock).startswith(b"HTTP/1.1 200 ")
        with connect(gateway, "127.0.0.10") as extra:
            extra.sendall(b"GET /graphql HTTP/1.1\r\nHost: gw\r\n" + FROM_THE_APP + b"\r\n")
            refused = read_until_closed(extra)
    assert refused.startswith(b"HTTP/1.1 429 "), refused
    assert headers_of(refused)["retry-after"] == "1"
    assert error_of(refused)["extensions"] == {
        "code": "TOO_MANY_CONNECTIONS",
        "maximum": PER_CLIENT,
    }
    assert_answered_like_any_request(refused)


def test_refusals_waiting_for_their_heads_are_bounded_per_address(tmp_path: Path) -> None:
    """A connection over the limit is answered once its head arrives (so with CORS headers),
    but only so many may wait per address: past them one is refused before it is read."""
    env = {"TSP_MAX_CONNECTIONS_PER_CLIENT": "1", "TSP_CORS_ORIGINS": ORIGIN}
    source = "127.0.0.11"
    with running_gateway(tmp_path, env=env) as served, contextlib.ExitStack() as opened:
        held = opened.enter_context(connect(served, source))
        held.sendall(HEALTHZ)
        assert read_response(held).startswith(b"HTTP/1.1 200 ")
        # Waiting: each is answered when its head arrives, or at the (long) header deadline.
        for _ in range(WAITING_REFUSALS_PER_CLIENT):
            opened.enter_context(connect(served, source))
        # The server counts them as it accepts them; until it has, one more would wait too.
        _poll(
            lambda: _gauge(served, "tsp_http_connections_open") >= 2 + WAITING_REFUSALS_PER_CLIENT
        )
        with connect(served, source) as extra:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                extra.sendall(b"GET /graphql HTTP/1.1\r\nHost: gw\r\n" + FROM_THE_APP + b"\r\n")
            refused = read_until_closed(extra)
    assert refused.startswith(b"HTTP/1.1 429 "), refused
    headers = headers_of(refused)
    assert "access-control-allow-origin" not in headers  # nothing of its request was read
    assert re.fullmatch("[0-9a-f]{32}", headers["x-request-id"])


# --- streams and the request timeout ---------------------------------------------------------


def stalled_body(gateway: Gateway, accept: str) -> bytes:
    """A query whose body stops after 9 of its 100 bytes: the server's answer when it gives
    up."""
    with connect(gateway) as sock:
        sock.sendall(
            b"POST /graphql HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
            + f"Accept: {accept}\r\n".encode()
            + b'Content-Length: 100\r\n\r\n{"query":'
        )
        return read_response(sock)


@pytest.mark.parametrize("accept", [URQL_ACCEPT, "text/event-stream"])
def test_a_query_keeps_the_request_timeout_whatever_it_accepts(
    gateway: Gateway, accept: str
) -> None:
    answer = stalled_body(gateway, accept)
    assert answer.startswith(b"HTTP/1.1 504 ")
    assert error_of(answer)["extensions"] == {"code": "TIMEOUT", "timeoutSeconds": 0.5}


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        (URQL_ACCEPT, "application/graphql-response+json"),
        ("application/json, text/event-stream", "application/json"),
        ("text/event-stream;q=0.5, application/json", "application/json"),
        ("*/*", "application/json"),
        ("text/event-stream", "text/event-stream"),
        ("text/event-stream, application/json", "text/event-stream"),
        ("application/json;q=0.5, text/event-stream", "text/event-stream"),
        # A stream is the one answer it takes.
        ("text/*", "text/event-stream"),
    ],
)
def test_a_query_streams_only_when_the_client_prefers_a_stream(
    patient_gateway: Gateway, accept: str, content_type: str
) -> None:
    response = httpx.post(
        f"{patient_gateway.url}/graphql",
        json={"query": "{ __typename }"},
        headers={"Accept": accept},
        timeout=30,
    )
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == content_type
    if content_type != "text/event-stream":
        assert response.json()["data"] == {"__typename": "Query"}


@pytest.mark.parametrize(
    "accept",
    [
        URQL_ACCEPT,
        # What urql 6 sends for a query: a stream listed among JSON types, and after them.
        "application/graphql-response+json, application/graphql+json, application/json, "
        "text/event-stream, multipart/mixed",
        "application/json, text/event-stream",
        "text/event-stream;q=0.5, application/json",
        # A client that takes anything (curl's default) takes a stream, the one answer a
        # subscription has.
        "*/*",
        "text/*, application/json",
    ],
)
def test_a_subscription_streams_to_a_client_that_accepts_a_stream_at_all(
    patient_gateway: Gateway, accept: str
) -> None:
    headers = {"Accept": accept, "Authorization": f"Bearer {_admin()}"}
    body = {"query": "subscription { events { id } }"}
    with (
        httpx.Client(base_url=patient_gateway.url, timeout=30) as client,
        client.stream("POST", "/graphql", json=body, headers=headers) as stream,
    ):
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")


@pytest.mark.parametrize(
    "accept",
    [
        "application/json",
        "application/graphql-response+json, application/json",
        # Refused by name, however broad the rest.
        "text/event-stream;q=0, */*",
    ],
)
def test_a_subscription_that_would_be_answered_in_json_is_refused_with_a_code(
    patient_gateway: Gateway, accept: str
) -> None:
    response = httpx.post(
        f"{patient_gateway.url}/graphql",
        json={"query": "subscription { events { id } }"},
        headers={"Accept": accept, "Authorization": f"Bearer {_admin()}"},
        timeout=30,
    )
    assert response.status_code == 406
    assert response.json()["errors"][0]["extensions"]["code"] == "SUBSCRIPTION_NEEDS_STREAM"


def _admin() -> str:
    return issue_token(SECRET, Role.ADMIN, "admin", timedelta(hours=1))


# Long enough for a loaded machine to start the subscription within it (the test then sleeps
# past it, so it costs this much time).
TIMEOUT = 5


def _stream_once_admitted(
    client: httpx.Client, body: dict[str, Any], headers: dict[str, str]
) -> httpx.Response:
    """The stream's response, opened once the previous request's place is free: the server
    frees it just after answering, so a request sent at once may still find it taken."""
    for _ in range(100):  # bounded
        request = client.build_request("POST", "/graphql", json=body, headers=headers)
        response = client.send(request, stream=True)
        if response.status_code != 503:
            return response
        response.close()
        time.sleep(0.05)
    return response


@pytest.mark.parametrize("accept", ["text/event-stream", URQL_ACCEPT])
def test_a_stream_counts_against_the_in_flight_limit_and_outlives_the_timeout(
    tmp_path: Path, accept: str
) -> None:
    # The timeout bounds a subscription until it starts (authentication, parsing,
    # validation): generous here, after a first request has loaded what a token needs.
    env = {"TSP_MAX_IN_FLIGHT": "1", "TSP_REQUEST_TIMEOUT_SECONDS": str(TIMEOUT)}
    body = {"query": "subscription { events { id } }"}
    headers = {"Accept": accept, "Authorization": f"Bearer {_admin()}"}
    with (
        running_gateway(tmp_path, env=env) as served,
        httpx.Client(base_url=served.url, timeout=30) as client,
    ):
        warm = {"query": "{ viewer { role } }"}
        assert client.post("/graphql", json=warm, headers=headers).status_code == 200
        stream = _stream_once_admitted(client, body, headers)
        try:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            refused = client.post("/graphql", json={"query": "{ __typename }"})
            assert client.get("/healthz").status_code == 200
            time.sleep(TIMEOUT + 1)  # past the request timeout: a subscription is not cut off
            still = client.post("/graphql", json={"query": "{ __typename }"})
        finally:
            stream.close()
        assert refused.status_code == 503
        assert refused.json()["errors"][0]["extensions"]["code"] == "OVERLOADED"
        assert still.status_code == 503
        # The stream ended: its place is free again once the server saw it go.
        for _ in range(100):  # bounded
            after = client.post("/graphql", json={"query": "{ __typename }"})
            if after.status_code == 200:
                break
            time.sleep(0.05)
        assert after.status_code == 200


# --- WebSockets: connections per address and the in-flight limit ----------------------------

UPGRADE = (
    b"GET /graphql HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    b"Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
)
# Client frames are masked; a zero mask leaves the payload as it is.
CLOSE_FRAME = b"\x88\x80\x00\x00\x00\x00"
NOT_JSON_FRAME = b"\x81\x81\x00\x00\x00\x00x"


def upgraded(gateway: Gateway, source: str) -> tuple[socket.socket, bytes]:
    """A connection from ``source`` that asked to upgrade to a WebSocket, and the head of the
    server's answer (or the whole answer, when it refused and closed)."""
    sock = connect(gateway, source)
    sock.sendall(UPGRADE)
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        if not chunk:
            break
        received += chunk
    if not received.startswith(b"HTTP/1.1 101 "):
        received += read_until_closed(sock)
    return sock, received


def test_an_upgraded_websocket_keeps_its_place_among_its_address_s_connections(
    gateway: Gateway,
) -> None:
    with contextlib.ExitStack() as opened:
        for _ in range(PER_CLIENT):
            sock, answer = upgraded(gateway, "127.0.0.4")
            opened.enter_context(sock)
            assert answer.startswith(b"HTTP/1.1 101 "), answer
        # Past the header deadline too: an upgraded connection has no headers left to send.
        time.sleep(float(HEADER_TIMEOUT) * 2)
        extra, refused = upgraded(gateway, "127.0.0.4")
        extra.close()
        assert refused.startswith(b"HTTP/1.1 429 "), refused
        assert b"\r\nretry-after: 1\r\n" in refused.partition(b"\r\n\r\n")[0].lower()
        assert error_of(refused)["extensions"] == {
            "code": "TOO_MANY_CONNECTIONS",
            "maximum": PER_CLIENT,
        }
        other, answer = upgraded(gateway, "127.0.0.5")
        other.close()
        assert answer.startswith(b"HTTP/1.1 101 ")


def _abort(sock: socket.socket) -> None:
    # SO_LINGER 0: closing sends a TCP reset, as a crashed client or a dropped link would.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _close_frame(sock: socket.socket) -> None:
    sock.sendall(CLOSE_FRAME)
    read_until_closed(sock)
    sock.close()


def _server_closes(sock: socket.socket) -> None:
    sock.sendall(NOT_JSON_FRAME)  # the gateway closes the connection with 4400
    read_until_closed(sock)
    sock.close()


@pytest.mark.parametrize(
    ("close", "source"),
    [(_close_frame, "127.0.0.6"), (_abort, "127.0.0.7"), (_server_closes, "127.0.0.8")],
)
def test_a_websocket_frees_its_address_s_place_however_it_closes(
    gateway: Gateway, close: Callable[[socket.socket], None], source: str
) -> None:
    opened_before = _gauge(gateway, "tsp_http_connections_open")
    held = []
    try:
        for _ in range(PER_CLIENT):
            sock, answer = upgraded(gateway, source)
            held.append(sock)
            assert answer.startswith(b"HTTP/1.1 101 "), answer
        extra, refused = upgraded(gateway, source)
        extra.close()
        assert refused.startswith(b"HTTP/1.1 429 ")
        for sock in held:
            close(sock)
        # Every place is free again once the server has seen the sockets go.
        _poll(lambda: _gauge(gateway, "tsp_http_connections_open") <= opened_before)
        for _ in range(PER_CLIENT):
            sock, answer = upgraded(gateway, source)
            held.append(sock)
            assert answer.startswith(b"HTTP/1.1 101 "), answer
    finally:
        for sock in held:
            sock.close()


def _gauge(gateway: Gateway, name: str) -> float:
    """A gauge's value as ``/metrics`` reports it (the scrape's own connection and request
    included)."""
    text = httpx.get(f"{gateway.url}/metrics", timeout=30).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return float(sample.value)
    raise AssertionError(f"{name} is not in /metrics")


def _poll(condition: Callable[[], bool]) -> None:
    for _ in range(600):  # bounded
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("the condition did not hold")


SUBSCRIPTION = "subscription { events { id } }"


async def test_websocket_operations_count_against_the_in_flight_limit(tmp_path: Path) -> None:
    in_flight = 3
    env = {"TSP_MAX_IN_FLIGHT": str(in_flight), "TSP_WS_SUBSCRIPTIONS_PER_CONNECTION": "10"}
    admin = _admin()
    query = {"query": "{ __typename }"}
    with running_gateway(tmp_path, env=env) as served:
        async with httpx.AsyncClient(base_url=served.url, timeout=30) as http:
            warm = {"query": "{ viewer { role } }"}
            headers = {"Authorization": f"Bearer {admin}"}
            assert (await http.post("/graphql", json=warm, headers=headers)).status_code == 200

            async def requests_in_flight() -> float:
                # The scrape is a request in flight itself.
                text = (await http.get("/metrics")).text
                return _in_flight(text) - 1

            async with ws_client(served.url, admin) as client:
                assert (await client.receive())["type"] == "connection_ack"
                # An open socket with nothing running is not a request in flight.
                assert (await http.post("/graphql", json=query)).status_code == 200
                for _ in range(in_flight):
                    await client.subscribe(SUBSCRIPTION)
                await until_async(requests_in_flight, in_flight)
                refused = await http.post("/graphql", json=query)
                assert refused.status_code == 503
                assert refused.headers["retry-after"] == "1"
                assert refused.json()["errors"][0]["extensions"]["code"] == "OVERLOADED"
                # One more operation on the socket is refused with the protocol's error message;
                # the connection and its subscriptions carry on.
                extra = await client.subscribe(SUBSCRIPTION)
                assert await client.receive() == {
                    "id": extra,
                    "type": "error",
                    "payload": [
                        {
                            "message": "The gateway is serving its maximum of 3 requests "
                            "(TSP_MAX_IN_FLIGHT); retry shortly",
                            "extensions": {
                                "code": "OVERLOADED",
                                "maximum": in_flight,
                                "retryAfterSeconds": 1,
                            },
                        }
                    ],
                }
                await client.send({"type": "ping"})
                assert await client.receive() == {"type": "pong"}
                # A new WebSocket is refused before its handshake completes.
                with pytest.raises(InvalidStatus) as upgrade:
                    async with ws_client(served.url, admin):
                        pass
                assert upgrade.value.response.status_code == 503
                assert upgrade.value.response.headers["retry-after"] == "1"
                body = json.loads(upgrade.value.response.body or b"{}")
                assert body["errors"][0]["extensions"]["code"] == "OVERLOADED"
                # A completed operation frees its place.
                await client.send({"id": "1", "type": "complete"})
                await until_async(requests_in_flight, in_flight - 1)
                assert (await http.post("/graphql", json=query)).status_code == 200
            # The client closed the socket: its operations' places are free.
            await until_async(requests_in_flight, 0)

            # So they are when the socket is reset, its operations never completed.
            async with ws_client(served.url, admin) as client:
                assert (await client.receive())["type"] == "connection_ack"
                for _ in range(in_flight):
                    await client.subscribe(SUBSCRIPTION)
                await until_async(requests_in_flight, in_flight)
                transport = client.connection.transport
                sock = transport.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                transport.abort()
            await until_async(requests_in_flight, 0)
            assert (await http.post("/graphql", json=query)).status_code == 200


def _in_flight(metrics: str) -> float:
    for family in text_string_to_metric_families(metrics):
        for sample in family.samples:
            if sample.name == "tsp_http_requests_in_flight":
                return float(sample.value)
    raise AssertionError("tsp_http_requests_in_flight is not in /metrics")


async def until_async(read: Callable[[], Awaitable[float]], expected: float) -> None:
    """Returns once ``read()`` gives ``expected`` (bounded)."""
    seen = None
    for _ in range(600):  # bounded
        seen = await read()
        if seen == expected:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {expected}, still {seen}")


def test_a_websocket_the_server_times_out_frees_its_address_s_place(tmp_path: Path) -> None:
    # A WebSocket that never sends connection_init is closed by the server (4408) after this
    # long: generous, since the test checks the socket's place is taken before then.
    env = {"TSP_MAX_CONNECTIONS_PER_CLIENT": "1", "TSP_WS_CONNECTION_INIT_SECONDS": "5"}
    with running_gateway(tmp_path, env=env) as served:
        sock, answer = upgraded(served, "127.0.0.9")
        with sock:
            assert answer.startswith(b"HTTP/1.1 101 "), answer
            extra, refused = upgraded(served, "127.0.0.9")
            extra.close()
            assert refused.startswith(b"HTTP/1.1 429 "), refused
            closing = read_until_closed(sock)  # bounded by the socket's 30 s timeout
        assert closing.startswith(b"\x88")  # the server's close frame: the timeout closed it
        _poll(lambda: _admits_an_upgrade(served, "127.0.0.9"))


def _admits_an_upgrade(gateway: Gateway, source: str) -> bool:
    sock, answer = upgraded(gateway, source)
    sock.close()
    return answer.startswith(b"HTTP/1.1 101 ")


async def test_shutting_down_frees_the_places_of_open_websockets(store: DocumentStore) -> None:
    # Served in this process, so that the counts can be read once the server has stopped.
    app = create_app(SETTINGS, store=store)
    opened, in_flight = _local("tsp_http_connections_open"), _local("tsp_http_requests_in_flight")
    server = uvicorn_serving(
        app, http=GuardedHTTPProtocol, lifespan="on", access_log=False, timeout_graceful_shutdown=2
    )
    port = await server.__aenter__()
    stopped = False
    try:
        async with contextlib.AsyncExitStack() as clients:
            client = await clients.enter_async_context(
                ws_client(f"http://127.0.0.1:{port}", token(Role.ADMIN))
            )
            assert (await client.receive())["type"] == "connection_ack"
            for _ in range(2):
                await client.subscribe(SUBSCRIPTION)
            await until(lambda: _local("tsp_http_requests_in_flight") == in_flight + 2)
            assert _local("tsp_http_connections_open") == opened + 1
            # The server stops with the socket and its subscriptions open.
            stopped = True
            await server.__aexit__(None, None, None)
            code, _reason = await client.closed()
        assert code == 1012  # uvicorn's "service restart"
    finally:
        if not stopped:
            await server.__aexit__(None, None, None)
    assert _local("tsp_http_connections_open") == opened
    assert _local("tsp_http_requests_in_flight") == in_flight


def _local(name: str) -> float:
    """A gauge of this process."""
    value = REGISTRY.get_sample_value(name)
    assert value is not None, name
    return value
