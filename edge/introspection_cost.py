"""What an introspection selection (``__schema``, ``__type``) costs: the objects its answer
holds, counted over the schema itself before anything runs.

An introspection answer is a function of the schema and the selection alone, so the count is
exact: it bounds what execution returns, as a requested cost must, without the assumed list
sizes that would make GraphiQL's own query cost tens of thousands. The objects are in memory,
not read from the store, so :data:`OBJECTS_PER_POINT` of them cost one point: by CPU, one
introspection object took about a tenth of what one point of a store-backed query does
(15 aliased ``__schema { types { fields { args type } } }`` took 400 ms and cost nothing, and a
caller repeating them held a normal client's p99 at 47x its own).

The rules follow graphql-core's introspection resolvers: deprecated fields, arguments, input
fields and enum values are left out unless ``includeDeprecated: true``; ``fields`` and
``interfaces`` exist on object and interface types, ``possibleTypes`` on abstract ones,
``enumValues`` on enums, ``inputFields`` on input objects, ``ofType`` on lists and non-nulls.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from graphql import (
    FieldNode,
    GraphQLArgument,
    GraphQLDirective,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLType,
    GraphQLWrappingType,
    OperationType,
    is_abstract_type,
)

OBJECTS_PER_POINT = 10

Collect = Callable[[str, Sequence[FieldNode]], Mapping[str, list[FieldNode]]]
"""The fields selected on an introspection type (by name) under these field nodes, by
response key: the cost walk's own collection (fragments, directives and merging included)."""
Arguments = Callable[[FieldNode], Mapping[str, Any]]


class IntrospectionCounter:
    """Counts the objects of one operation's introspection answers (one per cost walk)."""

    def __init__(self, schema: GraphQLSchema, collect: Collect, arguments: Arguments) -> None:
        self.schema = schema
        self._collect_fields = collect
        self._arguments = arguments
        # A walk meets the same few selections thousands of times (once per type, field and
        # argument of the schema): what they select and whether they include deprecated
        # entries are worked out once, by the ids of nodes the walk keeps.
        self._selections: dict[tuple[str, int], Mapping[str, list[FieldNode]]] = {}
        self._with_deprecated: dict[int, bool] = {}
        # By a type as written ("[String!]!": wrappers are made anew for each field) and the
        # id of the collected selection, which the walk keeps.
        self._counted: dict[tuple[str, int], int] = {}

    def schema_field(self, nodes: Sequence[FieldNode]) -> int:
        """``__schema``: its object, and what is selected of it."""
        total = 1
        for fields in self._collect("__Schema", nodes).values():
            name = fields[0].name.value
            if name == "types":
                total += self._types(self.schema.type_map.values(), fields)
            elif name in ("queryType", "mutationType", "subscriptionType"):
                root = self.schema.get_root_type(_OPERATIONS[name])
                total += self._types([root] if root is not None else [], fields)
            elif name == "directives":
                for directive in self.schema.directives:
                    total += self._directive(directive, fields)
        return total

    def type_field(self, nodes: Sequence[FieldNode]) -> int:
        """``__type(name:)``: the named type, if there is one."""
        name = self._arguments(nodes[0]).get("name")
        found = self.schema.get_type(name) if isinstance(name, str) else None
        return self._types([found] if found is not None else [], nodes)

    def _collect(self, type_name: str, nodes: Sequence[FieldNode]) -> Mapping[str, list[FieldNode]]:
        key = (type_name, id(nodes))
        found = self._selections.get(key)
        if found is None:
            found = self._selections[key] = self._collect_fields(type_name, nodes)
        return found

    def _deprecated(self, node: FieldNode) -> bool:
        found = self._with_deprecated.get(id(node))
        if found is None:
            found = self._arguments(node).get("includeDeprecated") is True
            self._with_deprecated[id(node)] = found
        return found

    def _types(self, types: Iterable[GraphQLType], nodes: Sequence[FieldNode]) -> int:
        selected = self._collect("__Type", nodes)
        total = 0
        for type_ in types:
            # The same few types (String, ID, their non-null and list wrappers) answer most
            # ``type`` selections of a schema's fields and arguments.
            key = (str(type_), id(selected))
            found = self._counted.get(key)
            if found is None:
                found = 1 + sum(self._of_type(type_, fields) for fields in selected.values())
                self._counted[key] = found
            total += found
        return total

    def _of_type(self, type_: GraphQLType, fields: Sequence[FieldNode]) -> int:
        name = fields[0].name.value
        deprecated = self._deprecated(fields[0])
        if name == "fields" and isinstance(type_, GraphQLObjectType | GraphQLInterfaceType):
            return sum(
                self._field(field, fields)
                for field in type_.fields.values()
                if deprecated or field.deprecation_reason is None
            )
        if name == "interfaces" and isinstance(type_, GraphQLObjectType | GraphQLInterfaceType):
            return self._types(type_.interfaces, fields)
        if name == "possibleTypes" and is_abstract_type(type_):
            return self._types(self.schema.get_possible_types(type_), fields)
        if name == "enumValues" and isinstance(type_, GraphQLEnumType):
            return sum(
                1
                for value in type_.values.values()
                if deprecated or value.deprecation_reason is None
            )
        if name == "inputFields" and isinstance(type_, GraphQLInputObjectType):
            return self._values(type_.fields.values(), fields, deprecated)
        if name == "ofType" and isinstance(type_, GraphQLWrappingType):
            return self._types([type_.of_type], fields)
        return 0

    def _field(self, field: GraphQLField, nodes: Sequence[FieldNode]) -> int:
        total = 1
        for fields in self._collect("__Field", nodes).values():
            name = fields[0].name.value
            deprecated = self._deprecated(fields[0])
            if name == "args":
                total += self._values(field.args.values(), fields, deprecated)
            elif name == "type":
                total += self._types([field.type], fields)
        return total

    def _directive(self, directive: GraphQLDirective, nodes: Sequence[FieldNode]) -> int:
        total = 1
        for fields in self._collect("__Directive", nodes).values():
            if fields[0].name.value == "args":
                deprecated = self._deprecated(fields[0])
                total += self._values(directive.args.values(), fields, deprecated)
        return total

    def _values(
        self,
        values: Iterable[GraphQLArgument | GraphQLInputField],
        nodes: Sequence[FieldNode],
        deprecated: bool,
    ) -> int:
        selected = self._collect("__InputValue", nodes)
        total = 0
        for value in values:
            if not deprecated and value.deprecation_reason is not None:
                continue
            total += 1
            for fields in selected.values():
                if fields[0].name.value == "type":
                    total += self._types([value.type], fields)
        return total


def points(objects: int) -> int:
    """What ``objects`` introspection objects cost."""
    return math.ceil(objects / OBJECTS_PER_POINT)


_OPERATIONS = {
    "queryType": OperationType.QUERY,
    "mutationType": OperationType.MUTATION,
    "subscriptionType": OperationType.SUBSCRIPTION,
}
