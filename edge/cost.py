"""Query cost, Shopify's way: decided from the document before anything runs, and counted
again from what execution really returned.

An object costs 1, a scalar or enum 0, a mutation's root field 10. A connection costs 2 (the
page read) plus its page size (``first``/``last``, or the default) times the cost of one item;
its edges and page info are free wrappers. A plain list of objects counts its assumed size
(:data:`ASSUMED_LIST_SIZES`) when requested and its real length when actual. Of an interface
or union, the costliest possible type counts.

The requested cost bounds the actual cost, so a caller is refused before execution and then
refunded what the response did not use.
"""

from __future__ import annotations

import json
import math
import weakref
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLAbstractType,
    GraphQLField,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionNode,
    SelectionSetNode,
    get_named_type,
    get_nullable_type,
    is_abstract_type,
    is_leaf_type,
    is_list_type,
)
from graphql.utilities import value_from_ast_untyped

from edge.introspection_cost import IntrospectionCounter
from edge.introspection_cost import points as introspection_points
from resolvers.insight_periods import bucket_count
from resolvers.pagination import DEFAULT_PAGE_SIZE

MUTATION_COST = 10
PAGE_READ_COST = 2
DEFAULT_LIST_SIZE = 10

ASSUMED_LIST_SIZES: Mapping[str, int] = {
    # At most this many by the product's own rules (SPEC: an offer bundles 1-10 services).
    "ServiceOffer.services": 10,
    "Service.referralLinks": 2,
    # The shops and accounts of one seller an authorization covers: a few, not a page.
    "Authorization.shops": 5,
    "Authorization.tiktokAccounts": 5,
    "AuthorizeServiceOfferPayload.authorizations": 10,
    "CreateRequestPayload.requests": 10,
    # A refusal lists a handful of problems, not a page of objects.
    "userErrors": 1,
}
"""How many items a plain (non-connection) list of objects is assumed to hold, by
``Type.field`` or by field name; :data:`DEFAULT_LIST_SIZE` otherwise. ``nodes(ids:)`` counts
its ids."""

_FREE_WRAPPERS = ("PageInfo",)
_INTROSPECTION = ("__schema", "__type")

SERIES_FIELDS = frozenset({"Partner.insights", "Query.insights"})
"""Fields answering insight series: their buckets (:data:`SERIES_ITEM`) are counted from the
field's ``from``, ``to`` and ``granularity``, and ``Insights.services`` from ``serviceIds``."""
SERIES_ITEM = "InsightsBucket"
FIELDS_PER_POINT = 20
"""A series costs one point per this many figures (buckets x fields selected): a bucket is a
row of counters read together, not an object behind a loader, so a year of days with every
figure (366 x 16 / 20 = 293) fits a query's budget, while its cost still follows the period."""


@dataclass(frozen=True)
class OperationCost:
    """What an operation may cost (before execution) and what it did cost (after)."""

    requested: int
    actual: int | None = None


