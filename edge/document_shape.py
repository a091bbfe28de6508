"""The size of a parsed document, measured in one linear pass before any validation rule runs.

Each definition's selection set is walked once (without recursion, so no document can exhaust
the interpreter's stack); fragments are then resolved once each, in dependency order, so a
fragment spread in many places, or a chain of fragments each spreading the next twice, costs
one visit, however large its expansion. A spread closing a fragment cycle adds nothing here
(the cycle is its own validation error).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

SATURATION = 10**9
"""Counts stop growing here: a fragment chain can describe 2^2000 fields, a number nobody
needs to print."""

INTROSPECTION_FIELDS = ("__schema", "__type")


@dataclass
class _Spread:
    name: str
    depth: int | None  # None below an introspection field: its nesting does not count
    top_level: bool


@dataclass
class _Definition:
    """What one definition holds by itself, and the fragments it spreads."""

    depth: int = 0
    selections: int = 0
    root_fields: int = 0
    spreads: list[_Spread] = field(default_factory=list)


@dataclass(frozen=True)
class OperationShape:
    depth: int
    root_fields: int


@dataclass
class DocumentShape:
    """The measures the structural limits are checked against."""

    operations: list[OperationShape] = field(default_factory=list)
    selections: int = 0
    # The field selections of every fragment definition with its spreads expanded, summed: what
    # validation walks again for each fragment (a chain of fragments spreading the next costs
    # it the square of its length, while the operation's own selections grow linearly).
    fragment_selections: int = 0
    aliases: int = 0
    most_directives: int = 0
    introspection: list[FieldNode] = field(default_factory=list)


def measure(document: DocumentNode) -> DocumentShape:
    """The shape of ``document``: depth and root fields of each operation, field selections
    with fragments expanded (over every operation and every fragment no one spreads), and the
    aliases, directives and introspection fields as written."""
    shape = DocumentShape()
    own: dict[str, _Definition] = {}
    operations: list[_Definition] = []
    for definition in document.definitions:
        if isinstance(definition, FragmentDefinitionNode):
            own[definition.name.value] = _walk(definition.selection_set, shape)
        elif isinstance(definition, OperationDefinitionNode):
            operations.append(_walk(definition.selection_set, shape))
    totals = _resolve(own)
    spread = {s.name for d in (*own.values(), *operations) for s in d.spreads}
    for operation in operations:
        depth, selections, root_fields = _combine(operation, totals)
        shape.operations.append(OperationShape(depth, root_fields))
        shape.selections = min(SATURATION, shape.selections + selections)
    for name, total in totals.items():
        if name not in spread:
            shape.selections = min(SATURATION, shape.selections + total[1])
        shape.fragment_selections = min(SATURATION, shape.fragment_selections + total[1])
    return shape


def _walk(selection_set: SelectionSetNode, shape: DocumentShape) -> _Definition:
    """One definition's own measures; a fragment spread twice in one selection (inline
    fragments included) counts once, as execution collects it once."""
    found = _Definition()
    # (selection set, depth of its fields' parent or None, top level, the field-level set)
    stack: list[tuple[SelectionSetNode, int | None, bool, set[str]]] = [
        (selection_set, 0, True, set())
    ]
    while stack:
        current, depth, top_level, seen = stack.pop()
        for selection in current.selections:
            shape.most_directives = max(shape.most_directives, len(selection.directives or ()))
            if isinstance(selection, FieldNode):
                name = selection.name.value
                found.selections += 1
                shape.aliases += selection.alias is not None
                if top_level and name != "__typename":
                    found.root_fields += 1
                if name in INTROSPECTION_FIELDS:
                    shape.introspection.append(selection)
                inner = None if depth is None or name.startswith("__") else depth + 1
                if inner is not None:
                    found.depth = max(found.depth, inner)
                if selection.selection_set is not None:
                    stack.append((selection.selection_set, inner, False, set()))
            elif isinstance(selection, InlineFragmentNode):
                stack.append((selection.selection_set, depth, top_level, seen))
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in seen:
                    seen.add(name)
                    found.spreads.append(_Spread(name, depth, top_level))
    return found


def _resolve(own: dict[str, _Definition]) -> dict[str, tuple[int, int, int]]:
    """Each fragment's (depth, selections, root fields) with its spreads expanded, computed
    once per fragment in dependency order (an explicit stack: chains can be long)."""
    totals: dict[str, tuple[int, int, int]] = {}
    for root in own:
        if root in totals:
            continue
        path = [(root, iter(own[root].spreads))]
        on_path = {root}
        while path:
            name, spreads = path[-1]
            for spread in spreads:
                inner = spread.name
                if inner in own and inner not in totals and inner not in on_path:
                    path.append((inner, iter(own[inner].spreads)))
                    on_path.add(inner)
                    break
            else:
                path.pop()
                on_path.discard(name)
                totals[name] = _combine(own[name], totals)
    return totals


def _combine(
    definition: _Definition, totals: dict[str, tuple[int, int, int]]
) -> tuple[int, int, int]:
    depth, selections, root_fields = (
        definition.depth,
        definition.selections,
        definition.root_fields,
    )
    for spread in definition.spreads:
        # Unknown fragments and spreads closing a cycle add nothing.
        inner = totals.get(spread.name)
        if inner is None:
            continue
        if spread.depth is not None:
            depth = max(depth, spread.depth + inner[0])
        selections = min(SATURATION, selections + inner[1])
        if spread.top_level:
            root_fields = min(SATURATION, root_fields + inner[2])
    return depth, selections, root_fields
