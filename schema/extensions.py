"""Error masking: clients see what they can act on; everything else is logged with the
request id and shown as a generic message carrying that id."""

from __future__ import annotations

import logging

from graphql import GraphQLError
from strawberry.exceptions import StrawberryGraphQLError
from strawberry.extensions import MaskErrors

from resolvers.errors import PublicError

logger = logging.getLogger("tsp.graphql")


def is_public_error(error: GraphQLError) -> bool:
    """Whether the client may see ``error`` as it is (else it is masked and logged)."""
    original = error.original_error
    # Errors outside field execution (syntax, validation, variable coercion) describe the
    # request the client wrote; inside execution only deliberate errors are shown.
    if error.path is None or original is None:
        return True
    return isinstance(original, PublicError | StrawberryGraphQLError)


class MaskUnexpectedErrors(MaskErrors):
    """Masks unexpected errors, logging each with its traceback and the request id."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=lambda error: not is_public_error(error))

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        request_id = getattr(self.execution_context.context, "request_id", "unknown")
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