def select_operation(
    document: DocumentNode, operation_name: str | None
) -> OperationDefinitionNode | None:
    """The operation a request runs: the named one, or the only one (else ``None``)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name and o.name.value == operation_name), None)


_REQUESTED: OrderedDict[tuple[int, int, str], tuple[weakref.ref[DocumentNode], int]] = OrderedDict()
_REQUESTED_SIZE = 1_024
_VARIABLES_KEY_LIMIT = 2_048


def requested_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any] | None,
) -> int:
    """The most ``operation`` can cost, from the document and variables alone.

    Remembered per parsed document (the parser cache hands out the same tree for the same
    text), operation and variables, so a client repeating a query does not pay the walk again.
    """
    try:
        variables_key = json.dumps(variables or {}, sort_keys=True, default=str)
    except (TypeError, ValueError):
        variables_key = None
    if variables_key is None or len(variables_key) > _VARIABLES_KEY_LIMIT:
        return _Walker(schema, document, operation, variables).operation_cost(None)
    key = (id(document), id(operation), variables_key)
    known = _REQUESTED.get(key)
    # A weak reference: a tree reused under the same id is told apart, and a document parsed
    # for one request (not kept by the parser cache) is not kept alive here either.
    if known is not None and known[0]() is document:
        _REQUESTED.move_to_end(key)
        return known[1]
    cost = _Walker(schema, document, operation, variables).operation_cost(None)
    _REQUESTED[key] = (weakref.ref(document), cost)
    while len(_REQUESTED) > _REQUESTED_SIZE:
        _REQUESTED.popitem(last=False)
    return cost


def actual_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any] | None,
    data: Mapping[str, Any] | None,
) -> int:
    """What ``operation`` cost, counted over the ``data`` execution returned."""
    if data is None:
        return 0
    return _Walker(schema, document, operation, variables).operation_cost(data)


_FieldShape = tuple[GraphQLField, GraphQLNamedType, bool, list[SelectionSetNode], int, bool]
"""A field, its named type, whether that is a leaf, its selections, page size, whether a list."""


_ObjectFacts = tuple[
    Sequence[SelectionSetNode], int, bool, list[tuple[str, GraphQLField, list[FieldNode]]]
]


class _Walker:
    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: Mapping[str, Any] | None,
    ) -> None:
        self.schema = schema
        self.operation = operation
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.variables = dict(variables or {})
        self._collected: dict[tuple[str, tuple[int, ...]], dict[str, list[FieldNode]]] = {}
        # By the ids of an object type and its selections (which the entry holds, so neither
        # id is reused while it lives): its weight, whether a connection, its costly fields.
        self._object_facts: dict[tuple[int, int], _ObjectFacts] = {}
        # By the id of the field's nodes, which ``_collect`` keeps alive for the walk.
        self._field_shapes: dict[int, _FieldShape] = {}
        self._costly_fields: dict[
            tuple[str, tuple[int, ...]], list[tuple[str, GraphQLField, list[FieldNode]]]
        ] = {}
        self._series_buckets = 0
        self._series_services = 0
        for definition in operation.variable_definitions or ():
            name = definition.variable.name.value
            if name not in self.variables and definition.default_value is not None:
                self.variables[name] = value_from_ast_untyped(definition.default_value)

    def operation_cost(self, data: Mapping[str, Any] | None) -> int:
        root = self.schema.get_root_type(self.operation.operation)
        if root is None:
            return 0
        root_weight = MUTATION_COST if self.operation.operation is OperationType.MUTATION else None
        total = 0
        for key, nodes in self._collect(root, [self.operation.selection_set]).items():
            if nodes[0].name.value in _INTROSPECTION and root is self.schema.query_type:
                if data is None or data.get(key) is not None:
                    total += self._introspection(nodes)
                continue
            field = self._field(root, nodes[0])
            if field is None:
                continue
            if data is not None and key not in data:
                continue
            value = None if data is None else data[key]
            total += self._field_cost(root, field, nodes, value, data is None, root_weight)
        return total

    # -- fields ----------------------------------------------------------------------------

    def _field_cost(
        self,
        parent: GraphQLObjectType,
        field: GraphQLField,
        nodes: Sequence[FieldNode],
        value: Any,
        requested: bool,
        weight: int | None = None,
    ) -> int:
        shape = self._field_shapes.get(id(nodes))
        if shape is None or shape[0] is not field:
            shape = self._field_shapes[id(nodes)] = self._field_shape(field, nodes)
        _, named, leaf, selections, page, listed = shape
        if leaf or (not requested and value is None):
            return 0
        if f"{parent.name}.{nodes[0].name.value}" in SERIES_FIELDS:
            self._note_series(nodes[0])
        if listed and named.name == SERIES_ITEM:
            assert isinstance(named, GraphQLObjectType)
            figures = max(1, len(self._collect(named, selections)))
            count = self._series_buckets if requested else len(value or ())
            return math.ceil(count * figures / FIELDS_PER_POINT)
        if listed:
            if requested:
                size = self._assumed_size(parent, field, nodes[0])
                return size * self._object_cost(named, selections, None, True, weight)
            items = value if isinstance(value, list) else []
            return sum(
                self._object_cost(named, selections, item, False, weight)
                for item in items
                if item is not None
            )
        return self._object_cost(named, selections, value, requested, weight, page)

    def _field_shape(self, field: GraphQLField, nodes: Sequence[FieldNode]) -> _FieldShape:
        """What costing a field needs, worked out once per walk for each field of the
        selection (a large answer has the same few fields thousands of times)."""
        named = get_named_type(field.type)
        selections = [n.selection_set for n in nodes if n.selection_set is not None]
        page = self._page_size(nodes[0]) if _is_connection(named) else 0
        listed = is_list_type(get_nullable_type(field.type))
        return field, named, is_leaf_type(named), selections, page, listed

    def _object_cost(
        self,
        named: GraphQLNamedType,
        selections: Sequence[SelectionSetNode],
        value: Any,
        requested: bool,
        weight: int | None,
        page: int = 0,
    ) -> int:
        if is_abstract_type(named):
            assert isinstance(named, GraphQLAbstractType)
            possible = self.schema.get_possible_types(named)
            return max(
                (
                    self._object_cost(t, selections, value, requested, weight, page)
                    for t in possible
                ),
                default=0,
            )
        assert isinstance(named, GraphQLObjectType)
        facts = self._object_facts.get((id(named), id(selections)))
        if facts is None or facts[0] is not selections:
            costly_fields = self._costly(named, selections)
            facts = (selections, object_weight(named), _is_connection(named), costly_fields)
            self._object_facts[(id(named), id(selections))] = facts
        _, type_weight, connection, costly = facts
        total = weight if weight is not None else type_weight
        for key, field, nodes in costly:
            if not requested and (not isinstance(value, dict) or key not in value):
                continue
            child = None if requested else value[key]
            if connection and requested and nodes[0].name.value in ("edges", "nodes"):
                item = get_named_type(field.type)
                subselections = [n.selection_set for n in nodes if n.selection_set]
                total += page * self._object_cost(item, subselections, None, True, None)
            else:
                total += self._field_cost(named, field, nodes, child, requested)
        return total

    def _introspection(self, nodes: Sequence[FieldNode]) -> int:
        """``__schema`` or ``__type``: exact, so the same requested and actual."""

        def collect(type_name: str, parents: Sequence[FieldNode]) -> dict[str, list[FieldNode]]:
            type_ = self.schema.get_type(type_name)
            assert isinstance(type_, GraphQLObjectType)
            return self._collect(type_, [n.selection_set for n in parents if n.selection_set])

        counter = IntrospectionCounter(self.schema, collect, self._arguments)
        if nodes[0].name.value == "__schema":
            return introspection_points(counter.schema_field(nodes))
        return introspection_points(counter.type_field(nodes))

    # -- helpers ---------------------------------------------------------------------------

    def _note_series(self, node: FieldNode) -> None:
        arguments = self._arguments(node)
        self._series_buckets = bucket_count(
            arguments.get("from"), arguments.get("to"), arguments.get("granularity")
        )
        service_ids = arguments.get("serviceIds")
        self._series_services = len(service_ids) if isinstance(service_ids, list) else 0

    def _page_size(self, node: FieldNode) -> int:
        arguments = self._arguments(node)
        for name in ("first", "last"):
            size = arguments.get(name)
            if isinstance(size, int) and not isinstance(size, bool) and size >= 0:
                return size
        return DEFAULT_PAGE_SIZE

    def _assumed_size(self, parent: GraphQLObjectType, field: GraphQLField, node: FieldNode) -> int:
        name = node.name.value
        if name == "nodes" and parent is self.schema.query_type:
            ids = self._arguments(node).get("ids")
            return len(ids) if isinstance(ids, list) else DEFAULT_LIST_SIZE
        if f"{parent.name}.{name}" == "Insights.services":
            return self._series_services
        return ASSUMED_LIST_SIZES.get(
            f"{parent.name}.{name}", ASSUMED_LIST_SIZES.get(name, DEFAULT_LIST_SIZE)
        )

    def _arguments(self, node: FieldNode) -> dict[str, Any]:
        return {
            argument.name.value: value_from_ast_untyped(argument.value, self.variables)
            for argument in node.arguments or ()
        }

    def _field(self, parent: GraphQLObjectType, node: FieldNode) -> GraphQLField | None:
        field: GraphQLField | None = parent.fields.get(node.name.value)
        return field

    def _costly(
        self, type_: GraphQLObjectType, selection_sets: Sequence[SelectionSetNode]
    ) -> list[tuple[str, GraphQLField, list[FieldNode]]]:
        """The selected fields of ``type_`` that may cost something: leaves never do, and
        skipping them once per walk keeps counting a large response cheap."""
        key = (type_.name, tuple(id(selection_set) for selection_set in selection_sets))
        known = self._costly_fields.get(key)
        if known is not None:
            return known
        costly = []
        for response_key, nodes in self._collect(type_, selection_sets).items():
            field = self._field(type_, nodes[0])
            if field is not None and not is_leaf_type(get_named_type(field.type)):
                costly.append((response_key, field, nodes))
        self._costly_fields[key] = costly
        return costly

    def _collect(
        self, type_: GraphQLObjectType, selection_sets: Sequence[SelectionSetNode]
    ) -> dict[str, list[FieldNode]]:
        # Every item of a list has the same selections: collect them once per walk.
        key = (type_.name, tuple(id(selection_set) for selection_set in selection_sets))
        known = self._collected.get(key)
        if known is not None:
            return known
        fields: dict[str, list[FieldNode]] = {}
        for node in self._selected(type_, selection_sets, set()):
            response_key = node.alias.value if node.alias else node.name.value
            fields.setdefault(response_key, []).append(node)
        self._collected[key] = fields
        return fields

    def _selected(
        self,
        type_: GraphQLObjectType,
        selection_sets: Sequence[SelectionSetNode],
        spread: set[str],
    ) -> Iterator[FieldNode]:
        """The field nodes of ``selection_sets`` on ``type_``, fragments expanded. Each
        fragment is expanded once per collection (``spread``), as execution collects fields
        (graphql-core's ``collect_fields``): its fields merge with themselves however often it
        is spread, and a chain of fragments each spreading the next twice would otherwise take
        2^n steps, on the event loop, before anything runs."""
        for selection_set in selection_sets:
            for selection in selection_set.selections:
                if not self._included(selection):
                    continue
                if isinstance(selection, FieldNode):
                    yield selection
                elif isinstance(selection, InlineFragmentNode):
                    condition = selection.type_condition
                    if condition is None or self._applies(condition.name.value, type_):
                        yield from self._selected(type_, [selection.selection_set], spread)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    if name in spread:
                        continue
                    spread.add(name)
                    fragment = self.fragments.get(name)
                    if fragment is not None and self._applies(
                        fragment.type_condition.name.value, type_
                    ):
                        yield from self._selected(type_, [fragment.selection_set], spread)

    def _applies(self, condition: str, type_: GraphQLObjectType) -> bool:
        if condition == type_.name:
            return True
        named = self.schema.get_type(condition)
        return isinstance(named, GraphQLAbstractType) and self.schema.is_sub_type(named, type_)

    def _included(self, selection: SelectionNode) -> bool:
        for directive in selection.directives or ():
            name = directive.name.value
            if name not in ("skip", "include"):
                continue
            condition = next(
                (
                    value_from_ast_untyped(a.value, self.variables)
                    for a in directive.arguments or ()
                    if a.name.value == "if"
                ),
                None,
            )
            if (name == "skip" and condition is True) or (name == "include" and not condition):
                return False
        return True


@cache
def object_weight(type_: GraphQLObjectType) -> int:
    """What one object of ``type_`` in a query's answer adds to its actual cost."""
    if _is_connection(type_):
        return PAGE_READ_COST
    if type_.name.endswith("Edge") or type_.name in _FREE_WRAPPERS:
        return 0
    return 1


@cache
def _is_connection(type_: GraphQLNamedType) -> bool:
    return (
        isinstance(type_, GraphQLObjectType)
        and type_.name.endswith("Connection")
        and "pageInfo" in type_.fields
    )
