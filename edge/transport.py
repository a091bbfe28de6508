"""ASGI middlewares that bound what one request may cost the server before the GraphQL layer
runs: its body size, how long its body may take to arrive, how long it may run, and how many
requests may run at once; and whether a request is answered as a stream of events."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Collection

from graphql import GraphQLFormattedError
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edge.accept import preferred_media_type
from edge.metrics import count_refusal
from edge.refusals import refusal

# Paths that keep answering when the gateway is saturated: an orchestrator that cannot reach
# them would restart a gateway that is merely busy.
UNGATED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class BodyLimitMiddleware:
    """Reads the request body up front, refusing it with 413 as soon as it is known to exceed
    ``max_bytes`` (from ``Content-Length``, or by counting what arrives when the header is
    missing or lies) and with 408 when it stalls: nothing arrives for ``timeout_seconds``
    (an idle timeout, like nginx's ``client_body_timeout``; the request timeout bounds the
    total, so a body trickling in byte by byte is cut off too).

    The app then receives the body already read, so nothing downstream waits on the client."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, timeout_seconds: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_seconds = timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            try:
                async with asyncio.timeout(self.timeout_seconds):
                    message = await receive()
            except TimeoutError:
                await self._stalled(scope, receive, send)
                return
            if message["type"] == "http.disconnect":
                return  # the client left; there is nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _stalled(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = refusal(
            408,
            "BODY_TIMEOUT",
            f"The request body stalled: nothing arrived for {self.timeout_seconds:g} s "
            "(TSP_BODY_TIMEOUT_SECONDS)",
            headers={"Connection": "close"},
            timeoutSeconds=self.timeout_seconds,
        )
        await response(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Connection: close, because the unread rest of the body would otherwise be parsed as
        # the next request on this connection.
        response = refusal(
            413,
            "PAYLOAD_TOO_LARGE",
            f"The request body is larger than {self.max_bytes} bytes (TSP_MAX_BODY_BYTES)",
            headers={"Connection": "close"},
            maximum=self.max_bytes,
        )
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            # A malformed length is left to the server, which refuses it before the app runs.
            return int(text) if text.isdigit() else None
    return None


EVENT_STREAM = "text/event-stream"
# What the GraphQL endpoint answers in, the default first (see edge.graphql_http).
_ANSWER_TYPES = ("application/graphql-response+json", "application/json", EVENT_STREAM)
_DEADLINE = "tsp.request_deadline"


def wants_event_stream(scope: Scope) -> bool:
    """Whether the client prefers a stream of events (GraphQL over SSE) to a JSON answer:
    ``text/event-stream`` is its only or preferred type (by weight, then by order). A client
    that merely lists it among JSON types, as urql does by default, gets JSON for a query or
    mutation (and a stream for a subscription: :func:`admits_event_stream`)."""
    accept = Headers(scope=scope).get("accept", "")
    return preferred_media_type(accept, _ANSWER_TYPES) == EVENT_STREAM


def admits_event_stream(scope: Scope) -> bool:
    """Whether the client accepts a stream of events at all: ``text/event-stream`` with a
    weight above 0, named or through ``text/*`` or ``*/*`` (or no ``Accept``, which RFC 9110
    reads as anything). A subscription, which no JSON answer can carry, is streamed to it."""
    accept = Headers(scope=scope).get("accept", "")
    return preferred_media_type(accept, (EVENT_STREAM,)) == EVENT_STREAM


def accepts_an_answer(scope: Scope) -> bool:
    """Whether the client accepts any type the GraphQL endpoint answers in (no ``Accept``, or
    ``*/*``, takes JSON). GraphQL over HTTP: the server MUST respect ``Accept``, so a client
    taking none of them (``text/html`` alone, ``application/json;q=0``) is refused 406."""
    accept = Headers(scope=scope).get("accept", "")
    return preferred_media_type(accept, _ANSWER_TYPES) is not None


def request_deadline(scope: Scope) -> asyncio.Timeout | None:
    """The running request timeout of ``scope``: the one thing that may lift it is a
    subscription once it streams (``edge.stream_deadline``)."""
    deadline: asyncio.Timeout | None = scope.get("state", {}).get(_DEADLINE)
    return deadline


def is_file_download(scope: Scope) -> bool:
    """Whether the request downloads a bulk export's file (``edge.export_download``), which streams
    from the store for as long as the file is long and the client slow."""
    path: str = scope.get("path", "")
    return path.startswith("/exports/") and path.endswith("/download")


class RequestTimeoutMiddleware:
    """Cancels a request that runs longer than ``seconds`` and answers 504 with a GraphQL
    ``TIMEOUT`` error (if no response has started yet; an event stream that has started ends
    with that error as its last event). Every request starts with the timeout: only a
    subscription, once known to be one, lifts it (see :func:`request_deadline`)."""

    def __init__(self, app: ASGIApp, *, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_file_download(scope):
            # A bulk export's file takes as long as the client reads it.
            await self.app(scope, receive, send)
            return
        started: Message | None = None

        async def send_tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = message
            await send(message)

        try:
            async with asyncio.timeout(self.seconds) as deadline:
                scope.setdefault("state", {})[_DEADLINE] = deadline
                await self.app(scope, receive, send_tracking)
        except TimeoutError:
            if started is not None:
                await self._end_stream(started, send)
                return
            # 504, not 200: no part of the operation ran to completion, so there is no data,
            # and a gateway timeout is what proxies, clients' retry logic and dashboards
            # already understand as "the server gave up", unlike a 200 they would cache or
            # count as a success.
            response = refusal(
                504,
                "TIMEOUT",
                self._message(),
                timeoutSeconds=self.seconds,
            )
            await response(scope, receive, send)

    def _message(self) -> str:
        return (
            f"The request took longer than {self.seconds:g} s "
            "(TSP_REQUEST_TIMEOUT_SECONDS) and was cancelled"
        )

    async def _end_stream(self, started: Message, send: Send) -> None:
        """Ends a streamed query or mutation cut off by the timeout the way GraphQL over SSE
        ends a stream: its error as a ``next`` event, then ``complete``. Any other response
        that has started is too late for another status; the server closes the connection."""
        content_type = Headers(raw=started.get("headers", [])).get("content-type", "")
        if not content_type.startswith(EVENT_STREAM):
            return
        count_refusal("TIMEOUT")
        error = {
            "errors": [
                {
                    "message": self._message(),
                    "extensions": {"code": "TIMEOUT", "timeoutSeconds": self.seconds},
                }
            ]
        }
        events = f"event: next\ndata: {json.dumps(error)}\n\nevent: complete\ndata:\n\n"
        with contextlib.suppress(OSError, RuntimeError):  # the client may be gone already
            await send({"type": "http.response.body", "body": events.encode(), "more_body": False})


_ADMISSION = "tsp.admission"


class AdmissionMiddleware:
    """Answers 503 with ``Retry-After`` at once when ``max_in_flight`` requests are already being
    served, instead of letting work queue up behind them. An event stream is a request in
    flight for as long as it lasts.

    A WebSocket is a connection (bounded per address by :mod:`edge.connections`), not a request:
    what counts in flight is each operation it runs, for as long as it runs, since a
    graphql-transport-ws client multiplexes all its subscriptions on one socket, each as much
    work as an SSE stream, and an idle socket runs nothing. :mod:`edge.websocket` takes a place
    per ``subscribe`` (:func:`admission_of` finds this middleware in the scope) and refuses one
    beyond the limit with an ``error`` message; an upgrade arriving while the gateway is
    saturated is refused like any request, before the handshake completes."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_in_flight: int,
        ungated_paths: Collection[str] = UNGATED_PATHS,
    ) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.ungated_paths = ungated_paths
        self.in_flight = 0
        # Of which operations on WebSockets (see edge.export_pacing).
        self.websocket_operations = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http" or scope["path"] in self.ungated_paths:
            await self.app(scope, receive, send)
            return
        if not self.enter():
            await self._overloaded()(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.leave()

    def enter(self, *, websocket: bool = False) -> bool:
        """Takes a place in flight (for an operation on a WebSocket when ``websocket``), or
        finds none free (``False``)."""
        if self.in_flight >= self.max_in_flight:
            return False
        self.in_flight += 1
        self.websocket_operations += websocket
        return True

    def leave(self, *, websocket: bool = False) -> None:
        self.in_flight -= 1
        self.websocket_operations -= websocket

    def overloaded_error(self) -> GraphQLFormattedError:
        """The refusal as a GraphQL error (counted), for an operation on a WebSocket, which has no
        ``Retry-After`` header: the seconds are in its extensions."""
        count_refusal("OVERLOADED")
        return {
            "message": self._message(),
            "extensions": {
                "code": "OVERLOADED",
                "maximum": self.max_in_flight,
                "retryAfterSeconds": 1,
            },
        }

    def _message(self) -> str:
        return (
            f"The gateway is serving its maximum of {self.max_in_flight} requests "
            "(TSP_MAX_IN_FLIGHT); retry shortly"
        )

    def _overloaded(self) -> Response:
        return refusal(
            503,
            "OVERLOADED",
            self._message(),
            headers={"Retry-After": "1"},
            maximum=self.max_in_flight,
        )

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.in_flight < self.max_in_flight:
            scope.setdefault("state", {})[_ADMISSION] = self
            await self.app(scope, receive, send)
        elif "websocket.http.response" in scope.get("extensions", {}):
            # The 503 is the handshake's answer (Starlette sends it as a denial response).
            await self._overloaded()(scope, receive, send)
        else:
            count_refusal("OVERLOADED")  # a server without denial responses answers 403
            await send({"type": "websocket.close", "code": 1013})


def admission_of(scope: Scope) -> AdmissionMiddleware | None:
    """The admission middleware a WebSocket's scope passed through (none when the app has
    none)."""
    admission: AdmissionMiddleware | None = scope.get("state", {}).get(_ADMISSION)
    return admission
