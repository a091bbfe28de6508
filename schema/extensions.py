"""Error masking: clients see what they can act on; everything else is logged with the
request id and shown as a generic message carrying that id. Every error a client sees carries
``extensions.code``: errors of the request itself get the code of the phase that found them
(Apollo's names, which client libraries know).

A store that cannot be reached, is locked past its timeout or is full is something a client can
act on (retry later): it is reported as ``STORE_UNAVAILABLE``, not masked as INTERNAL. A commit
the store did not confirm may have been written: ``COMMIT_UNKNOWN`` says so (a retry with the
same ``idempotencyKey`` answers the first result if it was).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from graphql import GraphQLError
from strawberry.exceptions import StrawberryGraphQLError
from strawberry.extensions import MaskErrors

from datastore.store import STORE_TROUBLE, CommitUnknownError, StoreUnavailableError
from resolvers.errors import PublicError

logger = logging.getLogger("tsp.graphql")

STORE_UNAVAILABLE = "STORE_UNAVAILABLE"
COMMIT_UNKNOWN = "COMMIT_UNKNOWN"
_STORE_MESSAGES = {
    STORE_UNAVAILABLE: "The data store is unavailable; nothing was changed. Retry later.",
    COMMIT_UNKNOWN: "The data store did not confirm the change, which may have been made. "
    "Retry with the same idempotencyKey to get its result.",
}
RETRY_AFTER_SECONDS = 5
"""What ``Retry-After`` says when a response failed only because the store was unavailable."""


def is_public_error(error: GraphQLError) -> bool:
    """Whether the client may see ``error`` as it is (else it is masked and logged)."""
    original = error.original_error
    if isinstance(original, StoreUnavailableError):
        # Wherever it was raised (a field, or a hook of the gateway layer outside any field),
        # the client sees STORE_UNAVAILABLE, never the driver's message.
        return False
    if original is None or isinstance(original, PublicError | StrawberryGraphQLError):
        return True
    # Errors outside field execution (syntax, validation, variable coercion) describe the
    # request the client wrote, and name where in it (coercion names the variable, and keeps
    # what the scalar raised as its original error). An exception of the gateway's own hooks
    # before execution (the cost's walk, say) reaches here wrapped as it is, naming nothing:
    # a bug to log, not the client's to read ("date value out of range", once).
    return error.path is None and bool(error.nodes or error.positions)


PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
BAD_USER_INPUT = "BAD_USER_INPUT"


def _label(errors: Sequence[GraphQLError] | None, code: str) -> None:
    for error in errors or ():
        if not (error.extensions or {}).get("code"):
            error.extensions = {**(error.extensions or {}), "code": code}


def label_errors_outside_fields(errors: Sequence[GraphQLError]) -> None:
    """Gives ``BAD_USER_INPUT`` to each error that reaches execution's end outside any field
    without a code: a variable's value does not fit its type (graphql-core coerces variables
    before running any field; for a subscription, as it starts), whatever the transport.

    Strawberry hands every list of errors to the schema's ``process_errors`` before any
    extension sees the result (``schema.error_log`` calls this there), so the log line and the
    answer name the same code; errors of parsing and validation have theirs by then (the
    hooks below), and those to be masked get ``INTERNAL`` instead."""
    _label([e for e in errors if e.path is None and is_public_error(e)], BAD_USER_INPUT)


class MaskUnexpectedErrors(MaskErrors):
    """Masks unexpected errors, logging each with its traceback and the request id, and gives
    the errors of parsing and validation their codes (those of execution outside any field get
    theirs from :func:`label_errors_outside_fields`)."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=lambda error: not is_public_error(error))

    def on_parse(self) -> Iterator[None]:
        yield
        _label(self.execution_context.pre_execution_errors, PARSE_FAILED)

    def on_validate(self) -> Iterator[None]:
        yield
        _label(self.execution_context.pre_execution_errors, VALIDATION_FAILED)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        request_id = getattr(self.execution_context.context, "request_id", "unknown")
        if isinstance(error.original_error, STORE_TROUBLE):
            return store_unavailable(error, request_id)
        logger.error(
            "unexpected error in %s",
            ".".join(str(p) for p in error.path or ()) or "operation",
            exc_info=error.original_error,
            extra={"request_id": request_id},
        )
        masked = super().anonymise_error(error)
        masked.message = f"Unexpected error. Request id: {request_id}"
        masked.extensions = {"code": "INTERNAL", "requestId": request_id}
        return masked


def store_unavailable(error: GraphQLError, request_id: str) -> GraphQLError:
    """``error``, raised because the store was unavailable or did not confirm a commit, as the
    client sees it: code ``STORE_UNAVAILABLE`` (nothing was written) or ``COMMIT_UNKNOWN`` (it
    may have been), retryable, never the driver's message."""
    unknown = isinstance(error.original_error, CommitUnknownError)
    code = COMMIT_UNKNOWN if unknown else STORE_UNAVAILABLE
    # Expected in operation, so one line without a traceback.
    logger.warning(
        "%s in %s: %s",
        code,
        ".".join(str(p) for p in error.path or ()) or "operation",
        error.original_error,
        extra={"request_id": request_id},
    )
    return GraphQLError(
        f"{_STORE_MESSAGES[code]} Request id: {request_id}",
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": code, "retryable": True, "requestId": request_id},
    )


def failed_only_for_the_store(response: Mapping[str, Any]) -> bool:
    """Whether a GraphQL response holds a ``STORE_UNAVAILABLE`` (or ``COMMIT_UNKNOWN``) error and
    nothing that succeeded: then it is answered with HTTP 503 and ``Retry-After``."""
    errors = response.get("errors") or []
    if not any((error.get("extensions") or {}).get("code") in _STORE_MESSAGES for error in errors):
        return False
    data = response.get("data")
    return data is None or all(value is None for value in data.values())
