"""Subscriptions over graphql-transport-ws: the token in ``connection_init``, connections per
caller, each operation a request of its own (its own context: cost, name, loaders, clock) and
in flight while it runs (refused ``OVERLOADED`` beyond ``TSP_MAX_IN_FLIGHT``), pings, the
connection closed (4403) when its token expires, and malformed messages (wrong shape, larger
than the HTTP body limit, nested too deep to decode) closed with the protocol's 4400 instead of
failing the handler.

Strawberry's handler does the protocol; this one adds the gateway's rules around it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections import Counter
from collections.abc import AsyncGenerator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from json import JSONDecodeError
from typing import Any

from graphql import GraphQLError, GraphQLFormattedError
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
from edge.errors import drop_suggestions, gateway_error
from edge.extension import (
    charge_refused_request,
    cooling_refusal,
    throttled_error,
)
from edge.metrics import IN_FLIGHT, count_refusal
from edge.oidc import KeysUnavailableError
from edge.request import GatewayContext, request_id_var
from edge.transport import AdmissionMiddleware, admission_of
from resolvers.context import Context
from resolvers.identity import InvalidTokenError, Viewer, bearer_token
from schema.error_log import excerpt

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
    # The client's address: who an anonymous connection's operations are throttled as.
    client: str = "unknown"
    # A WebSocket upgrade's Authorization header (verified before the upgrade was accepted):
    # the caller when connection_init names no token.
    upgrade_authorization: str | None = None


_OPERATION: ContextVar[StreamContext | None] = ContextVar("websocket_operation", default=None)
"""The context of the WebSocket operation whose task is running (None outside one)."""


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
    ``{"Authorization": "Bearer <token>"}`` (any case), or ``{"token": "<token>"}``. No other
    key is read (``authToken``, ``headers``: the README says so)."""
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

    # The length of the message being handled: what a refused operation is charged for, as
    # an HTTP request's body is (the handler takes a message before reading the next).
    message_characters = 0

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
                self.message_characters = len(text)
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
    _connection: Context
    _started = 0

    @property
    def context(self) -> Context:
        """The connection's context; inside an operation's task, that operation's own.

        Strawberry hands ``self.context`` to every operation it runs on the connection. Each
        operation is a request of its own, as over HTTP: shared, the second would inherit the
        first one's cost (and refund it all), its operation name, its parsed document, its
        loaders' caches and its clock, and concurrent operations would overwrite each other's.
        So each gets a copy, made as it starts (:meth:`_start`) and found here in the task
        running it, which holds it in its own copy of the context variables."""
        operation = _OPERATION.get()
        return operation if operation is not None else self._connection

    @context.setter
    def context(self, value: Context) -> None:
        self._connection = value

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
        # Set while the operation's task is made, which keeps them (asyncio copies the context
        # variables into a new task); reset at once for the connection's own work.
        operation = self._operation_context(message)
        started = _OPERATION.set(operation)
        # Its log lines carry its own id, as an HTTP request's carry its.
        named = request_id_var.set(operation.request_id)
        try:
            await self._subscribe(message, operation)
        finally:
            request_id_var.reset(named)
            _OPERATION.reset(started)

    def _operation_context(self, message: SubscribeMessage) -> StreamContext:
        """A context of the operation ``message`` starts: the connection's caller, token and
        settings, and a request of its own (``GatewayRequest.fresh``), fresh loaders and a
        fresh clock."""
        connection = self._connection
        assert isinstance(connection, StreamContext)
        adapter: Any = self.websocket
        self._started += 1
        return dataclasses.replace(
            connection,
            request_id=f"{connection.request_id}.{self._started}",
            now=utc_now(),
            gateway=connection.gateway.fresh(
                operation_name=message["payload"].get("operationName"),
                request_characters=adapter.message_characters,
                streamed=True,
            ),
        )

    async def _subscribe(self, message: SubscribeMessage, operation: StreamContext) -> None:
        view = self._gateway()
        # As over HTTP, a caller inside the Retry-After of a refusal is refused before anything
        # is read, after a pause (this connection's next message waits for it too).
        cooling = await cooling_refusal(view.policy, operation.gateway)
        if cooling is not None:
            count_refusal("THROTTLED")
            await self._refuse_coded(message["id"], cooling)
            return
        query = message["payload"]["query"]
        if not query:
            # Strawberry would raise, and the error reach the client masked as INTERNAL.
            await self._refuse_request(
                message["id"],
                operation,
                gateway_error("The subscribe message has no 'query'.", "MISSING_QUERY"),
            )
            return
        if view.policy.trusted_documents_only:
            # The same rule as over HTTP: only registered documents run.
            registry = view.documents_of(self.websocket)
            if await registry.trusted(document_id(query)) is None:
                await self._refuse_request(
                    message["id"],
                    operation,
                    gateway_error(
                        "This gateway runs registered documents only: subscribe with the exact "
                        "text of a registered document.",
                        "TRUSTED_DOCUMENT_REQUIRED",
                    ),
                )
                return
        await super().handle_subscribe(message)
        running = self.operations.get(message["id"])
        if running is not None and running.task is not None:
            # Answered: its reads go at once, as an HTTP request's do (see Loaders.release).
            running.task.add_done_callback(lambda _: operation.loaders.release())

    async def _refuse_request(
        self, operation_id: str, operation: StreamContext, error: GraphQLError
    ) -> None:
        """Refuses an operation before its document is read, charged as an HTTP request the
        endpoint refuses is (``charge_refused_request``): ``THROTTLED`` instead once its
        caller's bucket cannot pay."""
        charged = await charge_refused_request(self._gateway().policy, operation.gateway)
        if charged is not None and not charged[1].granted:
            error = throttled_error(*charged, "this refused request")
        else:
            count_refusal((error.extensions or {})["code"])
        await self._refuse_coded(operation_id, error)

    async def _refuse_coded(self, operation_id: str, error: GraphQLError) -> None:
        """Answers an operation refused before its document is read with ``error`` (an
        ``error`` message), logged as an error of execution is (``schema.error_log``): the
        client's, so a line at INFO."""
        code = (error.extensions or {})["code"]
        logger.info("client error %s at operation: %s", code, excerpt(error.message))
        await self._refuse_operation(operation_id, error.formatted)

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
        context = self._connection
        assert isinstance(context, StreamContext)
        authorization = authorization_of(payload)
        upgrade = context.upgrade_authorization
        if authorization is None:
            authorization = upgrade  # verified again: it may have expired since
        elif upgrade is not None and not _same_token(authorization, upgrade):
            # Two callers named: refused rather than one picked.
            await self._refuse(
                CLOSE_FORBIDDEN,
                "Forbidden: connection_init and the Authorization header name different tokens",
            )
            return
        try:
            # The same verifier as HTTP requests: the dev secret, or the identity provider's keys.
            viewer: Viewer = await view.authenticator.viewer(authorization)
        except (InvalidTokenError, KeysUnavailableError) as error:
            await self._refuse(CLOSE_FORBIDDEN, f"Forbidden: {error}")
            return
        context.viewer = viewer
        context.expires_at = token_expiry(authorization)
        caller = view.caller_key(viewer, context.client)
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


def _same_token(first: str, second: str) -> bool:
    try:
        return bearer_token(first) == bearer_token(second)
    except InvalidTokenError:
        return False


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
