"""uvicorn's HTTP protocol with the bounds a slow client meets before any request exists: the
request headers must arrive within ``TSP_HEADER_TIMEOUT_SECONDS``, and one client address holds
at most ``TSP_MAX_CONNECTIONS_PER_CLIENT`` open connections. Open connections are counted in
the metrics.

uvicorn bounds only idle keep-alive connections: a connection that never finishes its headers
(sending nothing, or a byte now and then) would stay open for good, as would any number of them
from one client. The header deadline starts when the connection opens and again when the first
byte of each next request arrives; it ends when the headers are complete (from there on the body
and request timeouts apply). Both of uvicorn's parsers are covered: ``httptools`` here (what
``GuardedHTTPProtocol`` is when it is installed, as uvicorn itself would choose) and ``h11`` in
:mod:`edge.connections_h11` (kept apart, so serving does not import h11 it does not run).

A connection upgraded to a WebSocket keeps its place among its address's connections for as
long as it stays open: uvicorn hands the socket to a new protocol object (``set_protocol``) and
the HTTP protocol hears of it no more, so the guard travels with it and the WebSocket protocol
releases it when the socket closes, however it closes (a WebSocket beyond the bound never gets
that far: it is refused 429 when it connects, before its upgrade request is read).

The settings are read from the environment once per process, since uvicorn builds each worker's
protocol from a class name (``tsp-gateway serve`` checks them before starting).
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from edge.metrics import OPEN_CONNECTIONS, count_refusal
from edge.settings import TransportSettings


@dataclass(frozen=True)
class ConnectionRules:
    header_timeout_seconds: float
    max_per_client: int  # 0: no limit

    @staticmethod
    @functools.cache
    def from_env() -> ConnectionRules:
        transport = TransportSettings.from_env()
        return ConnectionRules(
            transport.header_timeout_seconds, transport.max_connections_per_client
        )


# Open connections by client address, in this process.
_open_by_client: Counter[str] = Counter()


def _response(status: str, code: str, message: str, **details: object) -> bytes:
    """A whole HTTP/1.1 response with a GraphQL error body, written straight to the socket:
    there is no request (or not yet a whole one) for uvicorn to answer."""
    count_refusal(code)
    body = json.dumps(
        {"errors": [{"message": message, "extensions": {"code": code, **details}}]},
        separators=(",", ":"),
    ).encode()
    retry = b"retry-after: 1\r\n" if status.startswith("429") else b""
    return (
        f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n".encode()
        + retry
        + f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode()
        + body
    )


def malformed_request(detail: str) -> bytes:
    """The answer to bytes that are not an HTTP/1.1 request (a bad Content-Length, chunk or
    header, an unknown method): uvicorn's is plain text with no code, every other refusal of
    the gateway a GraphQL error naming its rule."""
    return _response(
        "400 Bad Request", "MALFORMED_REQUEST", f"The request is not valid HTTP/1.1: {detail}"
    )


class ConnectionGuard:
    """One connection's place among its address's connections (and in the count of open
    connections), from its opening to its close, and the deadline of the request headers it
    is sending. ``tell_client``: whether the deadline's end is answered
    408 before the connection closes (some bytes of a request arrived and no response is
    being sent; a connection that sent nothing is just closed, as an idle one is)."""

    def __init__(
        self,
        transport: asyncio.Transport,
        client: tuple[str, int] | None,
        tell_client: Callable[[], bool],
    ) -> None:
        self.rules = ConnectionRules.from_env()
        self.transport = transport
        self.host = client[0] if client else None
        self.tell_client = tell_client
        self.counted = False
        self.timer: asyncio.TimerHandle | None = None
        self.open = True
        OPEN_CONNECTIONS.inc()

    def admit(self) -> bool:
        """Takes a place for the connection, or refuses it (429, then closed) when its address
        holds its maximum already; other addresses' connections are not disturbed."""
        limit = self.rules.max_per_client
        if self.host is None or not limit:
            return True
        if _open_by_client[self.host] >= limit:
            self.transport.write(
                _response(
                    "429 Too Many Requests",
                    "TOO_MANY_CONNECTIONS",
                    f"This client address holds its maximum of {limit} open connections "
                    "(TSP_MAX_CONNECTIONS_PER_CLIENT); reuse one, or retry when one closes",
                    maximum=limit,
                )
            )
            self.transport.close()
            return False
        _open_by_client[self.host] += 1
        self.counted = True
        return True

    def closed(self) -> None:
        """The connection closed (whichever protocol held it last): its place is free."""
        self.headers_arrived()
        if self.open:
            self.open = False
            OPEN_CONNECTIONS.dec()
        if self.counted and self.host is not None:
            self.counted = False
            _open_by_client[self.host] -= 1
            if _open_by_client[self.host] <= 0:
                del _open_by_client[self.host]

    def expect_headers(self) -> None:
        """Starts the header deadline unless it is running."""
        if self.timer is None and not self.transport.is_closing():
            loop = asyncio.get_running_loop()
            self.timer = loop.call_later(self.rules.header_timeout_seconds, self._expired)

    def headers_arrived(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _expired(self) -> None:
        self.timer = None
        if self.transport.is_closing():
            return
        if self.tell_client():
            seconds = self.rules.header_timeout_seconds
            self.transport.write(
                _response(
                    "408 Request Timeout",
                    "HEADER_TIMEOUT",
                    f"The request headers did not arrive within {seconds:g} s "
                    "(TSP_HEADER_TIMEOUT_SECONDS)",
                    timeoutSeconds=seconds,
                )
            )
        self.transport.close()


class _GuardedWebSocket(asyncio.Protocol):
    """What a WebSocket protocol of uvicorn's becomes here: the holder of the guard of the HTTP
    connection it was upgraded from, which it releases when the socket closes."""

    guard: ConnectionGuard | None = None

    def connection_lost(self, exc: Exception | None) -> None:
        guard, self.guard = self.guard, None
        if guard is not None:
            guard.closed()
        super().connection_lost(exc)


@functools.cache
def _guarded_websocket_class(base: type[asyncio.Protocol]) -> type[_GuardedWebSocket]:
    # One subclass per WebSocket implementation uvicorn was configured with, made once.
    return type(f"Guarded{base.__name__}", (_GuardedWebSocket, base), {})


def keep_place_through_upgrade(protocol: Any, guard: ConnectionGuard) -> None:
    """Makes the WebSocket protocol that ``protocol`` (an HTTP protocol of uvicorn's, about to
    upgrade) hands its socket to carry ``guard`` on. uvicorn builds it from the instance's
    ``ws_protocol_class`` with keyword arguments; the HTTP protocol is done with after that."""
    guard.headers_arrived()
    guarded = _guarded_websocket_class(protocol.ws_protocol_class)

    def build(**options: Any) -> _GuardedWebSocket:
        websocket = guarded(**options)
        websocket.guard = guard
        return websocket

    protocol.ws_protocol_class = build


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's ``httptools`` protocol with the guard: its parser says when a request
    begins and when its headers are complete."""

    _begun = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.guard = ConnectionGuard(transport, self.client, self._tell_client)
        if self.guard.admit():
            self.guard.expect_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.closed()
        super().connection_lost(exc)

    def handle_websocket_upgrade(self) -> None:
        # The WebSocket protocol owns the connection from here, and its place with it.
        keep_place_through_upgrade(self, self.guard)
        super().handle_websocket_upgrade()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._begun = True
        self.guard.expect_headers()

    def on_headers_complete(self) -> None:
        self.guard.headers_arrived()
        self._begun = False
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        self.transport.write(malformed_request(msg))
        self.transport.close()

    def _tell_client(self) -> bool:
        return self._begun and (self.cycle is None or self.cycle.response_complete)


GuardedHTTPProtocol = GuardedHttpToolsProtocol
"""The protocol ``tsp-gateway serve`` runs: httptools, as uvicorn would pick it."""
