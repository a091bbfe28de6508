"""The GraphQL endpoint over HTTP: who is calling, what document they mean, and every refusal
answered as GraphQL JSON with a code.

Strawberry's view does the GraphQL over HTTP work; this one checks the bearer token, reads the
request defensively (a body or query-string parameter that is not JSON as it should be, not
UTF-8 or nested without end is a 400, never a 500), resolves trusted documents and APQ hashes,
and never answers in plain text. Queries may come by GET (so a CDN can cache one named by its
document id or APQ hash alone); mutations only by POST.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException, StarletteRequestAdapter
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.http.parse_content_type import parse_content_type
from strawberry.http.streaming import SSETransport
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_SSE_PROTOCOL, GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult, SubscriptionExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.utils.operation import get_operation_type

from datastore.store import StoreUnavailableError
from edge.authentication import Authenticator
from edge.documents import TrustedDocuments, document_id, is_document_id
from edge.errors import drop_suggestions
from edge.executing import ExecutionGate
from edge.extension import (
    COOLING_PAUSE_SECONDS,
    charge_refused_request,
    cooling_refusal,
    cost_report,
    parse_document,
    throttled_message,
    unknown_operation,
)
from edge.oidc import KeysUnavailableError
from edge.refusals import refusal
from edge.request import GatewayRequest, request_id_var
from edge.response_json import encode_json
from edge.throttle import Throttle
from edge.transport import (
    accepts_an_answer,
    admits_event_stream,
    request_deadline,
    wants_event_stream,
)
from edge.websocket import (
    ConnectionLimits,
    GatewayTransportWSHandler,
    GatewayWebSocketAdapter,
    StreamContext,
    token_expiry,
)
from resolvers.context import Context
from resolvers.identity import ANONYMOUS, InvalidTokenError, Viewer, caller_of
from schema.extensions import (
    RETRY_AFTER_SECONDS,
    STORE_UNAVAILABLE,
    failed_only_for_the_store,
    store_unavailable,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    import strawberry

    from edge.gateway_settings import Settings

logger = logging.getLogger("tsp.gateway")

_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


class _RequestAdapter(StarletteRequestAdapter):
    """Strawberry's adapter, keeping the Starlette request within reach of body parsing."""

    def __init__(self, request: Request) -> None:
        super().__init__(request)
        self.starlette = request


class _TooManyStreams(Exception):
    """The caller already holds as many streams as it may."""


class RequestRefused(HTTPException):
    """A request the endpoint will not run, with the status and code to answer it with."""

    def __init__(
        self, status_code: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status_code, message)
        self.code = code
        self.headers = headers


_CODES_BY_STATUS = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}
_JSON_BODY_TYPES = frozenset({"application/json", "application/graphql-response+json"})
"""The media types of a request body the endpoint reads (in lower case)."""
ALLOWED_METHODS = "GET, HEAD, POST"
"""The ``Allow`` header of every 405 the endpoint answers (RFC 9110 requires one)."""

PERSISTED_QUERY_NOT_FOUND = "PersistedQueryNotFound"
"""The message of an APQ miss: Apollo Client and urql compare it (urql only it, not the code)
before they resend the operation with its text."""

# The parameters of a GraphQL request sent by GET; the JSON-valued ones are decoded.
_GET_PARAMETERS = frozenset({"query", "operationName", "documentId", "variables", "extensions"})
_JSON_PARAMETERS = frozenset({"variables", "extensions"})


class _LineFeedSSE(SSETransport):
    """GraphQL over SSE with LF line ends: the SSE format allows CRLF too, but urql's parser
    splits events on a blank line of LFs only and would read no event at all."""

    def encode_event(self, event: str, data: str | None = None) -> str:
        return super().encode_event(event, data).replace("\r\n", "\n")

    def encode_comment(self, comment: str) -> str:
        return f": {comment}\n\n"


class GatewayGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI view with our context, bearer tokens, trusted documents and
    GraphQL-shaped transport errors."""

    request_adapter_class = _RequestAdapter
    stream_transport_classes_by_protocol = {GRAPHQL_SSE_PROTOCOL: _LineFeedSSE}
    graphql_transport_ws_handler_class = GatewayTransportWSHandler
    websocket_adapter_class = GatewayWebSocketAdapter

    def __init__(
        self,
        settings: Settings,
        schema: strawberry.Schema,
        ide_page: Callable[[Mapping[str, str] | None], Response] | None = None,
    ) -> None:
        """``ide_page`` answers a browser's bare GET when GraphiQL is served
        (``settings.serves_graphiql``), given the demo tokens in demo mode (``web.graphiql``)."""
        streams = settings.streams
        super().__init__(
            schema,
            allow_queries_via_get=True,
            graphql_ide="graphiql" if settings.serves_graphiql and ide_page else None,
            # Subscriptions: graphql-transport-ws on a WebSocket, or GraphQL over SSE on a POST
            # that accepts text/event-stream (the legacy graphql-ws protocol is not offered).
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_SSE_PROTOCOL),
            connection_init_wait_timeout=timedelta(seconds=streams.connection_init_seconds),
            max_subscriptions_per_connection=streams.subscriptions_per_connection,
            allowed_origins=settings.transport.cors_origins,
        )
        self.settings = settings
        self.ide_page = ide_page
        self.policy = settings.policy
        self.connection_limits = ConnectionLimits(
            per_caller=streams.connections_per_caller, ping_seconds=streams.ping_seconds
        )
        self.caller_key = caller_of
        self.authenticator = Authenticator(settings.jwt_secret, settings.oidc)
        self.executions = ExecutionGate(settings.transport.max_executing)

    @staticmethod
    def documents_of(connection: Any) -> TrustedDocuments:
        """The trusted document registry of the app serving ``connection`` (a WebSocket)."""
        adapter = getattr(connection, "ws", connection)
        registry: TrustedDocuments = adapter.app.state.documents
        return registry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await super().__call__(scope, receive, send)
            return
        connection: Request | WebSocket = (
            Request(scope, receive) if scope["type"] == "http" else WebSocket(scope, receive, send)
        )
        try:
            viewer = await self.authenticator.viewer(_one_authorization(connection))
        except KeysUnavailableError as error:
            # Not the caller's fault: the token may be good, its key just cannot be had now.
            unavailable = refusal(
                503,
                "IDENTITY_PROVIDER_UNAVAILABLE",
                str(error),
                headers={"Retry-After": str(error.retry_after)},
            )
            await _answer(unavailable, scope, receive, send)
            return
        except InvalidTokenError as error:
            # A bad token is refused outright: silently serving it as anonymous would hide
            # the mistake from the client. A WebSocket's upgrade too, before it is accepted
            # (its connection_init must not be able to stand in for a refused header).
            response: Response = refusal(
                401,
                "UNAUTHENTICATED",
                str(error),
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
            await _answer(response, scope, receive, send)
            return
        scope.setdefault("state", {})["viewer"] = viewer
        if isinstance(connection, WebSocket):
            # The caller is named again by connection_init (edge.websocket), which checks
            # this header afresh when it names no token of its own.
            await super().__call__(scope, receive, send)
            return
        request = connection
        # The gateway layer's view of this request; a refusal before execution reports its
        # cost from it (nothing spent).
        throttle: Throttle = request.app.state.throttle
        gate = GatewayRequest(
            caller=caller_of(viewer, _client(request)),
            admin=viewer.is_admin,
            throttle=throttle,
            validation_lane=request.app.state.validation_lane,
        )
        scope["state"]["gateway"] = gate
        cooling = await cooling_refusal(self.policy, gate)
        if cooling is not None:
            retry_after = (cooling.extensions or {})["retryAfterSeconds"]
            response = refusal(
                200,
                "THROTTLED",
                cooling.message,
                headers={"Retry-After": str(retry_after)},
                extensions=cost_report(self.policy, gate),
                retryAfterSeconds=retry_after,
            )
            await response(scope, receive, send)
            return
        try:
            try:
                response = await self.run(request)
            except _TooManyStreams:
                # Not charged: the request is sound, its caller just holds enough streams.
                response = refusal(
                    429,
                    "TOO_MANY_CONNECTIONS",
                    "Too many connections: at most "
                    f"{self.connection_limits.per_caller} streams per caller",
                )
            except StoreUnavailableError as error:
                # Outside execution (reading a trusted document): the same code and status
                # as a field that needed the store, never a bare driver message.
                logger.warning("store unavailable before execution: %s", error)
                response = refusal(
                    503,
                    STORE_UNAVAILABLE,
                    "The data store is unavailable; nothing was changed. Retry later.",
                    headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
                    extensions=cost_report(self.policy, gate),
                    retryable=True,
                )
            except HTTPException as error:
                charged = await charge_refused_request(self.policy, gate)
                if charged is not None and not charged[1].granted:
                    cost, decision = charged
                    response = refusal(
                        200,
                        "THROTTLED",
                        throttled_message(cost, decision, "this refused request"),
                        headers={"Retry-After": str(decision.retry_after_seconds)},
                        extensions=cost_report(self.policy, gate),
                        retryAfterSeconds=decision.retry_after_seconds,
                    )
                else:
                    code = getattr(error, "code", None) or _CODES_BY_STATUS.get(
                        error.status_code, "BAD_REQUEST"
                    )
                    response = refusal(
                        error.status_code,
                        code,
                        error.reason,
                        headers=_refusal_headers(error),
                        extensions=cost_report(self.policy, gate),
                    )
            await response(scope, receive, send)
        finally:
            if gate.holds_stream:
                opened = self.connection_limits.open
                opened[gate.caller] -= 1
                if opened[gate.caller] <= 0:
                    del opened[gate.caller]

    async def get_context(self, request: Any, response: Any) -> Context:
        if isinstance(request, WebSocket):
            # The caller names itself in connection_init (see edge.websocket). The connection's
            # context is the template of its operations' own (each a request of its own).
            client = _client(request)
            return StreamContext(
                store=request.app.state.store,
                viewer=ANONYMOUS,
                # The connection's (edge.request_log); each operation's is made from it.
                request_id=request_id_var.get(),
                webhook_targets=self.settings.streams.webhook_allowed_hosts,
                request_limits=self.settings.request_limits,
                base_url=str(request.base_url).rstrip("/").replace("ws", "http", 1),
                gateway=GatewayRequest(
                    caller=caller_of(ANONYMOUS, client),
                    throttle=request.app.state.throttle,
                    validation_lane=request.app.state.validation_lane,
                ),
                client=client,
                upgrade_authorization=_one_authorization(request),
            )
        viewer: Viewer = request.state.viewer
        gate: GatewayRequest = request.state.gateway
        # Headers the gateway layer sets (Retry-After) go out with Strawberry's response.
        gate.response_headers = response.headers
        gate.executions = self.executions
        return StreamContext(
            store=request.app.state.store,
            viewer=viewer,
            request_id=request_id_var.get(),
            webhook_targets=self.settings.streams.webhook_allowed_hosts,
            request_limits=self.settings.request_limits,
            base_url=str(request.base_url).rstrip("/"),
            gateway=gate,
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        assert self.ide_page is not None  # the IDE is off without a page
        tokens = request.app.state.demo_tokens if self.settings.demo else None
        return self.ide_page(tokens or None)

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        # Only a bare GET: one naming a document by id or APQ hash, from a client that
        # accepts anything (curl, a CDN), asks for that document's answer.
        return super().should_render_graphql_ide(request) and not any(
            request.query_params.get(name) is not None for name in _GET_PARAMETERS
        )

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> GraphQLRequestData:
        gate: GatewayRequest = _starlette(request).state.gateway
        if not accepts_an_answer(_starlette(request).scope):
            raise RequestRefused(
                406,
                "NOT_ACCEPTABLE",
                "The Accept header takes none of the types this endpoint answers in: "
                "application/graphql-response+json, application/json, text/event-stream.",
            )
        if request.method == "GET":
            data = _query_string_request(_starlette(request))
            gate.request_characters = len(_starlette(request).url.query)
        else:
            content_type, _ = parse_content_type(request.content_type or "")
            # Media types are case-insensitive (RFC 9110 8.3.1).
            if content_type.lower() not in _JSON_BODY_TYPES:
                raise RequestRefused(
                    415,
                    "UNSUPPORTED_MEDIA_TYPE",
                    "Send the request body as JSON with 'Content-Type: application/json'.",
                )
            _refuse_content_codings(request.headers.get("content-encoding"))
            body = await request.get_body()
            gate.request_characters = len(body)
            data = _json_object(body)
        if data.get("operationName") == "":
            # GraphQL over HTTP: an empty operationName is the same as none.
            data["operationName"] = None
        for name, kinds in (("operationName", str), ("variables", dict), ("extensions", dict)):
            value = data.get(name)
            if value is not None and not isinstance(value, kinds):
                kind = "a string" if kinds is str else "an object"
                raise RequestRefused(400, "BAD_REQUEST", f"'{name}' must be {kind} or null.")
        query = await self._document_text(request, data)
        gate.operation_name = data.get("operationName")
        streams = await self._streams(request, gate, query)
        return GraphQLRequestData(
            query=query,
            variables=data.get("variables"),
            operation_name=data.get("operationName"),
            extensions=data.get("extensions"),
            protocol=_LineFeedSSE.protocol if streams else "http",
        )

    async def _streams(
        self, request: AsyncHTTPRequestAdapter, gate: GatewayRequest, query: str
    ) -> bool:
        """Whether the request is answered as a stream of events (GraphQL over SSE) rather
        than in JSON: a query or mutation when the client prefers a stream, a subscription,
        which no JSON answer can carry, whenever the client accepts one at all.

        Strawberry would stream whenever the Accept header lists text/event-stream. A GET
        never streams: it is for queries, and a mutation streamed would be refused inside the
        stream (200, no code) instead of with a 405."""
        scope = _starlette(request).scope
        if request.method == "GET":
            return False
        if wants_event_stream(scope):
            return True
        if not admits_event_stream(scope):
            return False
        document = gate.trusted_document
        if document is None:
            # Parsed here, within the gateway's bounds, and handed to execution, which reads
            # it from the gate instead of parsing it again.
            gate.parsed = await parse_document(gate, query, self.policy.limits)
            document = gate.parsed.document
        if document is None:
            return False  # its syntax error is answered in JSON, as ever
        try:
            # The operation Strawberry checks the type of: the named one, or the first.
            operation = get_operation_type(document, gate.operation_name)
        except RuntimeError:
            return False  # no operation of that name: answered in JSON, with its code
        return operation is OperationType.SUBSCRIPTION

    async def execute_operation(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: Context,
        root_value: None,
        sub_response: Response,
    ) -> ExecutionResult | list[ExecutionResult] | SubscriptionExecutionResult:
        if isinstance(request_data, GraphQLRequestData) and request_data.protocol != "http":
            await self._open_stream(request, context)
        return await super().execute_operation(
            request, request_adapter, request_data, context, root_value, sub_response
        )

    async def _open_stream(self, request: Request, context: Context) -> None:
        """Takes the place a stream holds among its caller's connections, like a WebSocket
        does (or raises :class:`_TooManyStreams`); a stream ends when the token that opened
        it expires, and may outlive the request timeout if it runs a subscription."""
        assert isinstance(context, StreamContext)
        gate = context.gateway
        limits = self.connection_limits
        if limits.open[gate.caller] >= limits.per_caller:
            # As for a throttled caller: a client reopening streams at once, over and over,
            # is answered about once a second per connection, not as fast as it asks.
            await asyncio.sleep(COOLING_PAUSE_SECONDS)
            raise _TooManyStreams
        limits.open[gate.caller] += 1
        gate.holds_stream = gate.streamed = True
        gate.deadline = request_deadline(request.scope)
        # Read only here: a request that does not stream runs no subscription.
        context.expires_at = token_expiry(request.headers.get("authorization"))

    async def _document_text(self, request: AsyncHTTPRequestAdapter, data: dict[str, Any]) -> str:
        """The text of the document the request runs, marking trusted documents on the
        request's gateway state so they skip parsing and validation."""
        registry: TrustedDocuments = _starlette(request).app.state.documents
        gate: GatewayRequest = _starlette(request).state.gateway
        query = data.get("query")
        if query is not None and not isinstance(query, str):
            raise RequestRefused(400, "BAD_REQUEST", "'query' must be a string.")
        extensions = data.get("extensions") or {}
        persisted = extensions.get("persistedQuery")
        identifier: str | None = None
        if data.get("documentId") is not None:  # null is no value, as for the other parameters
            identifier = data["documentId"]
            if not is_document_id(identifier):
                raise RequestRefused(
                    400,
                    "INVALID_DOCUMENT_ID",
                    "'documentId' must be 'sha256:' followed by 64 lowercase hex digits.",
                )
            if query is not None and document_id(query) != identifier:
                # As an APQ hash must be its query's: which of the two was meant is not the
                # gateway's to guess.
                raise RequestRefused(
                    400,
                    "DOCUMENT_ID_MISMATCH",
                    "'documentId' is not the id of the 'query' sent with it: send one of them.",
                )
        elif persisted is not None:
            identifier = _apq_identifier(persisted)
            if query is not None and document_id(query) != identifier:
                raise RequestRefused(
                    400,
                    "PERSISTED_QUERY_HASH_MISMATCH",
                    "persistedQuery.sha256Hash is not the SHA-256 of the query sent with it.",
                )
        elif query is not None and self.policy.trusted_documents_only:
            identifier = document_id(query)
        if identifier is not None:
            trusted = await registry.trusted(identifier)
            if trusted is not None:
                gate.trusted_document = trusted.document
                return trusted.text
        if self.policy.trusted_documents_only:
            if query is None and identifier is not None:
                raise _apq_miss() if persisted is not None else _not_found(identifier)
            raise RequestRefused(
                400,
                "TRUSTED_DOCUMENT_REQUIRED",
                "This gateway runs registered documents only: send a registered "
                "'documentId' (see 'tsp-gateway documents add').",
            )
        if data.get("documentId") is not None:
            raise _not_found(data["documentId"])
        if persisted is not None:
            if query is None:
                remembered = registry.remembered(identifier or "")
                if remembered is None:
                    raise _apq_miss()
                return remembered
            registry.remember(query)
        if not query:
            # An empty one too: Strawberry would raise, which a stream would carry masked.
            raise RequestRefused(400, "MISSING_QUERY", "The request has no 'query'.")
        return query

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        # Strawberry's own version answers these in plain text; here each gets a code.
        try:
            return await self.schema.execute(
                request_data.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                # A JSON answer holds one result: a subscription needs a stream.
                allowed_operation_types=OperationType.from_http(request_adapter.method)
                - {OperationType.SUBSCRIPTION},
                operation_extensions=request_data.extensions,
            )
        except CannotGetOperationTypeError as error:
            # A GraphQL result like OPERATION_NAME_REQUIRED (edge.extension): 200 under
            # application/json, the spec's 400 under application/graphql-response+json.
            unknown = unknown_operation(request_data.operation_name)
            raise RequestRefused(200, "UNKNOWN_OPERATION_NAME", unknown.message) from error
        except InvalidOperationTypeError as error:
            raise _wrong_method(error.operation_type, request_adapter.method) from error
        except MissingQueryError as error:
            raise RequestRefused(400, "MISSING_QUERY", "The request has no 'query'.") from error
        finally:
            context.loaders.release()  # answered: see Loaders.release

    def encode_json(self, data: object) -> str:
        return encode_json(data)

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        results = response_data if isinstance(response_data, list) else [response_data]
        for result in results:
            if _failed_before_execution(result):
                # GraphQL over HTTP: a request error (parsing, validation, a refusal before
                # execution) has no data entry at all, whatever the media type.
                result.pop("data", None)
        if all(failed_only_for_the_store(result) for result in results):
            # Retryable, and nothing in the response succeeded: say so at the HTTP level too.
            sub_response.status_code = 503
            sub_response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return super().create_response(response_data, sub_response)

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        if result.errors:
            # An error raised in a hook of the gateway layer, outside any field, escapes the
            # masking extension: the store's is still answered with its code.
            result.errors = [
                store_unavailable(error, request_id_var.get())
                if isinstance(error.original_error, StoreUnavailableError)
                else error
                for error in result.errors
            ]
        processed = await super().process_result(request, result)
        if not self.policy.limits.introspection:
            drop_suggestions(processed.get("errors") or ())
        return processed


