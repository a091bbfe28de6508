"""Request ids and the log: every request gets an id (the caller's ``X-Request-ID`` if sane),
echoed in its response and carried by every log line written while it is served, one JSON
object per line, with one access line per request. A WebSocket connection gets one too, and
each operation on it an id of its own made from it (``edge.websocket``)."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edge.request import request_id_var
from schema.error_log import excerpt

logger = logging.getLogger("tsp.gateway")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_ANSWERS = frozenset({"http.response.start", "websocket.http.response.start", "websocket.accept"})
"""The messages that start the answer to a request or a WebSocket's handshake."""


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line, with the request id of the request being served."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
        }
        for key in ("method", "path", "status", "duration_ms"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


class RequestIdMiddleware:
    """Gives every request and WebSocket an id (the caller's ``X-Request-ID`` if sane), echoes
    it in the response (the handshake's, for a WebSocket) and logs one access line per request
    (per WebSocket, when it closes)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        websocket = scope["type"] == "websocket"
        offered = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = offered if _REQUEST_ID.match(offered) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            kind = message["type"]
            if kind in _ANSWERS:
                # A WebSocket's handshake is answered 101 when accepted, or with a response.
                status = message.get("status", 101)
                header = (b"x-request-id", request_id.encode())
                message["headers"] = [*message.get("headers", ()), header]
            elif kind == "websocket.close" and status == 500:
                status = 403  # closed before it was accepted: the server answers 403
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            logger.info(
                "websocket" if websocket else "request",
                extra={
                    "method": "GET" if websocket else scope["method"],
                    "path": excerpt(scope["path"]),
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
            request_id_var.reset(token)
