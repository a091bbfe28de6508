"""Validation in two bounded phases, the same for every document the gateway runs.

1. The structural limits (:func:`edge.limits.structural_problems`), one linear pass: a
   document over any of them is refused before a single validation rule sees it.
2. The GraphQL specification's rules (graphql-core's, plus Strawberry's own), with
   OverlappingFieldsCanBeMerged replaced by its near-linear equivalent
   (:mod:`edge.field_merging`) and ValuesOfCorrectType by one whose errors quote no large
   value whole (:mod:`edge.input_values`). Within the limits, each rule's work grows with
   the document at most near-linearly.

Requests run phase 2 through Strawberry's validation cache (:data:`RULES` is one tuple, so the
cache keeps hitting); trusted documents run both phases once, when first loaded.
"""

from __future__ import annotations

from typing import cast

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    NoUndefinedVariablesRule,
    NoUnusedVariablesRule,
    OverlappingFieldsCanBeMergedRule,
    ValidationContext,
    ValuesOfCorrectTypeRule,
    VariablesInAllowedPositionRule,
    specified_rules,
)
from graphql import validate as validate_with_rules

from edge.engine import STRAWBERRY_VALIDATION_RULES
from edge.field_merging import FieldsCanMergeRule
from edge.input_values import InputValuesRule
from edge.limits import Limits, structural_problems

_REPLACED: dict[type[ASTValidationRule], type[ASTValidationRule]] = {
    OverlappingFieldsCanBeMergedRule: FieldsCanMergeRule,
    ValuesOfCorrectTypeRule: InputValuesRule,
}

RULES = tuple(_REPLACED.get(rule, rule) for rule in specified_rules)
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
    *,
    hide_suggestions: bool = False,
) -> list[GraphQLError]:
    """Phase 2: the rules, with Strawberry's own, as Strawberry's ``validate_document`` runs
    them but stopping at :data:`MAX_VALIDATION_ERRORS`; the :data:`VARIABLE_RULES` are left
    out for a document whose text has no ``$`` (so neither a variable nor a definition of
    one), which changes no error. ``hide_suggestions``: no "Did you mean" in the messages
    (where introspection is off, suggestions would map the schema), whatever the transport."""
    if not _has_variables(document):
        rules = tuple(rule for rule in rules if rule not in VARIABLE_RULES)
    made: list[ASTValidationRule] = []
    every = [_kept_in(made, rule) for rule in (*rules, *STRAWBERRY_VALIDATION_RULES)]
    try:
        return validate_with_rules(
            schema,
            document,
            every,
            max_errors=MAX_VALIDATION_ERRORS,
            hide_suggestions=hide_suggestions,
        )
    finally:
        _release(made)


def _kept_in(
    made: list[ASTValidationRule], rule: type[ASTValidationRule]
) -> type[ASTValidationRule]:
    """``rule``'s factory (as graphql-js takes rules), keeping each rule it makes in ``made``."""

    def make(context: ValidationContext) -> ASTValidationRule:
        instance = rule(context)
        made.append(instance)
        return instance

    return cast(type[ASTValidationRule], make)


def _release(made: list[ASTValidationRule]) -> None:
    """Empty the rules that validated a document, so that nothing they hold outlives it.

    A graphql-core visitor keeps its bound methods in a cache of its own, and so does the
    parallel visitor running the rules: each is a reference cycle, which reference counting
    never frees. Through its context and caches each rule held the whole document (every node,
    location and token: 1,000-5,000 objects for a fresh document of a few kilobytes) until the
    collector found it, a young collection of 10-14 ms on the event loop, which every request
    of the process waited for (``bench/abuse.py``: deep fragments, duplicated fields). Emptied,
    the rules' cycles hold nothing else, and the document goes when its request does."""
    for instance in made:
        vars(instance).clear()


def _has_variables(document: DocumentNode) -> bool:
    """Whether ``document`` may hold variables: without its text, assume it does."""
    return document.loc is None or "$" in document.loc.source.body


def validate(schema: GraphQLSchema, document: DocumentNode, limits: Limits) -> list[GraphQLError]:
    """Both phases, uncached: the structural refusals if any, else the rules' errors (with
    suggestions only where introspection is on)."""
    return structural_problems(document, limits) or validate_rules(
        schema, document, hide_suggestions=not limits.introspection
    )
