"""The gateway layer inside GraphQL execution: limits, caches, cost and throttling.

Everything here runs before the first resolver: the parser stops at the token limit, the
structural limits are checked in one linear pass, then the specification's rules run (parsing
and the rules cached across requests; see :mod:`edge.validation`), and the requested cost is
checked against the single-query maximum and then against the caller's bucket. After
execution the actual cost is counted from the response and the difference refunded. A
document refused before it ran spends :func:`refusal_cost` instead. Every response reports
both in ``extensions.cost``.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLSyntaxError,
    NameNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    parse,
)
from graphql import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionResult
from strawberry.types.execution import ParseOptions
from strawberry.utils.operation import get_operation_type

from edge.cost import actual_cost, requested_cost, select_operation
from edge.document_cache import DocumentCache
from edge.document_shape import DocumentShape, measure
from edge.errors import gateway_error
from edge.limits import Limits, length_problem, structural_problems
from edge.metrics import count_refusal, observe_cost
from edge.plan_assembly import release_plans
from edge.request import GatewayRequest, ParsedDocument
from edge.throttle import Decision, ThrottlePolicy, ThrottleStatus
from edge.validation import RULES, validate_rules
from edge.validation_lane import (
    RETRY_AFTER_SECONDS,
    LaneRefusal,
    LoopFirst,
    parse_loop_first,
)
from edge.variables import variables_problems
from schema.extensions import PARSE_FAILED

CACHE_SIZE = 512
"""Distinct documents the parser and validation caches keep (each an LRU)."""
PARSED: DocumentCache[DocumentNode] = DocumentCache(CACHE_SIZE)
"""Short documents already parsed, by their text and token limit, shared by every request."""
VALIDATED: DocumentCache[list[GraphQLError]] = DocumentCache(CACHE_SIZE)
"""The rules' errors for short documents already validated, shared by every request."""

LANE_SELECTIONS = 100
"""Field selections past which a fresh document is validated in the validation lane (off the
event loop) rather than on it: below, validating takes about as long as handing it over."""

CACHED_LENGTH = 2_000
"""Longer documents are parsed and validated afresh each time (within the limits, a few tens
of milliseconds) instead of kept: a parsed document holds about 120 bytes per character, and
512 distinct long ones, sent varied on purpose, would keep hundreds of MiB."""


@dataclass(frozen=True)
class GatewayPolicy:
    """What the gateway allows: structural limits, the single-query cost maximum,
    throttling, and whether only trusted documents run."""

    limits: Limits = field(default_factory=Limits)
    max_query_cost: int = 1_000
    throttle: ThrottlePolicy = field(default_factory=ThrottlePolicy)
    trusted_documents_only: bool = False


def _gate(extension: SchemaExtension) -> GatewayRequest:
    gate = getattr(extension.execution_context.context, "gateway", None)
    return gate if isinstance(gate, GatewayRequest) else GatewayRequest()


