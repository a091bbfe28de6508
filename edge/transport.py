"""ASGI middlewares that bound what one request may cost the server before the GraphQL layer
runs: its body size, how long its body may take to arrive, how long it may run, and how many
requests may run at once."""

from __future__ import annotations

import asyncio
from collections.abc import Collection

from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


def is_event_stream(scope: Scope) -> bool:
    """Whether the request asks for a stream of events (a GraphQL over SSE subscription): it
    is long-lived by design, so the request timeout and admission do not apply (the
    subscription limits do)."""
    accept = dict(scope.get("headers") or ()).get(b"accept", b"")
    return b"text/event-stream" in accept


def is_file_download(scope: Scope) -> bool:
    """Whether the request downloads a bulk export's file (``web.exports``), which streams
    from the store for as long as the file is long and the client slow."""
    path: str = scope.get("path", "")
    return path.startswith("/exports/") and path.endswith("/download")


class RequestTimeoutMiddleware:
    """Cancels a request that runs longer than ``seconds`` and answers 504 with a GraphQL
    ``TIMEOUT`` error (if no response has started yet)."""

    def __init__(self, app: ASGIApp, *, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_event_stream(scope) or is_file_download(scope):
            # An SSE subscription streams for as long as the client stays; a bulk export's
            # file takes as long as the client reads it.
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            async with asyncio.timeout(self.seconds):
                await self.app(scope, receive, send_tracking)
        except TimeoutError:
            if started:
                return  # too late for another status; the server closes the connection
            # 504, not 200: no part of the operation ran to completion, so there is no data,
            # and a gateway timeout is what proxies, clients' retry logic and dashboards
            # already understand as "the server gave up", unlike a 200 they would cache or
            # count as a success.
            response = refusal(
                504,
                "TIMEOUT",
                f"The request took longer than {self.seconds:g} s "
                "(TSP_REQUEST_TIMEOUT_SECONDS) and was cancelled",
                timeoutSeconds=self.seconds,
            )
            await response(scope, receive, send)


class AdmissionMiddleware:
    """Answers 503 with ``Retry-After`` at once when ``max_in_flight`` requests are already being
    served, instead of letting work queue up behind them."""

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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.ungated_paths or is_event_stream(scope):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            response = refusal(
                503,
                "OVERLOADED",
                f"The gateway is serving its maximum of {self.max_in_flight} requests "
                "(TSP_MAX_IN_FLIGHT); retry shortly",
                headers={"Retry-After": "1"},
                maximum=self.max_in_flight,
            )
            await response(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
