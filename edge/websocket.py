"""Subscriptions over graphql-transport-ws: the token in ``connection_init``, connections per
caller, each operation a request in flight while it runs (refused ``OVERLOADED`` beyond
``TSP_MAX_IN_FLIGHT``), pings, the connection closed (4403) when its token expires, and
malformed messages (wrong shape, larger than the HTTP body limit, nested too deep to decode)
closed with the protocol's 4400 instead of failing the handler.

Strawberry's handler does the protocol; this one adds the gateway's rules around it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from json import JSONDecodeError
from typing import Any

from graphql import GraphQLFormattedError
from starlette.websockets import WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import NonJsonMessageReceived, NonTextMessageReceived
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    ErrorMessage,
    Message,
    SubscribeMessage,
)

from datastore.codec import utc_now
from edge.documents import document_id
from edge.errors import drop_suggestions
from edge.metrics import IN_FLIGHT
from edge.oidc import KeysUnavailableError
from edge.request import GatewayContext
from edge.transport import AdmissionMiddleware, admission_of
from resolvers.context import Context
from resolvers.identity import InvalidTokenError, Viewer

logger = logging.getLogger("tsp.websocket")

CLOSE_BAD_MESSAGE = 4400
CLOSE_FORBIDDEN = 4403
CLOSE_TOO_MANY_CONNECTIONS = 4429


@dataclass
class StreamContext(GatewayContext):
    """The context of a long-lived operation (a WebSocket connection or an SSE stream): what
    a request's context holds, plus when the caller's token expires."""

    connection_params: dict[str, Any] | None = None
    expires_at: datetime | None = None
    caller: str | None = field(default=None)


def token_expiry(authorization: str | None) -> datetime | None:
    """When the (already verified) bearer token in ``authorization`` expires."""
    if not authorization:
        return None
    _, _, token = authorization.strip().partition(" ")
    import jwt  # PyJWT loads cryptography (0.1 s): serving starts without waiting for it

    try:
        claims = jwt.decode(token.strip(), options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    expires = claims.get("exp")
    if not isinstance(expires, int | float):
        return None
    return datetime.fromtimestamp(expires, tz=utc_now().tzinfo)


def authorization_of(payload: Mapping[str, Any]) -> str | None:
    """The ``Authorization`` value a ``connection_init`` payload carries: as
    ``{"Authorization": "Bearer <token>"}`` (any case), or ``{"token": "<token>"}``."""
    for key, value in payload.items():
        if key.lower() == "authorization" and isinstance(value, str):
            return value
    token = payload.get("token")
    return f"Bearer {token}" if isinstance(token, str) else None


@dataclass
class ConnectionLimits:
    """How many connections a caller may hold (per process) and how often idle ones are
    pinged."""

    per_caller: int = 10
    ping_seconds: float = 15.0
    open: Counter[str] = field(default_factory=Counter)


class GatewayWebSocketAdapter(ASGIWebSocketAdapter):
    """Strawberry's adapter with the limits of a message: one larger than an HTTP body may be,
    nested too deep to decode (``json`` raises RecursionError, which Strawberry does not
    catch: an ERROR traceback and a dropped socket) or holding an integer too long to convert,
    closes the connection with 4400."""

    async def iter_json(
        self, *, ignore_parsing_errors: bool = False
    ) -> AsyncGenerator[object, None]:
        view: Any = self.view
        limit: int = view.settings.transport.max_body_bytes
        try:
            while self.ws.application_state != WebSocketState.DISCONNECTED:
                text = await self.ws.receive_text()
                if len(text) > limit or len(text.encode()) > limit:
                    await self._refuse(f"A message must be at most {limit} bytes")
                    return
                try:
                    message = view.decode_json(text)
                except RecursionError:
                    await self._refuse("A message must not nest so deeply")
                    return
                except JSONDecodeError as error:
                    if ignore_parsing_errors:
                        continue
                    raise NonJsonMessageReceived from error
                except ValueError:
                    # An integer longer than Python converts (4300 digits): not a decode
                    # error, so Strawberry would let it drop the socket with a traceback.
                    await self._refuse("A message must not hold a number that long")
                    return
                yield message
        except KeyError as error:  # a binary frame has no "text"
            raise NonTextMessageReceived from error
        except WebSocketDisconnect:
            return

    async def _refuse(self, reason: str) -> None:
        # The client's mistake, not the server's: worth a line, not an alarm.
        logger.info("websocket closed with %d: %s", CLOSE_BAD_MESSAGE, reason)
        await self.close(CLOSE_BAD_MESSAGE, reason)


class GatewayTransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """Strawberry's graphql-transport-ws handler with the gateway's rules."""

    _expiry: asyncio.Task[None] | None = None
    _pinger: asyncio.Task[None] | None = None
    _counted: str | None = None

    def _gateway(self) -> Any:
        return self.view

    async def send_message(self, message: Message) -> None:
        if not self._gateway().policy.limits.introspection:
            payload: Any = message.get("payload")
            if message["type"] == "error" and isinstance(payload, list):
                drop_suggestions(payload)
            elif message["type"] == "next" and isinstance(payload, dict):
                drop_suggestions(payload.get("errors") or ())
        await super().send_message(message)

    async def handle_message(self, message: Message) -> None:
        problem = _malformed(message)
        if problem is not None:
            await self.handle_invalid_message(problem)
            return
        await super().handle_message(message)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if not self.connection_acknowledged or message["id"] in self.operations:
            await super().handle_subscribe(message)  # closes the connection: 4401, 4409
            return
        # Each operation is a request in flight while it runs (see edge.transport); one beyond
        # the limit is refused with the protocol's own means, the connection carrying on.
        adapter: Any = self.websocket
        admission = admission_of(adapter.ws.scope)
        if admission is not None and not admission.enter(websocket=True):
            await self._refuse_operation(message["id"], admission.overloaded_error())
            return
        if admission is not None:
            IN_FLIGHT.inc()
        running = False
        try:
            await self._start(message)
            operation = self.operations.get(message["id"])
            if admission is not None and operation is not None and operation.task is not None:
                # The place is held until the operation's task ends, however it ends (its
                # last result, the client's `complete`, the socket closing, shutdown).
                operation.task.add_done_callback(lambda _: _leave(admission))
                running = True
        finally:
            if admission is not None and not running:
                _leave(admission)

    async def _start(self, message: SubscribeMessage) -> None:
        view = self._gateway()
        if view.policy.trusted_documents_only:
            # The same rule as over HTTP: only registered documents run.
            registry = view.documents_of(self.websocket)
            query = message["payload"]["query"]
            if await registry.trusted(document_id(query)) is None:
                await self._refuse_operation(
                    message["id"],
                    {
                        "message": "This gateway runs registered documents only: "
                        "subscribe with the exact text of a registered document.",
                        "extensions": {"code": "TRUSTED_DOCUMENT_REQUIRED"},
                    },
                )
                return
        await super().handle_subscribe(message)

    async def _refuse_operation(self, operation_id: str, error: GraphQLFormattedError) -> None:
        await self.send_message(ErrorMessage(id=operation_id, type="error", payload=[error]))

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        if self.connection_init_received or self.connection_timed_out:
            await super().handle_connection_init(message)
            return
        payload = message.get("payload") or {}
        if not isinstance(payload, dict):
            await super().handle_connection_init(message)
            return
        view = self._gateway()
        context = self.context
        assert isinstance(context, StreamContext)
        authorization = authorization_of(payload)
        try:
            # The same verifier as HTTP requests: the dev secret, or the identity provider's keys.
            viewer: Viewer = await view.authenticator.viewer(authorization)
        except (InvalidTokenError, KeysUnavailableError) as error:
            await self._refuse(CLOSE_FORBIDDEN, f"Forbidden: {error}")
            return
        context.viewer = viewer
        context.expires_at = token_expiry(authorization)
        caller = view.caller_key(viewer, context.caller or "address:unknown")
        limits: ConnectionLimits = view.connection_limits
        if limits.open[caller] >= limits.per_caller:
            await self._refuse(
                CLOSE_TOO_MANY_CONNECTIONS,
                f"Too many connections: at most {limits.per_caller} per caller",
            )
            return
        limits.open[caller] += 1
        self._counted = caller
        context.gateway.caller = caller
        context.gateway.admin = viewer.is_admin
        await super().handle_connection_init(message)
        if context.expires_at is not None:
            self._expiry = asyncio.create_task(self._close_at(context.expires_at))
        if limits.ping_seconds > 0:
            self._pinger = asyncio.create_task(self._ping(limits.ping_seconds))

    async def _refuse(self, code: int, reason: str) -> None:
        self.connection_init_received = True
        if self.connection_init_timeout_task:
            self.connection_init_timeout_task.cancel()
        await self.websocket.close(code=code, reason=reason[:120])

    async def _close_at(self, moment: datetime) -> None:
        await asyncio.sleep(max(0.0, (moment - utc_now()).total_seconds()))
        # The operations end first: each feed ends at this same moment and would otherwise send
        # its `complete` on the closed socket (an ERROR traceback in Strawberry's task logger).
        running = [op.task for op in self.operations.values() if op.task is not None]
        for operation_id in list(self.operations):
            await self.cleanup_operation(operation_id)
        if running:
            await asyncio.wait(running)
        logger.info("websocket closed with %d: token expired", CLOSE_FORBIDDEN)
        with contextlib.suppress(Exception):
            await self.websocket.close(code=CLOSE_FORBIDDEN, reason="Forbidden: token expired")

    async def _ping(self, interval: float) -> None:
        # graphql-transport-ws pings keep idle connections (and the proxies on their way) alive
        # and find dead peers: a failed send ends the connection.
        while True:
            await asyncio.sleep(interval)
            try:
                await self.send_message({"type": "ping"})
            except Exception:
                return

    async def shutdown(self) -> None:
        for task in (self._expiry, self._pinger):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._counted is not None:
            limits: ConnectionLimits = self._gateway().connection_limits
            limits.open[self._counted] -= 1
            if limits.open[self._counted] <= 0:
                del limits.open[self._counted]
            self._counted = None
        await super().shutdown()


def _leave(admission: AdmissionMiddleware) -> None:
    admission.leave(websocket=True)
    IN_FLIGHT.dec()


def _malformed(message: object) -> str | None:
    """What is wrong with a message's shape (Strawberry indexes into it unchecked)."""
    if not isinstance(message, dict):
        return "A message must be a JSON object"
    kind = message.get("type")
    if not isinstance(kind, str):
        return "A message needs a string 'type'"
    if kind in ("subscribe", "complete") and not isinstance(message.get("id"), str):
        return f"A {kind} message needs a string 'id'"
    if kind == "subscribe":
        payload = message.get("payload")
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            return "A subscribe message needs a payload with a string 'query'"
        for name, kinds in (("variables", dict), ("operationName", str), ("extensions", dict)):
            value = payload.get(name)
            if value is not None and not isinstance(value, kinds):
                return f"'payload.{name}' has the wrong type"
    return None
