"""How errors are logged: a client's mistakes at INFO, briefly; the unexpected once, at ERROR.

Strawberry logs every error at ERROR with its traceback. A refused query is the client's
business, not the operator's: it is logged at INFO with its code and an excerpt of the
message (never the client's whole input). Unexpected errors are left to
:class:`~schema.extensions.MaskUnexpectedErrors`, which logs each once with the request id.
"""

import logging

import strawberry
from graphql import GraphQLError
from strawberry.types import ExecutionContext

from schema.extensions import is_public_error, label_errors_outside_fields

logger = logging.getLogger("tsp.graphql")

EXCERPT_CHARACTERS = 200
"""How much of any client-supplied text a log line may repeat."""


def excerpt(text: str, limit: int = EXCERPT_CHARACTERS) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"


class LoggedSchema(strawberry.Schema):
    """The schema with the logging policy above."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Here first, before any extension: the code logged is the code answered.
        label_errors_outside_fields(errors)
        for error in errors:
            if not is_public_error(error):
                continue
            code = (error.extensions or {}).get("code", "GRAPHQL_ERROR")
            path = ".".join(str(p) for p in error.path or ())
            logger.info(
                "client error %s at %s: %s", code, path or "operation", excerpt(error.message)
            )
