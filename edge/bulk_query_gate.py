"""The gateway's own checks of a document, in its order, for bulk queries: length, the
parser's token limit, then :func:`edge.validation.validate` (the structural limits in one
linear pass before the specification's rules). A bulk query's refusal carries the code of the
limit it broke (see ``resolvers.bulk_export_limits``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from graphql import DocumentNode, GraphQLError, GraphQLSchema, GraphQLSyntaxError, parse

from edge.limits import Limits, length_problem
from edge.validation import validate
from resolvers.bulk_export_limits import Problem

LIMIT_CODES = (
    "MAX_DOCUMENT_LENGTH_EXCEEDED",
    "MAX_TOKENS_EXCEEDED",
    "MAX_DEPTH_EXCEEDED",
    "MAX_ALIASES_EXCEEDED",
    "MAX_SELECTIONS_EXCEEDED",
    "MAX_DIRECTIVES_EXCEEDED",
    "MAX_ROOT_FIELDS_EXCEEDED",
    "MAX_OPERATIONS_EXCEEDED",
    "INTROSPECTION_DISABLED",
)
"""The codes of the gateway's structural refusals, which a bulk query's refusal carries too."""

# graphql-core's message when the parser stops at ``max_tokens``.
_TOKEN_LIMIT = re.compile(r"^Syntax Error: Document contains more than \d+ tokens")


@dataclass(frozen=True)
class LimitsGate:
    """A :class:`resolvers.bulk_export_limits.DocumentGate` holding documents to ``limits``."""

    limits: Limits = field(default_factory=Limits)

    def read(self, text: str) -> DocumentNode | Problem:
        too_long = length_problem(text, self.limits)
        if too_long is not None:
            return _problem(too_long)
        try:
            return parse(text, max_tokens=self.limits.max_tokens, no_location=True)
        except GraphQLSyntaxError as error:
            if _TOKEN_LIMIT.match(error.message):
                maximum = self.limits.max_tokens
                return Problem(
                    "MAX_TOKENS_EXCEEDED",
                    f"The document has more than {maximum} tokens; "
                    f"the limit for tokens is {maximum}.",
                )
            return Problem(None, error.message)

    def check(self, schema: GraphQLSchema, document: DocumentNode) -> Problem | None:
        errors = validate(schema, document, self.limits)
        return _problem(errors[0]) if errors else None


def _problem(error: GraphQLError) -> Problem:
    code = (error.extensions or {}).get("code")
    return Problem(code if code in LIMIT_CODES else None, error.message)