class _Parser(SchemaExtension):
    """Hands execution the request's document as :func:`parse_document` reads it (once per
    request: the view may have read it already), leaving trusted documents (already parsed)
    alone."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._parsed_once: DocumentNode | None = None
        """The document this request parsed and no cache keeps: its plans are taken apart
        once it is answered (:func:`edge.plan_assembly.release_plans`)."""

    def on_operation(self) -> Iterator[None]:
        yield
        if self._parsed_once is not None:
            release_plans(self._parsed_once)

    async def on_parse(self) -> AsyncIterator[None]:
        context = self.execution_context
        gate = _gate(self)
        if context.graphql_document is None:
            query = context.query or ""
            parsed = gate.parsed
            if parsed is None or parsed.text != query:
                parsed = await parse_document(gate, query, self.limits)
            if parsed.uncached:
                self._parsed_once = parsed.document
            # None: Strawberry parses it again inside its own error handling, which makes the
            # syntax error a response instead of an exception escaping every hook.
            context.graphql_document = parsed.document
        document = context.graphql_document
        if gate.streamed and document is not None and not _has_operation(document, gate):
            # Strawberry raises for want of the operation as parsing ends, which only the JSON
            # endpoint answers (edge.view); a stream would carry it masked, as INTERNAL. Taken
            # for a stand-in instead, the document is refused by validation, with its code.
            gate.parse_refusal = unknown_operation(gate.operation_name)
            context.graphql_document = _stand_in(gate.operation_name)
        yield


def _has_operation(document: DocumentNode, gate: GatewayRequest) -> bool:
    """Whether ``document`` has the operation the request names (any, when it names none)."""
    try:
        get_operation_type(document, gate.operation_name)
    except RuntimeError:
        return False
    return True


def unknown_operation(name: str | None) -> GraphQLError:
    """The refusal of a document without the operation named ``name`` (without any operation,
    when the request names none), on every transport."""
    return gateway_error(
        "No operation in the document has that name."
        if name is not None
        else "The document has no operation to run.",
        "UNKNOWN_OPERATION_NAME",
    )


async def parse_document(gate: GatewayRequest, query: str, limits: Limits) -> ParsedDocument:
    """``query`` as the gateway reads it: a document too long to read is not read at all, a
    long one is parsed afresh in the validation lane, a short one through the parser cache
    (:data:`PARSED`, which keeps short documents only); each stops at the token limit.

    Execution parses here (:class:`_Parser`), unless the view did first to learn whether the
    operation is a subscription (``edge.view``); either way the errors are answered where
    they always are: in the validation step, or by Strawberry parsing again."""
    if length_problem(query, limits) is not None:
        # Not read at all: validation refuses it (see _Validation) in place of a stand-in,
        # since an error raised while parsing would escape Strawberry's streaming transports.
        return ParsedDocument(query, _stand_in(gate.operation_name))
    options = ParseOptions(max_tokens=limits.max_tokens)
    if len(query) > CACHED_LENGTH:
        # Parsed afresh each time, in the validation lane: up to the token limit, as long
        # as validating it.
        document = await _parse_long(gate, query, options, limits)
        return ParsedDocument(query, _unchained(document), uncached=True)
    key = (query, limits.max_tokens)
    kept = PARSED.lookup(key)
    if kept is not None:
        return ParsedDocument(query, kept)
    try:
        document = _unchained(parse(query, **options))
    except GraphQLError:
        return ParsedDocument(query, None)  # not cached: see _Parser.on_parse
    return ParsedDocument(query, document, uncached=not PARSED.offer(key, document))


async def _parse_long(
    gate: GatewayRequest, query: str, options: ParseOptions, limits: Limits
) -> DocumentNode:
    """The long document ``query``, or a stand-in and ``gate.parse_refusal`` (its syntax
    error, or the lane's refusal) for validation to answer, rather than Strawberry parsing it
    all again on the event loop to find the error."""
    lane = gate.validation_lane
    try:
        if lane is None:
            return parse(query, **options)
        return await lane.run(gate.caller, lambda: parse_loop_first(query, **options))
    except LaneRefusal as refusal:
        gate.response_headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        gate.parse_refusal = refusal.error
    except GraphQLError as error:
        _name_token_limit([error], limits.max_tokens)
        # Answered in the validation step (whose errors are labelled validation failures),
        # it is still a syntax error: it says so itself.
        if not (error.extensions or {}).get("code"):
            error.extensions = {**(error.extensions or {}), "code": PARSE_FAILED}
        gate.parse_refusal = error
    return _stand_in(gate.operation_name)


def _unchained(document: DocumentNode) -> DocumentNode:
    """``document`` with its tokens no longer linked to each other (nothing reads the links
    after parsing: locations are offsets into the source). Linked, the tokens form a cycle
    only the garbage collector frees: a thousand objects per large document, whose full
    collections then held the event loop 0.1-1 s under the duplicated-fields attack. Unlinked,
    they go as soon as the document does, but for those its nodes' locations hold."""
    token = document.loc.start_token if document.loc is not None else None
    if token is None or token.next is None:  # no locations, or unchained already (cached)
        return document
    while token is not None:
        token.prev, token.next, token = None, None, token.next
    return document


def _stand_in(operation_name: str | None) -> DocumentNode:
    """The document a request that cannot run is taken for until validation refuses it (one
    too long to read, or naming no operation of its document): one operation answering to the
    name the client chose, whatever it is, so that Strawberry finds the operation it asked
    for."""
    typename = FieldNode(name=NameNode(value="__typename"))
    operation = OperationDefinitionNode(
        operation=OperationType.QUERY,
        name=NameNode(value=operation_name) if operation_name is not None else None,
        selection_set=SelectionSetNode(selections=(typename,)),
    )
    return DocumentNode(definitions=(operation,))


def _name_token_limit(errors: Iterable[GraphQLError], maximum: int) -> None:
    """Give the parser's "more than N tokens" syntax error the limit's code and details."""
    for error in errors:
        if isinstance(error, GraphQLSyntaxError) and "tokens" in error.message:
            error.message = (
                f"The document has more than {maximum} tokens; the limit for tokens is {maximum}."
            )
            error.extensions = {
                "code": "MAX_TOKENS_EXCEEDED",
                "limit": "tokens",
                "maximum": maximum,
                "found": f">{maximum}",
            }
            count_refusal("MAX_TOKENS_EXCEEDED")


class _Validation(SchemaExtension):
    """The structural limits, then the specification's rules: answered by the validation cache
    (short documents only are kept), or else paid for first and run (large documents in the
    validation lane); all skipped for trusted documents (validated when the process first
    loaded them)."""

    def __init__(self, limits: Limits, max_query_cost: int, charge: bool) -> None:
        self.limits = limits
        self.max_query_cost = max_query_cost
        # Whether fresh validation is paid from the caller's bucket (throttling on).
        self.charge = charge

    async def on_validate(self) -> AsyncIterator[None]:
        context = self.execution_context
        gate = _gate(self)
        if gate.parse_refusal is not None:
            # Its document was taken for a stand-in (a trusted document's too).
            context.pre_execution_errors = [gate.parse_refusal]
            yield
            return
        if gate.trusted_document is not None or context.graphql_document is None:
            context.pre_execution_errors = []
            yield
            return
        # Cheap checks first: a document over a limit never reaches the rules.
        too_long = length_problem(context.query or "", self.limits)
        if too_long is not None:
            count_refusal((too_long.extensions or {})["code"])
            context.pre_execution_errors = [too_long]
            yield
            return
        shape = measure(context.graphql_document)
        problems = structural_problems(context.graphql_document, self.limits, shape)
        if problems:
            context.pre_execution_errors = problems
            for error in problems:
                count_refusal((error.extensions or {})["code"])
            yield
            return
        context.pre_execution_errors = await self._rules(gate, shape)
        yield

    async def _rules(self, gate: GatewayRequest, shape: DocumentShape) -> list[GraphQLError]:
        """The rules' errors: the cache's, or the caller pays for validating afresh, then it
        runs (in the lane when large)."""
        context = self.execution_context
        schema, document = context.schema._schema, context.graphql_document
        rules = context.validation_rules
        assert document is not None
        hide = not self.limits.introspection
        key = (document, rules, hide) if len(context.query or "") <= CACHED_LENGTH else None
        if key is not None:
            known = VALIDATED.lookup(key)
            if known is not None:
                return known
        selections = shape.selections + shape.fragment_selections
        cost = validation_cost(selections, self.max_query_cost)
        throttle = gate.throttle if self.charge else None
        if throttle is not None and cost > 0:
            # Paid before the work, so a caller who cannot pay makes none.
            decision = await throttle.spend(gate.caller, cost, admin=gate.admin)
            if not decision.granted:
                gate.response_headers["Retry-After"] = str(decision.retry_after_seconds)
                gate.throttled_before_validation = True
                return [throttled_error(cost, decision, "validating this document")]
            gate.validation_paid = cost
        gate.validation_cost = cost
        lane = gate.validation_lane if selections > LANE_SELECTIONS else None

        def work() -> list[GraphQLError]:
            # In the lane, pausing for the event loop as it goes.
            return validate_rules(schema, document, (*rules, LoopFirst), hide_suggestions=hide)

        try:
            if lane is None:
                errors = validate_rules(schema, document, rules, hide_suggestions=hide)
            else:
                errors = await lane.run(gate.caller, work)
        except LaneRefusal as refusal:
            gate.response_headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            # Nothing was validated: what was paid for it comes back.
            if throttle is not None:
                throttle.refund(gate.caller, gate.validation_paid)
            gate.validation_cost = gate.validation_paid = 0
            return [refusal.error]
        if key is not None:
            VALIDATED.offer(key, errors)
        return errors


def _refusal(subscription: bool, error: GraphQLError) -> GraphQLExecutionResult:
    if subscription:
        raise error
    return GraphQLExecutionResult(data=None, errors=[error])


class _Limits(SchemaExtension):
    """The token limit for the parser, the gateway's validation rules, and the trusted
    document (if the request named one) in place of parsing."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.parse_options["max_tokens"] = self.limits.max_tokens
        context.validation_rules = RULES
        trusted = _gate(self).trusted_document
        if trusted is not None:
            context.graphql_document = trusted
        yield
        if context.graphql_document is None:
            _name_token_limit(context.pre_execution_errors or (), self.limits.max_tokens)


VALIDATION_FREE_SELECTIONS = 20
"""Field selections a document may have before validating it afresh costs anything."""
VALIDATION_POINTS_PER_SELECTION = 2
"""What validating one field selection afresh costs: the specification's rules spend about
as much CPU on it as resolving two points of query cost (``bench/abuse.py``)."""


def validation_cost(selections: int, maximum: int) -> int:
    """What validating a document afresh costs its caller:
    :data:`VALIDATION_POINTS_PER_SELECTION` per field selection past the first
    :data:`VALIDATION_FREE_SELECTIONS` (the operations' selections and every fragment's, each
    with its spreads expanded), at most ``maximum`` (the single-query maximum, so it can always
    be paid). A caller sending ever new documents, which no cache answers, pays for the work
    they make (``bench/abuse.py``: duplicated fields, deep fragments), while a client repeating
    its documents pays twice per process (the caches keep a document from its second time),
    and a small one never. It is spent before validating."""
    work = max(0, selections - VALIDATION_FREE_SELECTIONS) * VALIDATION_POINTS_PER_SELECTION
    return min(maximum, work)


REFUSAL_MINIMUM_COST = 10
"""What a refused or failed document costs at least (a query's worth of budget)."""
REFUSAL_CHARACTERS_PER_POINT = 100
"""Characters of a refused request per further point (its document's text, or the whole
request when larger): the parser, validation and variable coercion worked through all of it."""


def refusal_cost(characters: int, max_query_cost: int) -> int:
    """What a document refused before execution costs its caller: a minimum per request plus
    one point per :data:`REFUSAL_CHARACTERS_PER_POINT` characters, at most what the largest
    query may cost."""
    work = math.ceil(characters / REFUSAL_CHARACTERS_PER_POINT)
    return min(max_query_cost, REFUSAL_MINIMUM_COST + work)


async def charge_refused_request(
    policy: GatewayPolicy, gate: GatewayRequest
) -> tuple[int, Decision] | None:
    """Spend what a request the endpoint refused before its document could run costs (its
    :func:`refusal_cost`): a malformed body, an unknown operation name or a missing query is
    read like a document, so a caller repeating them is throttled like any other. The cost and
    the bucket's answer; ``None`` when throttling is off."""
    throttle = gate.throttle if policy.throttle.enabled else None
    if throttle is None:
        return None
    cost = refusal_cost(gate.request_characters, policy.max_query_cost)
    decision = await throttle.spend(gate.caller, cost, admin=gate.admin)
    gate.actual_cost = cost if decision.granted else 0
    return cost, decision


COOLING_PAUSE_SECONDS = 1.0
"""How long a refusal to a caller still inside its Retry-After waits before it is sent."""


async def cooling_refusal(policy: GatewayPolicy, gate: GatewayRequest) -> GraphQLError | None:
    """``THROTTLED`` for a caller still inside the ``Retry-After`` of an earlier refusal
    (``retryAfterSeconds`` says how long), sent after a pause, before anything of the request
    is read; ``None`` when the caller may be served. A client that ignores the header then
    sends about one request a second per connection (an HTTP one, or a WebSocket, whose next
    message waits too) instead of as many as the gateway can refuse, which would crowd out
    everyone else."""
    throttle = gate.throttle if policy.throttle.enabled else None
    cooling = throttle.cooling_down(gate.caller) if throttle is not None else 0
    if not cooling:
        return None
    await asyncio.sleep(min(cooling, COOLING_PAUSE_SECONDS))
    return gateway_error(
        f"Throttled: this caller was refused for want of budget; retry in {cooling} s.",
        "THROTTLED",
        retryAfterSeconds=cooling,
    )


def throttled_message(cost: int, decision: Decision, what: str) -> str:
    status = decision.status
    available = (
        f"{int(status.currently_available)} is available to this process while the store "
        "cannot be reached (its share of the caller's budget)"
        if decision.alone
        else f"{int(status.currently_available)} is available"
    )
    return (
        f"Throttled: {what} costs {cost} and {available}, restoring {status.restore_rate:g} "
        f"per second. Retry in {decision.retry_after_seconds} s."
    )


def throttled_error(cost: int, decision: Decision, what: str) -> GraphQLError:
    """``THROTTLED``: ``what`` costs ``cost``, more than the bucket's answer ``decision``
    allowed (counted among the refusals)."""
    count_refusal("THROTTLED")
    return gateway_error(
        throttled_message(cost, decision, what),
        "THROTTLED",
        cost=cost,
        retryAfterSeconds=decision.retry_after_seconds,
    )


class _CostAndThrottle(SchemaExtension):
    """The requested cost against the single-query maximum and the caller's bucket; the
    actual cost counted and the rest refunded; refused and failed documents charged;
    ``extensions.cost`` on every response."""

    def __init__(self, policy: GatewayPolicy) -> None:
        self.policy = policy
        # Whether the request's cost went through the bucket (granted or refused).
        self.charged = False

    async def on_operation(self) -> AsyncIterator[None]:
        yield
        if not self.charged:
            await self._charge_refusal()

    async def _charge_refusal(self) -> None:
        """A document refused before it ran (syntax, validation, a structural limit, its
        cost, its operation name, its variables) spends from the caller's bucket too, so
        repeating such documents gets the caller throttled like any other; past its budget the
        answer is ``THROTTLED`` and the caller waits out its ``Retry-After``."""
        context = self.execution_context
        gate = _gate(self)
        result = context.result
        throttle = gate.throttle if self.policy.throttle.enabled else None
        # Strawberry's result when parsing or validation failed, graphql-core's when a hook
        # below refused the document (its extensions are gathered later).
        if throttle is None or not isinstance(result, ExecutionResult | GraphQLExecutionResult):
            return
        if not result.errors:
            return
        # Validation done afresh before the refusal is paid too (a document over the maximum
        # cost is refused after it).
        if gate.throttled_before_validation:
            return
        read = max(len(context.query or ""), gate.request_characters)
        cost = refusal_cost(read, self.policy.max_query_cost) + gate.validation_cost
        decision = await throttle.spend(gate.caller, cost - gate.validation_paid, admin=gate.admin)
        if decision.granted:
            gate.actual_cost = cost
        else:
            gate.actual_cost = gate.validation_paid
            gate.response_headers["Retry-After"] = str(decision.retry_after_seconds)
            result.data = None
            result.errors = [throttled_error(cost, decision, "this refused document")]
        if isinstance(result, ExecutionResult) and result.extensions is not None:
            # Gathered before this hook ran.
            result.extensions.update(cost_report(self.policy, gate))

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context
        gate = _gate(self)
        document = context.graphql_document
        # The name the client sent: Strawberry's ``operation_name`` falls back to the first.
        name = gate.operation_name
        operation = select_operation(document, name) if document is not None else None
        if document is None:
            yield
            return
        if operation is None:
            # Strawberry would run the first operation; the GraphQL spec says to refuse.
            streamed = any(
                getattr(d, "operation", None) == OperationType.SUBSCRIPTION
                for d in document.definitions
            )
            context.result = _refusal(
                streamed,
                gateway_error(
                    "The document has several operations: send 'operationName' to choose the "
                    "one to run.",
                    "OPERATION_NAME_REQUIRED",
                )
                if name is None
                else unknown_operation(name),
            )
            yield
            return
        schema = context.schema._schema
        # A subscription costs its selection once, when it starts; its events are not charged
        # (the feed is bounded by the per-connection limits instead). Strawberry ignores a
        # result set here for subscriptions, so their refusals are raised instead.
        subscription = operation.operation == OperationType.SUBSCRIPTION
        # Values that cannot run are refused before they are costed (charged as a refusal). A
        # subscription's are coerced by graphql-core as it starts, whose errors the
        # graphql-transport-ws handler answers as the protocol's "error" message.
        problems = variables_problems(
            schema,
            operation,
            context.variables,
            self.policy.limits.max_variable_values,
            coerce=not subscription,
        )
        if problems:
            for error in problems:
                count_refusal((error.extensions or {}).get("code") or "BAD_USER_INPUT")
            if subscription:
                raise problems[0]  # as _refusal does: the values limit only
            context.result = GraphQLExecutionResult(data=None, errors=problems)
            yield
            return
        # The single-query maximum is about what the fields cost; validating the document
        # afresh is paid beside it (at most the maximum again).
        fields_cost = requested_cost(schema, document, operation, context.variables)
        gate.requested_cost = fields_cost + gate.validation_cost
        maximum = self.policy.max_query_cost
        if fields_cost > maximum:
            gate.requested_cost = fields_cost
            count_refusal("MAX_COST_EXCEEDED")
            context.result = _refusal(
                subscription,
                gateway_error(
                    f"The query's requested cost is {gate.requested_cost}, more than the "
                    f"maximum of {maximum} for a single query. Ask for smaller pages or fewer "
                    "nested connections.",
                    "MAX_COST_EXCEEDED",
                    cost=gate.requested_cost,
                    maximum=maximum,
                ),
            )
            yield
            return
        throttle = gate.throttle if self.policy.throttle.enabled else None
        if throttle is not None:
            self.charged = True
            # Validating afresh was paid before it ran.
            due = gate.requested_cost - gate.validation_paid
            decision = await throttle.spend(gate.caller, due, admin=gate.admin)
            if not decision.granted:
                gate.actual_cost = gate.validation_paid
                gate.response_headers["Retry-After"] = str(decision.retry_after_seconds)
                refused = throttled_error(due, decision, "this query")
                context.result = _refusal(subscription, refused)
                yield
                return
        yield
        if subscription:
            gate.actual_cost = gate.requested_cost
            return
        result = context.result
        data = getattr(result, "data", None)
        gate.actual_cost = gate.validation_cost + (
            gate.counted_cost
            if gate.counted_cost is not None
            else actual_cost(schema, document, operation, context.variables, data)
        )
        observe_cost(gate.requested_cost, gate.actual_cost)
        if throttle is not None:
            throttle.refund(gate.caller, gate.requested_cost - gate.actual_cost)

    def get_results(self) -> dict[str, Any]:
        return cost_report(self.policy, _gate(self))


def cost_report(policy: GatewayPolicy, gate: GatewayRequest) -> dict[str, Any]:
    """``extensions.cost`` of a response: what it asked for, what it used, and the caller's
    bucket as this process sees it (no store round trip)."""
    if gate.throttle is not None and policy.throttle.enabled:
        status = gate.throttle.status(gate.caller, admin=gate.admin)
    else:
        capacity, rate = policy.throttle.for_caller(gate.admin)
        status = ThrottleStatus(capacity, capacity, rate)
    return {
        "cost": {
            "requestedQueryCost": gate.requested_cost,
            "actualQueryCost": gate.actual_cost,
            "throttleStatus": status.as_json(),
        }
    }


def gateway_extensions(
    policy: GatewayPolicy, *, cost: bool = True
) -> list[Callable[[], SchemaExtension]]:
    """The schema extensions of a gateway with ``policy``, in the order they must run
    (``cost=False`` leaves out cost analysis and throttling, for benchmarks measuring them).

    Factories, not instances: Strawberry makes fresh extensions per request, while the
    validation rules and both caches are built once and shared.
    """
    extensions: list[Callable[[], SchemaExtension]] = [
        lambda: _Limits(policy.limits),
        lambda: _Parser(policy.limits),
        lambda: _Validation(policy.limits, policy.max_query_cost, cost and policy.throttle.enabled),
    ]
    if cost:
        extensions.insert(1, lambda: _CostAndThrottle(policy))
    return extensions