def _client(request: Request | WebSocket) -> str:
    return request.client.host if request.client else "unknown"


def _starlette(request: AsyncHTTPRequestAdapter) -> Request:
    assert isinstance(request, _RequestAdapter)
    return request.starlette


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RequestRefused(400, "INVALID_BODY", "The request body is not valid UTF-8.") from error
    data = _decoded(text, "INVALID_BODY", "The request body")
    if isinstance(data, list):
        raise RequestRefused(
            400, "BATCHING_NOT_SUPPORTED", "Send one operation per request (batching is off)."
        )
    if not isinstance(data, dict):
        raise RequestRefused(400, "INVALID_BODY", "The request body must be a JSON object.")
    return data


def _refuse_content_codings(content_encoding: str | None) -> None:
    """Refuses a body sent in a content coding (gzip, ...): it would be read as JSON text and
    refused as not UTF-8. 415 with the codings accepted, as RFC 9110 15.5.16 asks."""
    codings = [part.strip().lower() for part in (content_encoding or "").split(",")]
    if any(coding not in ("", "identity") for coding in codings):
        raise RequestRefused(
            415,
            "UNSUPPORTED_CONTENT_ENCODING",
            "Send the request body without a Content-Encoding: it is read as it arrives.",
            headers={"Accept-Encoding": "identity"},
        )


