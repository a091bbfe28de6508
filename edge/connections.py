"""uvicorn's HTTP protocol with the bounds a client meets before any request exists: the request
headers must arrive within ``TSP_HEADER_TIMEOUT_SECONDS`` and hold at most
``TSP_MAX_HEADER_BYTES`` bytes in ``TSP_MAX_HEADERS`` fields, and one client address holds at
most ``TSP_MAX_CONNECTIONS_PER_CLIENT`` open connections. Open connections are counted in the
metrics.

uvicorn bounds only idle keep-alive connections: a connection that never finishes its headers
(sending nothing, or a byte now and then) would stay open for good, as would any number of them
from one client, and a parser holds a head of any size until it is complete (20 MB of one
header took 76 MB of the server's memory). The header deadline starts when the connection opens
and again when the first byte of each next request arrives; it ends when the headers are
complete (from there on the body and request timeouts apply). Both of uvicorn's parsers are
covered: ``httptools`` here (what ``GuardedHTTPProtocol`` is when it is installed, as uvicorn
itself would choose) and ``h11`` in :mod:`edge.connections_h11` (kept apart, so serving does
not import h11 it does not run).

A refusal made here, before any request reaches the app (a connection over its address's
limit, a head too large, malformed or late), is answered through the same CORS and request-id
layers as every other answer (``edge.stack.around_early_answers``): it carries ``X-Request-ID``
and, once the request's ``Origin`` has been read, the CORS headers a browser needs to let its
page read the refusal. So a connection over the limit is answered when its request head has
arrived (within the same deadline and bounds), or at once when
:data:`WAITING_REFUSALS_PER_CLIENT` refusals of its address already wait.

A connection upgraded to a WebSocket keeps its place among its address's connections for as
long as it stays open: uvicorn hands the socket to a new protocol object (``set_protocol``) and
the HTTP protocol hears of it no more, so the guard travels with it and the WebSocket protocol
releases it when the socket closes, however it closes (a WebSocket beyond the bound never gets
that far: its upgrade request is answered 429).

The settings are read from the environment once per process, since uvicorn builds each worker's
protocol from a class name (``tsp-gateway serve`` checks them before starting).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import http
import logging
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from edge.metrics import OPEN_CONNECTIONS
from edge.refusals import refusal
from edge.settings import TransportSettings
from edge.stack import around_early_answers

logger = logging.getLogger("tsp.gateway")

WAITING_REFUSALS_PER_CLIENT = 8
"""Connections over the limit one address may have waiting for their heads to be answered
(each within the header deadline): a browser opens 6 at once. Beyond, a connection is refused
at once, before any of its request is read (so without CORS headers)."""


@dataclass(frozen=True)
class ConnectionRules:
    header_timeout_seconds: float
    max_per_client: int  # 0: no limit
    max_header_bytes: int
    max_headers: int
    transport: TransportSettings  # the CORS origins of the answers made here

    @staticmethod
    @functools.cache
    def from_env() -> ConnectionRules:
        transport = TransportSettings.from_env()
        return ConnectionRules(
            transport.header_timeout_seconds,
            transport.max_connections_per_client,
            transport.max_header_bytes,
            transport.max_headers,
            transport,
        )


# Open connections by client address, in this process; and those over the limit whose refusal
# waits for their request head.
_open_by_client: Counter[str] = Counter()
_waiting_by_client: Counter[str] = Counter()


@dataclass
class RequestHead:
    """What has arrived of a request's head: its method (once known), its target and header
    fields (names in lower case) so far, their bytes, and the bytes known to be head however
    they parse (a field still arriving included)."""

    method: str | None = None
    target: bytes = b""
    fields: list[tuple[bytes, bytes]] = field(default_factory=list)
    size: int = 0
    arrived: int = 0

    def bytes_at_least(self) -> int:
        return max(self.size, self.arrived)


_END_OF_HEAD = re.compile(rb"\r?\n\r?\n")


def head_of_bytes(data: bytes) -> RequestHead:
    """The head that ``data``, bytes of a request not parsed yet, holds so far (h11 keeps a
    head's bytes until it is whole)."""
    end = _END_OF_HEAD.search(data)
    text = data[: end.start()] if end else data
    request_line, *lines = text.lstrip(b"\r\n").split(b"\n")
    if end is None and lines:
        lines.pop()  # the line still arriving
    method, _, rest = request_line.rstrip(b"\r").partition(b" ")
    target = rest.partition(b" ")[0]
    fields = []
    for line in lines:
        name, colon, value = line.rstrip(b"\r").partition(b":")
        if colon:
            fields.append((name.strip().lower(), value.strip()))
    return RequestHead(method.decode("latin-1") or None, target, fields, len(text))


class ConnectionGuard:
    """One connection's place among its address's connections (and in the count of open
    connections), from its opening to its close; the bounds and the deadline of the request
    head it is sending; and the answer to a refusal made before any request reaches the app.
    ``pending_head``: the head of the request arriving, if some of it has and no response is
    being sent (a late head is then answered 408; a connection that sent nothing is just
    closed, as an idle one is)."""

    def __init__(
        self,
        transport: asyncio.Transport,
        client: tuple[str, int] | None,
        pending_head: Callable[[], RequestHead | None],
    ) -> None:
        self.rules = ConnectionRules.from_env()
        self.transport = transport
        self.client = client
        self.host = client[0] if client else None
        self.pending_head = pending_head
        self.counted = False  # holds a place among its address's connections
        self.waiting = False  # over its address's limit: its refusal waits for its head
        self.answered = False  # refused: the answer is on its way, nothing more is read
        self.timer: asyncio.TimerHandle | None = None
        self.open = True
        self._answering: asyncio.Task[None] | None = None
        OPEN_CONNECTIONS.inc()

    def opened(self) -> None:
        """Takes a place for the connection and starts its header deadline. An address that
        holds its maximum already has the new connection refused (429, then closed), its other
        connections and other addresses undisturbed."""
        limit = self.rules.max_per_client
        if self.host is None or not limit:
            self.expect_headers()
            return
        if _open_by_client[self.host] < limit:
            _open_by_client[self.host] += 1
            self.counted = True
        elif _waiting_by_client[self.host] < WAITING_REFUSALS_PER_CLIENT:
            _waiting_by_client[self.host] += 1
            self.waiting = True
        else:
            self._refuse(None, *self._too_many_connections())
            return
        self.expect_headers()

    def closed(self) -> None:
        """The connection closed (whichever protocol held it last): its place is free."""
        self.headers_arrived()
        if self.open:
            self.open = False
            OPEN_CONNECTIONS.dec()
        if self.host is None:
            return
        if self.counted:
            self.counted = False
            _release(_open_by_client, self.host)
        if self.waiting:
            self.waiting = False
            _release(_waiting_by_client, self.host)

    def expect_headers(self) -> None:
        """Starts the header deadline unless it is running."""
        if self.timer is None and not self.answered and not self.transport.is_closing():
            loop = asyncio.get_running_loop()
            self.timer = loop.call_later(self.rules.header_timeout_seconds, self._expired)

    def headers_arrived(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def head_grew(self, head: RequestHead) -> bool:
        """Checks what has arrived of a head against the bounds, refusing it when over them
        (414 for the target alone, else 431). Whether the connection is refused (nothing more
        of it is to be read)."""
        if self.answered:
            return True
        rules = self.rules
        if len(head.target) > rules.max_header_bytes:
            self._refuse(
                head,
                414,
                "URI_TOO_LONG",
                f"The request target is longer than {rules.max_header_bytes} bytes "
                "(TSP_MAX_HEADER_BYTES); send a long query by POST",
                maximum=rules.max_header_bytes,
            )
        elif head.bytes_at_least() > rules.max_header_bytes:
            self._refuse(
                head,
                431,
                "HEADERS_TOO_LARGE",
                f"The request line and headers are larger than {rules.max_header_bytes} bytes "
                "(TSP_MAX_HEADER_BYTES)",
                maximum=rules.max_header_bytes,
            )
        elif len(head.fields) > rules.max_headers:
            self._refuse(
                head,
                431,
                "TOO_MANY_HEADERS",
                f"The request has more than {rules.max_headers} header fields (TSP_MAX_HEADERS)",
                maximum=rules.max_headers,
            )
        return self.answered

    def head_complete(self, head: RequestHead) -> bool:
        """The head has arrived whole. Whether the request is refused rather than run: over the
        bounds, or on a connection over its address's limit."""
        self.headers_arrived()
        if self.head_grew(head):
            return True
        if self.waiting:
            self._refuse(head, *self._too_many_connections())
        return self.answered

    def malformed(self, detail: str, head: RequestHead | None) -> None:
        """Answers bytes that are not an HTTP/1.1 request (a bad Content-Length, chunk or
        header, an unknown method): uvicorn's answer is plain text with no code, every other
        refusal of the gateway a GraphQL error naming its rule."""
        self._refuse(head, 400, "MALFORMED_REQUEST", f"The request is not valid HTTP/1.1: {detail}")

    def _expired(self) -> None:
        self.timer = None
        if self.transport.is_closing() or self.answered:
            return
        head = self.pending_head()
        if head is None and not self.waiting:
            self.transport.close()
            return
        seconds = self.rules.header_timeout_seconds
        self._refuse(
            head,
            408,
            "HEADER_TIMEOUT",
            f"The request headers did not arrive within {seconds:g} s (TSP_HEADER_TIMEOUT_SECONDS)",
            timeoutSeconds=seconds,
        )

    def _too_many_connections(self) -> tuple[int, str, str]:
        limit = self.rules.max_per_client
        return (
            429,
            "TOO_MANY_CONNECTIONS",
            f"This client address holds its maximum of {limit} open connections "
            "(TSP_MAX_CONNECTIONS_PER_CLIENT); reuse one, or retry when one closes",
        )

    def _refuse(
        self, head: RequestHead | None, status: int, code: str, message: str, **details: Any
    ) -> None:
        """Answers the connection with a refusal, then closes it. A connection over its
        address's limit is answered that, whatever else it did wrong."""
        if self.answered:
            return
        headers = {"Connection": "close"}
        if self.waiting or code == "TOO_MANY_CONNECTIONS":
            status, code, message = self._too_many_connections()
            details = {"maximum": self.rules.max_per_client}
            headers["Retry-After"] = "1"
        self.answered = True
        self.headers_arrived()
        with contextlib.suppress(RuntimeError):  # a closing transport reads nothing anyway
            self.transport.pause_reading()
        response = refusal(status, code, message, headers=headers, **details)
        self._answering = asyncio.get_running_loop().create_task(self._answer(head, response))

    async def _answer(self, head: RequestHead | None, response: Response) -> None:
        """Writes ``response`` as it leaves the CORS and request-id layers, then closes."""
        messages: list[Message] = []

        async def receive() -> Message:
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            messages.append(message)

        try:
            scope = _scope_of(head, self.client, response)
            await _early_answers(self.rules.transport)(scope, receive, send)
            if not self.transport.is_closing():
                self.transport.write(_response_bytes(messages))
        except Exception:
            logger.exception("answering a refused connection failed")
        finally:
            self.transport.close()


def _release(counter: Counter[str], host: str) -> None:
    counter[host] -= 1
    if counter[host] <= 0:
        del counter[host]


_RESPONSE = "tsp.early_answer"


async def _early_answer(scope: Scope, receive: Receive, send: Send) -> None:
    response: Response = scope["state"][_RESPONSE]
    await response(scope, receive, send)


@functools.cache
def _early_answers(transport: TransportSettings) -> ASGIApp:
    return around_early_answers(_early_answer, transport)


def _scope_of(head: RequestHead | None, client: tuple[str, int] | None, answer: Response) -> Scope:
    """The request scope of an answer made before the request reached the app: what of its
    head arrived (a preflight's request method left out, so the refusal is answered, not the
    preflight)."""
    head = head or RequestHead()
    fields = [(n, v) for n, v in head.fields if n != b"access-control-request-method"]
    path = head.target.partition(b"?")[0].decode("latin-1")
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": "http",
        "method": head.method or "",
        "path": path,
        "raw_path": path.encode("latin-1"),
        "query_string": b"",
        "root_path": "",
        "headers": fields,
        "client": client,
        "server": None,
        "state": {_RESPONSE: answer},
    }


def _response_bytes(messages: list[Message]) -> bytes:
    """A whole HTTP/1.1 response from an ASGI app's messages (a start, then its body)."""
    start, *rest = messages
    status: int = start["status"]
    lines = [f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\n".encode()]
    lines.extend(name + b": " + value + b"\r\n" for name, value in start.get("headers", []))
    return b"".join([*lines, b"\r\n", *(message.get("body", b"") for message in rest)])


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
    """uvicorn's ``httptools`` protocol with the guard: its parser says when a request begins,
    each piece of its target and each header field, and when its headers are complete.

    httptools gathers a header field until it is whole before handing it over (so the field
    still arriving when a head is refused is not among those the answer reads): the bytes that
    arrive while a head is incomplete are counted too, so one endless field is cut off as it
    arrives. Once refused, the connection reads nothing more: every parser callback left is
    ignored, and the request never reaches the app."""

    _head: RequestHead | None = None  # the head arriving, until its headers are complete
    _in_message = False  # a request began and has not ended
    _ended = False  # a request ended within the chunk being read

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.guard = ConnectionGuard(transport, self.client, self._pending_head)
        self.guard.opened()

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.closed()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.guard.answered:
            return
        arriving, fresh = self._head, not self._in_message
        self._ended = False
        super().data_received(data)
        head = self._head
        if head is None or self.guard.answered:
            return
        if head is arriving:
            head.arrived += len(data)  # the head went on, and is not complete yet
        elif fresh and not self._ended:
            head.arrived = len(data)  # the chunk began with the head and holds only it
        else:
            return  # it began after another request in the chunk: counted by its fields
        self.guard.head_grew(head)

    def handle_websocket_upgrade(self) -> None:
        if self.guard.answered:
            return
        # The WebSocket protocol owns the connection from here, and its place with it.
        keep_place_through_upgrade(self, self.guard)
        super().handle_websocket_upgrade()

    def on_message_begin(self) -> None:
        self._in_message = True
        if self.guard.answered:
            return
        super().on_message_begin()
        self._head = RequestHead(fields=self.headers)
        self.guard.expect_headers()

    def on_url(self, url: bytes) -> None:
        if self._head is None or self.guard.answered:
            return
        super().on_url(url)
        if self._head.method is None:
            self._head.method = self.parser.get_method().decode("ascii", "replace")
        self._head.target += url
        self._head.size += len(url)
        self.guard.head_grew(self._head)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._head is None or self.guard.answered:
            return
        super().on_header(name, value)
        self._head.size += len(name) + len(value) + 4  # ": " and CRLF
        self.guard.head_grew(self._head)

    def on_headers_complete(self) -> None:
        head, self._head = self._head, None
        if head is None or self.guard.head_complete(head):
            return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self.guard.answered:
            super().on_body(body)

    def on_message_complete(self) -> None:
        self._in_message = False
        self._ended = True
        if not self.guard.answered:
            super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        head, self._head = self._head, None
        self.guard.malformed(msg, head)

    def _pending_head(self) -> RequestHead | None:
        if self.cycle is not None and not self.cycle.response_complete:
            return None
        return self._head


GuardedHTTPProtocol = GuardedHttpToolsProtocol
"""The protocol ``tsp-gateway serve`` runs: httptools, as uvicorn would pick it."""
