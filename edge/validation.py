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
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OverlappingFieldsCanBeMergedRule,
    specified_rules,
)
from strawberry.schema.schema import validate_document

from edge.field_merging import FieldsCanMergeRule
from edge.limits import Limits, structural_problems

RULES = tuple(
    FieldsCanMergeRule if rule is OverlappingFieldsCanBeMergedRule else rule
    for rule in specified_rules
)
"""The specification's rules as the gateway runs them."""


def validate(schema: GraphQLSchema, document: DocumentNode, limits: Limits) -> list[GraphQLError]:
    """Both phases, uncached: the structural refusals if any, else the rules' errors."""
    return structural_problems(document, limits) or validate_document(schema, document, RULES)
