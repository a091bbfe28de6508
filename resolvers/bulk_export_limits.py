"""How a bulk query is read and validated: as the gateway reads a request, when it runs one.

The worker runs a bulk query as rewritten documents (the page document and the follow-ups:
the query with ids, cursors, ``pageInfo`` and paging arguments added) through the gateway's
schema, whose limits refuse an oversized document. So the query as written and each document
the export will run pass the same checks when the export is started, and a query over a limit
is refused at once with that limit's code instead of being accepted and FAILED at its first
page. The gateway layer supplies those checks (:class:`DocumentGate`, set in the context's
``exports`` by ``edge.export_options``); without the gateway layer only the specification's
rules apply (:data:`SPECIFICATION_ONLY`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from graphql import DocumentNode, GraphQLSchema, GraphQLSyntaxError, parse, validate


@dataclass(frozen=True)
class Problem:
    """Why a document cannot run: a structural limit's code (``MAX_DEPTH_EXCEEDED``...) or
    ``None`` for a syntax or validation error, and the message."""

    code: str | None
    message: str


class DocumentGate(Protocol):
    """The checks a document meets before it runs, in the gateway's order."""

    def read(self, text: str) -> DocumentNode | Problem:
        """``text`` parsed as a request's document is, or why it cannot be."""
        ...

    def check(self, schema: GraphQLSchema, document: DocumentNode) -> Problem | None:
        """The first of the document's problems as a request's is validated, or ``None``."""
        ...


class _SpecificationOnly:
    def read(self, text: str) -> DocumentNode | Problem:
        try:
            return parse(text, no_location=True)
        except GraphQLSyntaxError as error:
            return Problem(None, error.message)

    def check(self, schema: GraphQLSchema, document: DocumentNode) -> Problem | None:
        errors = validate(schema, document)
        return Problem(None, errors[0].message) if errors else None


SPECIFICATION_ONLY: DocumentGate = _SpecificationOnly()
"""graphql-core's parser and validation, no gateway limits: a context built without the
gateway layer (a tool executing the plain schema)."""
