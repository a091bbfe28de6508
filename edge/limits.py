"""Structural limits on a GraphQL document, checked before any validation rule runs.

The parser stops at the token limit (``max_tokens``); :func:`structural_problems` then
measures the parsed document in one linear pass (:mod:`edge.document_shape`) and refuses it
before graphql-core's rules, whose work grows with the document, ever see it. Every refusal
names the limit, its maximum and what was found.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphql import DocumentNode, GraphQLError

from edge.document_shape import SATURATION, DocumentShape, measure
from edge.errors import gateway_error
from edge.introspection import refused_introspection


@dataclass(frozen=True)
class Limits:
    """The largest document the gateway agrees to run."""

    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 1_000
    max_document_length: int = 20_000
    max_root_fields: int = 20
    max_operations: int = 10
    max_directives_per_field: int = 3
    # What validation walks: the operations' field selections and every fragment's, each with
    # its spreads expanded (a chain of fragments spreading the next is walked again per link).
    max_selections: int = 1000
    # Every number, string, list and object in a request's variables (``edge.variables``).
    max_variable_values: int = 1000
    introspection: bool = False


def length_problem(text: str, limits: Limits) -> GraphQLError | None:
    """The refusal of a document too long to read (its characters, comments and string
    literals included: the lexer reads each), checked before parsing."""
    if len(text) <= limits.max_document_length:
        return None
    return _over(
        "document length",
        "MAX_DOCUMENT_LENGTH_EXCEEDED",
        limits.max_document_length,
        len(text),
        "characters",
    )


def _over(limit: str, code: str, maximum: int, found: int, what: str) -> GraphQLError:
    return gateway_error(
        f"The document has {found} {what}; the limit for {limit} is {maximum}.",
        code,
        limit=limit,
        maximum=maximum,
        found=found,
    )


def structural_problems(
    document: DocumentNode, limits: Limits, shape: DocumentShape | None = None
) -> list[GraphQLError]:
    """The limits ``document`` (of ``shape``, when already measured) is over (empty when it is
    within all of them)."""
    shape = measure(document) if shape is None else shape
    problems: list[GraphQLError] = []

    def check(limit: str, code: str, maximum: int, found: int, what: str) -> None:
        if found > maximum:
            problems.append(_over(limit, code, maximum, found, what))

    check(
        "operations",
        "MAX_OPERATIONS_EXCEEDED",
        limits.max_operations,
        len(shape.operations),
        "operations",
    )
    check(
        "field selections",
        "MAX_SELECTIONS_EXCEEDED",
        limits.max_selections,
        min(SATURATION, shape.selections + shape.fragment_selections),
        "field selections to validate (the operations' and each fragment's, fragments "
        "expanded where spread)",
    )
    for operation in shape.operations:
        check(
            "root fields",
            "MAX_ROOT_FIELDS_EXCEEDED",
            limits.max_root_fields,
            operation.root_fields,
            "root fields in one operation",
        )
        check(
            "depth",
            "MAX_DEPTH_EXCEEDED",
            limits.max_depth,
            operation.depth,
            "levels of nested fields",
        )
    check("aliases", "MAX_ALIASES_EXCEEDED", limits.max_aliases, shape.aliases, "aliased fields")
    check(
        "directives per field",
        "MAX_DIRECTIVES_EXCEEDED",
        limits.max_directives_per_field,
        shape.most_directives,
        "directives on one selection",
    )
    if not limits.introspection:
        # __typename stays (clients need it), and so does a type's name lookup.
        refused = refused_introspection(document, shape.introspection)
        if refused is not None:
            problems.append(refused)
    return problems
