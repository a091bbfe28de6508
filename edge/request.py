"""What the gateway layer knows of one request, carried in the GraphQL context."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from graphql import DocumentNode, GraphQLError

from edge.executing import ExecutionGate
from edge.throttle import Throttle
from edge.validation_lane import ValidationLane
from resolvers.context import Context

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
"""The id of the HTTP request being served, for logs and masked errors."""


@dataclass(frozen=True)
class ParsedDocument:
    """What the gateway's parser made of a request's document (``edge.extension``)."""

    text: str
    # ``None`` when the text did not parse: Strawberry parses it again to answer its syntax
    # error, as when the parser meets one in execution.
    document: DocumentNode | None
    # Whether no cache keeps the tree: its plans are taken apart once it is answered.
    uncached: bool = False


@dataclass
class GatewayRequest:
    """The caller as the throttle sees it, the trusted document a request named (already
    parsed and validated), and what the request cost."""

    # ``role:subject`` for a token's caller, ``address:<client address>`` for anonymous ones.
    caller: str = "address:unknown"
    admin: bool = False
    throttle: Throttle | None = None
    trusted_document: DocumentNode | None = None
    # ``operationName`` as the client sent it (``None`` when it chose none).
    operation_name: str | None = None
    # The request's size (a POST's body, a GET's query string): what a refusal is charged
    # for, the variables and every other part read as much as the document.
    request_characters: int = 0
    # Headers to add to the HTTP response (``Retry-After`` when throttled).
    response_headers: MutableMapping[str, str] = field(default_factory=dict)
    requested_cost: int = 0
    actual_cost: int = 0
    # What validating the document afresh cost (``edge.extension.validation_cost``): part of
    # both costs, never refunded; 0 when the validation cache answered.
    validation_cost: int = 0
    # The part of it paid before validating (all of it, unless validation was inline and free).
    validation_paid: int = 0
    # The worker that parses and validates large fresh documents off the event loop (None:
    # on the loop, as for exports and benchmarks of the layer alone).
    validation_lane: ValidationLane | None = None
    # Why a long document could not be parsed (its syntax error, or the lane refusing it):
    # validation answers it, the document having been taken for a stand-in.
    parse_refusal: GraphQLError | None = None
    # Whether the caller was refused THROTTLED before validating (nothing more is charged).
    throttled_before_validation: bool = False
    # The actual cost as execution counted it while assembling the answer (a planned query
    # without abstract types), which spares walking the answer again; None otherwise.
    counted_cost: int | None = None
    # Where a query waits for its turn to execute (see edge.executing); None: it does not.
    executions: ExecutionGate | None = None
    # The request timeout of an SSE stream, lifted if the operation is a subscription.
    deadline: asyncio.Timeout | None = None
    # The document as the parser read it before execution, to choose between a stream and
    # JSON (``edge.view``): execution takes it from here instead of parsing it again.
    parsed: ParsedDocument | None = None
    # Whether the request is answered as a stream of events, holding one of its caller's
    # connections for as long as it lasts (``edge.view``).
    holds_stream: bool = False
    # Whether the answer is a stream of results (GraphQL over SSE, or an operation on a
    # WebSocket), which carries a request error as its first result: the gateway then refuses
    # a document without the operation named itself (``edge.extension``), where Strawberry
    # would raise an exception only the JSON endpoint answers.
    streamed: bool = False

    def fresh(self, **fields: Any) -> GatewayRequest:
        """A new request of the same caller (an operation on a WebSocket, whose connection
        holds this one as its template): who calls and where its work goes are kept; what it
        names, costs and has paid starts afresh, with ``fields`` set."""
        return GatewayRequest(
            caller=self.caller,
            admin=self.admin,
            throttle=self.throttle,
            validation_lane=self.validation_lane,
            executions=self.executions,
            **fields,
        )


@dataclass
class GatewayContext(Context):
    """The context of an operation the gateway runs: a resolver's context plus the gateway
    layer's view of the request (resolvers never read it; the layer's extensions do)."""

    gateway: GatewayRequest = field(default_factory=GatewayRequest)
