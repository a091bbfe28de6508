"""Structural limits on a GraphQL document, checked during validation before anything runs.

Each limit is a graphql-core validation rule built once per gateway (:func:`structural_rules`):
Strawberry's ``ValidationCache`` keys its cache on the rule classes, so rules rebuilt per
request would never hit it. Token counting happens in the parser instead (``max_tokens``),
which stops reading a document as soon as it is over the limit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from graphql import (
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)

from edge.errors import gateway_error


@dataclass(frozen=True)
class Limits:
    """The largest document the gateway agrees to run."""

    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 5_000
    max_root_fields: int = 20
    max_operations: int = 10
    max_directives_per_field: int = 3
    introspection: bool = False


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }


def _operations(document: DocumentNode) -> list[OperationDefinitionNode]:
    return [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]


def _depth(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    visiting: frozenset[str] = frozenset(),
) -> int:
    """How deep fields nest below ``selection_set``, through fragments; introspection fields
    (``__schema``, ``__type``) do not count, so GraphiQL's schema query is never refused."""
    if selection_set is None:
        return 0
    deepest = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if selection.name.value.startswith("__"):
                continue
            deepest = max(deepest, 1 + _depth(selection.selection_set, fragments, visiting))
        elif isinstance(selection, InlineFragmentNode):
            deepest = max(deepest, _depth(selection.selection_set, fragments, visiting))
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            # A cycle is its own validation error (NoFragmentCycles); here it adds nothing.
            if fragment is not None and name not in visiting:
                inner = _depth(fragment.selection_set, fragments, visiting | {name})
                deepest = max(deepest, inner)
    return deepest


def _root_fields(
    selection_set: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
    visiting: frozenset[str] = frozenset(),
) -> int:
    count = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            count += 0 if selection.name.value == "__typename" else 1
        elif isinstance(selection, InlineFragmentNode):
            count += _root_fields(selection.selection_set, fragments, visiting)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in visiting:
                count += _root_fields(fragment.selection_set, fragments, visiting | {name})
    return count


def _refuse(
    context: ValidationContext, limit: str, code: str, maximum: int, found: int, what: str
) -> None:
    context.report_error(
        gateway_error(
            f"The document has {found} {what}; the limit for {limit} is {maximum}.",
            code,
            limit=limit,
            maximum=maximum,
            found=found,
        )
    )


def _depth_rule(maximum: int) -> type[ValidationRule]:
    class MaxDepthRule(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: object) -> None:
            found = _depth(node.selection_set, _fragments(self.context.document))
            if found > maximum:
                what = "levels of nested fields"
                _refuse(self.context, "depth", "MAX_DEPTH_EXCEEDED", maximum, found, what)

    return MaxDepthRule


def _aliases_rule(maximum: int) -> type[ValidationRule]:
    class MaxAliasesRule(ValidationRule):
        # Aliases are counted as written: a fragment spread many times is one text, and the
        # cost analysis (not this limit) accounts for how often it runs.
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.found = 0

        def enter_field(self, node: FieldNode, *_: object) -> None:
            if node.alias is not None:
                self.found += 1

        def leave_document(self, *_: object) -> None:
            if self.found > maximum:
                _refuse(
                    self.context,
                    "aliases",
                    "MAX_ALIASES_EXCEEDED",
                    maximum,
                    self.found,
                    "aliased fields",
                )

    return MaxAliasesRule


def _root_fields_rule(maximum: int) -> type[ValidationRule]:
    class MaxRootFieldsRule(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: object) -> None:
            found = _root_fields(node.selection_set, _fragments(self.context.document))
            if found > maximum:
                _refuse(
                    self.context,
                    "root fields",
                    "MAX_ROOT_FIELDS_EXCEEDED",
                    maximum,
                    found,
                    "root fields in one operation",
                )

    return MaxRootFieldsRule


def _operations_rule(maximum: int) -> type[ValidationRule]:
    class MaxOperationsRule(ValidationRule):
        def enter_document(self, node: DocumentNode, *_: object) -> None:
            found = len(_operations(node))
            if found > maximum:
                _refuse(
                    self.context,
                    "operations",
                    "MAX_OPERATIONS_EXCEEDED",
                    maximum,
                    found,
                    "operations",
                )

    return MaxOperationsRule


def _directives_rule(maximum: int) -> type[ValidationRule]:
    class MaxDirectivesRule(ValidationRule):
        def _check(self, directives: Iterable[DirectiveNode] | None) -> None:
            found = len(tuple(directives or ()))
            if found > maximum:
                _refuse(
                    self.context,
                    "directives per field",
                    "MAX_DIRECTIVES_EXCEEDED",
                    maximum,
                    found,
                    "directives on one selection",
                )

        def enter_field(self, node: FieldNode, *_: object) -> None:
            self._check(node.directives)

        def enter_fragment_spread(self, node: FragmentSpreadNode, *_: object) -> None:
            self._check(node.directives)

        def enter_inline_fragment(self, node: InlineFragmentNode, *_: object) -> None:
            self._check(node.directives)

    return MaxDirectivesRule


class NoIntrospectionRule(ValidationRule):
    """Refuses ``__schema`` and ``__type`` (``__typename`` stays: clients need it)."""

    def enter_field(self, node: FieldNode, *_: object) -> None:
        if node.name.value in ("__schema", "__type"):
            self.report_error(
                gateway_error(
                    f"Introspection is turned off on this gateway ({node.name.value}).",
                    "INTROSPECTION_DISABLED",
                    nodes=[node],
                )
            )


@cache
def structural_rules(limits: Limits) -> tuple[type[ValidationRule], ...]:
    """The validation rules enforcing ``limits``: the same classes for equal limits, so the
    validation cache keeps hitting across requests."""
    rules: list[type[ValidationRule]] = [
        _operations_rule(limits.max_operations),
        _root_fields_rule(limits.max_root_fields),
        _depth_rule(limits.max_depth),
        _aliases_rule(limits.max_aliases),
        _directives_rule(limits.max_directives_per_field),
    ]
    if not limits.introspection:
        rules.append(NoIntrospectionRule)
    return tuple(rules)
