"""Validation in two bounded phases, the same for every document the gateway runs.

1. The structural limits (:func:`edge.limits.structural_problems`), one linear pass: a
   document over any of them is refused before a single validation rule sees it.
2. The GraphQL specification's rules (graphql-core's, plus Strawberry's own), with
   OverlappingFieldsCanBeMerged replaced by its near-linear equivalent
   (:mod:`edge.field_merging`). Within the limits, each rule's work grows with the document
   at most near-linearly.

Requests run phase 2 through Strawberry's validation cache (:data:`RULES` is one tuple, so the
cache keeps hitting); trusted documents run both phases once, when first loaded.
"""

from __future__ import annotations

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    NoUndefinedVariablesRule,
    NoUnusedVariablesRule,
    OverlappingFieldsCanBeMergedRule,
    VariablesInAllowedPositionRule,
    specified_rules,
)
from graphql import validate as validate_with_rules

from edge.engine import STRAWBERRY_VALIDATION_RULES
from edge.field_merging import FieldsCanMergeRule
from edge.limits import Limits, structural_problems

RULES = tuple(
    FieldsCanMergeRule if rule is OverlappingFieldsCanBeMergedRule else rule
    for rule in specified_rules
)
"""The specification's rules as the gateway runs them."""


MAX_VALIDATION_ERRORS = 20
"""Errors the rules report before validation stops ("Validation aborted"): an error costs far
more than a valid field (an unknown field's "Did you mean" compares it with every field of its
type), and a client fixes the first ones first."""


VARIABLE_RULES = frozenset(
    {NoUndefinedVariablesRule, NoUnusedVariablesRule, VariablesInAllowedPositionRule}
)
"""Rules that look at variables only: each walks every operation again with type information
(a third of the work on a large document), and none can report anything in a document without
variables."""


def validate_rules(
    schema: GraphQLSchema,
    document: DocumentNode,
    rules: tuple[type[ASTValidationRule], ...] = RULES,
) -> list[GraphQLError]:
    """Phase 2: the rules, with Strawberry's own, as Strawberry's ``validate_document`` runs
    them but stopping at :data:`MAX_VALIDATION_ERRORS`; the :data:`VARIABLE_RULES` are left
    out for a document whose text has no ``$`` (so neither a variable nor a definition of
    one), which changes no error."""
    if not _has_variables(document):
        rules = tuple(rule for rule in rules if rule not in VARIABLE_RULES)
    every = (*rules, *STRAWBERRY_VALIDATION_RULES)
    return validate_with_rules(schema, document, every, max_errors=MAX_VALIDATION_ERRORS)


def _has_variables(document: DocumentNode) -> bool:
    """Whether ``document`` may hold variables: without its text, assume it does."""
    return document.loc is None or "$" in document.loc.source.body


def validate(schema: GraphQLSchema, document: DocumentNode, limits: Limits) -> list[GraphQLError]:
    """Both phases, uncached: the structural refusals if any, else the rules' errors."""
    return structural_problems(document, limits) or validate_rules(schema, document)
