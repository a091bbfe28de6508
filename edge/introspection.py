"""The one introspection a gateway with introspection off still answers: a type's name lookup.

``__type(name: "X") { name }`` answers ``{"name": "X"}`` or ``null``: it tells a caller only
whether a type it already named exists, nothing of the schema's shape (its fields, arguments,
members or descriptions), and generic GraphQL-over-HTTP clients and conformance audits send it
to check that variables work. Anything more under ``__type``, and any ``__schema``, stays
refused with ``INTROSPECTION_DISABLED``.
"""

from __future__ import annotations

from collections.abc import Sequence

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    SelectionSetNode,
)

from edge.errors import gateway_error

# What a name lookup may select of the `__Type` it finds: what the caller already knows.
NAME_LOOKUP_FIELDS = frozenset({"name", "kind", "__typename"})


def refused_introspection(
    document: DocumentNode, fields: Sequence[FieldNode]
) -> GraphQLError | None:
    """The refusal of the first of ``document``'s introspection ``fields`` (its ``__schema``
    and ``__type`` selections) that is more than a name lookup, or None when none is."""
    if not fields:
        return None
    fragments = {
        definition.name.value: definition.selection_set
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    for node in fields:
        if not _is_name_lookup(node, fragments):
            return gateway_error(
                f"Introspection is turned off on this gateway ({node.name.value}); only a "
                "type's name lookup, `__type(name: ...) { name kind }`, is answered.",
                "INTROSPECTION_DISABLED",
                nodes=[node],
            )
    return None


def _is_name_lookup(node: FieldNode, fragments: dict[str, SelectionSetNode]) -> bool:
    """Whether ``node`` is ``__type`` selecting only :data:`NAME_LOOKUP_FIELDS`, under any
    alias, inline fragment or fragment spread (each fragment expanded once: a cycle is a
    validation error of its own, and an unknown fragment is refused here)."""
    if node.name.value != "__type" or node.selection_set is None:
        return False
    pending = [node.selection_set]
    expanded: set[str] = set()
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FieldNode):
                if selection.name.value not in NAME_LOOKUP_FIELDS or selection.selection_set:
                    return False
            elif isinstance(selection, InlineFragmentNode):
                pending.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in fragments:
                    return False
                if name not in expanded:
                    expanded.add(name)
                    pending.append(fragments[name])
    return True
