"""GraphQL over HTTP on the GraphQL endpoint: a client that accepts
``application/graphql-response+json`` gets that media type with the spec's status codes (400
for a request that failed before execution instead of 200). The view itself answers every
refusal as GraphQL JSON (``edge.view``)."""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"


def prefers_graphql_response_json(accept: str) -> bool:
    """Whether an ``Accept`` header ranks ``application/graphql-response+json`` at least as high
    as ``application/json`` (and accepts it at all)."""
    weights: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        weight = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        weights[media.lower()] = max(weight, weights.get(media.lower(), 0.0))
    ours = weights.get(GRAPHQL_RESPONSE_JSON, 0.0)
    plain = max(weights.get("application/json", 0.0), weights.get("*/*", 0.0) * 0.99)
    return ours > 0 and ours >= plain


class GraphQLOverHTTPMiddleware:
    """Honours ``application/graphql-response+json`` on the responses of ``path``, each of which
    says it varies by ``Accept``."""

    def __init__(self, app: ASGIApp, *, path: str = "/graphql") -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        wants_spec = prefers_graphql_response_json(Headers(scope=scope).get("accept", ""))
        start: Message | None = None
        chunks: list[bytes] = []

        async def rewrite(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                # The media type, the status and whether the answer streams all follow Accept:
                # a cache in front (README invites one for GET) must key on it.
                MutableHeaders(raw=message.setdefault("headers", [])).add_vary_header("Accept")
                content_type = Headers(raw=message["headers"]).get("content-type", "")
                if wants_spec and content_type.startswith("application/json"):
                    start = message
                    return
                await send(message)
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            await _send_rewritten(start, b"".join(chunks), wants_spec, send)

        await self.app(scope, receive, rewrite)


class HeadAsGetMiddleware:
    """Answers a ``HEAD`` of ``path`` with the headers its ``GET`` would have, without the body:
    GET and HEAD go together (RFC 9110 9.3.2), as Starlette's routes have them elsewhere. Placed
    outside gzip, so the headers are those of the very answer a GET gets."""

    def __init__(self, app: ASGIApp, *, path: str = "/graphql") -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


async def _send_rewritten(start: Message, body: bytes, wants_spec: bool, send: Send) -> None:
    headers = MutableHeaders(raw=list(start.get("headers", [])))
    status: int = start["status"]
    payload: Any
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        await send(start)
        await send({"type": "http.response.body", "body": body})
        return
    if status == 200 and _failed_before_execution(payload):
        # GraphQL over HTTP: a response without data is a request error, so not a 200 (a 4xx,
        # or a 5xx for the server's own state).
        status = _request_error_status(payload)
        payload.pop("data", None)
    encoded = json.dumps(payload, separators=(",", ":")).encode()
    headers["content-type"] = GRAPHQL_RESPONSE_JSON if wants_spec else "application/json"
    headers["content-length"] = str(len(encoded))
    await send({"type": "http.response.start", "status": status, "headers": headers.raw})
    await send({"type": "http.response.body", "body": encoded})


# Request errors that say when to come back (Retry-After) get the status that clients' retry
# logic reads that way: the caller's own pace (429), or the gateway's load (503, as OVERLOADED).
_RETRY_STATUS = {"THROTTLED": 429, "VALIDATION_IN_PROGRESS": 429, "VALIDATION_QUEUE_FULL": 503}


def _request_error_status(payload: dict[str, Any]) -> int:
    errors = payload.get("errors") or [{}]
    first = errors[0] if isinstance(errors[0], dict) else {}
    code = (first.get("extensions") or {}).get("code")
    return _RETRY_STATUS.get(code, 400) if isinstance(code, str) else 400


def _failed_before_execution(payload: dict[str, Any]) -> bool:
    errors = payload.get("errors") or []
    return (
        payload.get("data") is None
        and bool(errors)
        and not any(isinstance(e, dict) and e.get("path") for e in errors)
    )