def _refusal_headers(error: HTTPException) -> dict[str, str] | None:
    headers = dict(getattr(error, "headers", None) or {})
    if error.status_code == 405:
        headers["Allow"] = ALLOWED_METHODS
    return headers or None


def _decoded(text: str, code: str, what: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError as error:
        raise RequestRefused(400, code, f"{what} nests too deeply.") from error
    except json.JSONDecodeError as error:
        raise RequestRefused(400, code, f"{what} is not valid JSON ({error.msg}).") from error
    except ValueError as error:
        # An integer of more digits than Python converts (4300): not a JSONDecodeError.
        raise RequestRefused(400, code, f"{what} holds a number too long to read.") from error


def _query_string_request(request: Request) -> dict[str, Any]:
    """The GraphQL request a GET carries in its query string (GraphQL over HTTP): each
    parameter once, ``variables`` and ``extensions`` as JSON; other parameters are ignored."""
    data: dict[str, Any] = {}
    for name, value in request.query_params.multi_items():
        if name not in _GET_PARAMETERS:
            continue
        if name in data:
            raise RequestRefused(
                400, "INVALID_PARAMETER", f"The query parameter '{name}' is given more than once."
            )
        if name in _JSON_PARAMETERS:
            # An empty value is no value, as clients that always send the key mean it.
            what = f"The query parameter '{name}'"
            data[name] = _decoded(value, "INVALID_PARAMETER", what) if value else None
        else:
            data[name] = value
    return data


def _failed_before_execution(result: GraphQLHTTPResponse) -> bool:
    errors = result.get("errors") or []
    return (
        result.get("data") is None
        and bool(errors)
        and not any(isinstance(e, dict) and e.get("path") for e in errors)
    )


def _apq_identifier(persisted: object) -> str:
    if (
        not isinstance(persisted, dict)
        or persisted.get("version") != 1
        or not isinstance(persisted.get("sha256Hash"), str)
        or not _SHA256_HEX.match(persisted["sha256Hash"])
    ):
        raise RequestRefused(
            400,
            "INVALID_PERSISTED_QUERY",
            "extensions.persistedQuery must be {version: 1, sha256Hash: <64 lowercase hex>}.",
        )
    return "sha256:" + str(persisted["sha256Hash"])


def _wrong_method(operation: OperationType, method: str) -> RequestRefused:
    if operation is OperationType.SUBSCRIPTION and method == "POST":
        return RequestRefused(
            406,
            "SUBSCRIPTION_NEEDS_STREAM",
            "A subscription streams its events: send it with 'Accept: text/event-stream' "
            "(GraphQL over SSE) or over a WebSocket (graphql-transport-ws).",
        )
    how = "POST"
    if operation is OperationType.SUBSCRIPTION:
        how = "POST ('Accept: text/event-stream') or over a WebSocket"
    return RequestRefused(
        405,
        "METHOD_NOT_ALLOWED",
        f"A {operation.value} cannot be sent with {method}: send it with {how}.",
    )


def _not_found(identifier: str) -> RequestRefused:
    # A well-formed GraphQL response (200 under application/json; edge.graphql_http makes it
    # the spec's 400 for a client accepting application/graphql-response+json).
    return RequestRefused(
        200, "PERSISTED_QUERY_NOT_FOUND", f"No document is registered as {identifier}."
    )


def _apq_miss() -> RequestRefused:
    # Apollo Client and urql resend the operation with its text on this message, under either
    # status (both read the errors of a 400 answer too).
    return RequestRefused(200, "PERSISTED_QUERY_NOT_FOUND", PERSISTED_QUERY_NOT_FOUND)


def _answer(response: Response, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
    """Sends ``response``: a WebSocket's handshake is answered with it (Starlette sends it as
    a denial response); a server without denial responses answers a handshake closed before it
    was accepted with 403."""
    if scope["type"] == "websocket" and "websocket.http.response" not in scope.get(
        "extensions", {}
    ):
        return send({"type": "websocket.close", "code": 1008})
    return response(scope, receive, send)


def _one_authorization(connection: HTTPConnection) -> str | None:
    """The request's (or WebSocket upgrade's) ``Authorization`` header; several are refused
    rather than one picked by its place (a proxy that adds one must not decide who the caller
    is)."""
    values = connection.headers.getlist("authorization")
    if len(values) > 1:
        raise InvalidTokenError("send one Authorization header, not several")
    return values[0] if values else None
