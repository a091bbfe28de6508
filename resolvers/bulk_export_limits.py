"""A bulk query held to the gateway's structural limits when its export is started.

The worker runs a bulk query as rewritten documents (the page document and the follow-ups:
the query with ids, cursors, ``pageInfo`` and paging arguments added) through the gateway's
schema, whose limits refuse an oversized document. The same checks, in the gateway's order
(length, the parser's token limit, then :func:`edge.validation.validate`: the structural limits
in one linear pass before the specification's rules), run on the query as written and on each
document the export will run, so a query over a limit is refused at once with that limit's code
instead of being accepted and FAILED at its first page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from graphql import DocumentNode, GraphQLError, GraphQLSchema, GraphQLSyntaxError, parse

from edge.limits import Limits, length_problem
from edge.validation import validate

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
class Problem:
    """Why a document cannot run: a limit's code (one of :data:`LIMIT_CODES`) or ``None`` for
    a syntax or validation error, and the message."""

    code: str | None
    message: str


def read(text: str, limits: Limits) -> DocumentNode | Problem:
    """``text`` parsed as the gateway parses a request, or why it cannot be."""
    too_long = length_problem(text, limits)
    if too_long is not None:
        return _problem(too_long)
    try:
        return parse(text, max_tokens=limits.max_tokens, no_location=True)
    except GraphQLSyntaxError as error:
        if _TOKEN_LIMIT.match(error.message):
            maximum = limits.max_tokens
            return Problem(
                "MAX_TOKENS_EXCEEDED",
                f"The document has more than {maximum} tokens; the limit for tokens is {maximum}.",
            )
        return Problem(None, error.message)


def check(schema: GraphQLSchema, document: DocumentNode, limits: Limits) -> Problem | None:
    """The first of the document's problems as the gateway validates it, or ``None``."""
    errors = validate(schema, document, limits)
    return _problem(errors[0]) if errors else None


def _problem(error: GraphQLError) -> Problem:
    code = (error.extensions or {}).get("code")
    return Problem(code if code in LIMIT_CODES else None, error.message)
