"""OverlappingFieldsCanBeMerged in near-linear time, with graphql-core's own errors.

graphql-core compares every pair of fields sharing a response name, and again every pair of
their sub-fields: ``{ viewer { partner { id } partner { id } ... } }`` with 600 repeats takes
seconds before its complexity budget aborts the validation. Field merging is an equivalence
in all but the parent-type rule, so (as graphql-java's rule does, after Adameit's "XING"
algorithm) the fields of one response name are each compared with the first instead, their
sub-selections merged, and the merged set checked once:

- every field of a response name must have the same response shape (list and non-null
  wrappers, and the same leaf type), whatever its parent type;
- fields whose parents can be the same object (the same object type, or an interface, a
  union or an unknown type on either side) must also have the same name and arguments.

The check only decides whether the document has a conflict. When it has (or the document
uses something the check does not model: ``@stream``, fragment variables, duplicate argument
names, fragment cycles, or a merge larger than :data:`WORK_LIMIT`), graphql-core's rule runs
to report its exact errors, under a complexity budget of :data:`REPORT_BUDGET` instead of
its default 500,000 (a few milliseconds of work).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from graphql import (
    BREAK,
    SKIP,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    ListValueNode,
    NullValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    OverlappingFieldsCanBeMergedRule,
    SelectionSetNode,
    StringValueNode,
    ValidationContext,
    ValueNode,
    VariableNode,
    get_named_type,
    is_interface_type,
    is_leaf_type,
    is_object_type,
)
from graphql.utilities import type_from_ast
from graphql.validation.validate import ValidationAbortedError

WORK_LIMIT = 10_000
"""Field occurrences the check may visit before it hands the document to graphql-core."""

REPORT_BUDGET = 5_000
"""graphql-core's complexity budget when it reports conflicts (a few milliseconds)."""


class _Unsure(Exception):
    """The document needs graphql-core's rule: it conflicts, or the check cannot tell."""


class _Field(NamedTuple):
    node: FieldNode
    parent: GraphQLNamedType | None
    definition: GraphQLField | None


_Fields = dict[str, list[_Field]]


class FieldsCanMergeRule(OverlappingFieldsCanBeMergedRule):
    """graphql-core's rule, run only on documents the near-linear check finds a conflict in,
    with a smaller budget."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        self.rule_context.remaining_complexity_budget = REPORT_BUDGET

    def enter_document(self, node: DocumentNode, *_: object) -> Any:
        return SKIP if merges_cleanly(self.context.schema, node) else None

    def enter_selection_set(self, *args: Any) -> Any:
        try:
            super().enter_selection_set(*args)
        except ValidationAbortedError:
            if self.rule_context.remaining_complexity_budget >= 0:
                raise  # the error limit of the whole validation, not this rule's budget
            self.report_error(
                GraphQLError(
                    "Fields of this selection conflict (the same response name for different "
                    "fields, arguments or types), in more places than can be listed. Use "
                    "different aliases on the fields to fetch both if this was intentional.",
                    args[0],
                )
            )
            return BREAK
        return None


def merges_cleanly(schema: GraphQLSchema, document: DocumentNode) -> bool:
    """Whether every field of ``document`` merges (``False`` also when unsure)."""
    try:
        _MergeCheck(schema, document).run()
    except (_Unsure, RecursionError):
        return False
    return True


class _MergeCheck:
    """One document's merge check; raises :class:`_Unsure` where graphql-core must look."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode) -> None:
        self.schema = schema
        self.document = document
        self.fragments: dict[str, FragmentDefinitionNode] = {}
        self.collected: dict[tuple[int, int], _Fields] = {}
        self.keys: dict[int, tuple[str, tuple[tuple[str, object], ...]]] = {}
        self.reached: set[str] = set()
        self.work = 0

    def run(self) -> None:
        for definition in self.document.definitions:
            if isinstance(definition, FragmentDefinitionNode):
                name = definition.name.value
                if name in self.fragments or definition.variable_definitions:
                    raise _Unsure
                self.fragments[name] = definition
        spread = _refuse_cycles(self.document, self.fragments)
        for definition in self.document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                root = self.schema.get_root_type(definition.operation)
                self._check_set(self._collect(root, definition.selection_set))
            elif (
                isinstance(definition, FragmentDefinitionNode)
                and definition.name.value not in spread
            ):
                # Nobody spreads it, so no operation checks it: graphql-core still does.
                self.reached.add(definition.name.value)
                self._check_set(self._collect(self._type(definition), definition.selection_set))
        if self.reached != set(self.fragments):
            raise _Unsure

    def _type(self, fragment: FragmentDefinitionNode | InlineFragmentNode) -> Any:
        condition = fragment.type_condition
        return type_from_ast(self.schema, condition) if condition is not None else None

    def _check_set(self, fields: _Fields) -> None:
        for same_name in fields.values():
            self._check(same_name, shape=True, names=True)

    def _check(self, fields: list[_Field], *, shape: bool, names: bool) -> None:
        """Fields of one response name, and (recursively) their merged sub-fields."""
        if shape:
            _same_shape(fields)
        groups = _common_parent_groups(fields)
        if names:
            for group in groups:
                first = self._key(group[0].node)
                if any(self._key(f.node) != first for f in group[1:]):
                    raise _Unsure
        if len(groups) == 1:
            for children in self._merge(fields).values():
                self._check(children, shape=shape, names=names)
            return
        if shape:
            for children in self._merge(fields).values():
                self._check(children, shape=True, names=False)
        if names:
            for group in groups:
                for children in self._merge(group).values():
                    self._check(children, shape=False, names=True)

    def _merge(self, fields: list[_Field]) -> _Fields:
        """The sub-fields of ``fields``, merged by response name (each node once)."""
        merged: _Fields = {}
        seen: set[tuple[int, int]] = set()
        for field in fields:
            selection_set = field.node.selection_set
            if selection_set is None:
                continue
            definition = field.definition
            parent = get_named_type(definition.type) if definition is not None else None
            for response_name, children in self._collect(parent, selection_set).items():
                for child in children:
                    identity = (id(child.node), id(child.parent))
                    if identity not in seen:
                        seen.add(identity)
                        merged.setdefault(response_name, []).append(child)
                self.work += len(children)
        if self.work > WORK_LIMIT:
            raise _Unsure
        return merged

    def _collect(self, parent: Any, selection_set: SelectionSetNode) -> _Fields:
        """The fields of a selection set by response name, inline fragments and fragment
        spreads expanded (each fragment once), as graphql-core's rule collects them."""
        cache_key = (id(selection_set), id(parent))
        cached = self.collected.get(cache_key)
        if cached is not None:
            return cached
        fields: _Fields = {}
        expanded: set[str] = set()
        stack: list[tuple[Any, SelectionSetNode]] = [(parent, selection_set)]
        while stack:
            current_parent, current = stack.pop()
            for selection in reversed(current.selections):
                if isinstance(selection, FieldNode):
                    _stream(selection)
                    name = selection.name.value
                    has_fields = is_object_type(current_parent) or is_interface_type(current_parent)
                    definition = current_parent.fields.get(name) if has_fields else None
                    response_name = selection.alias.value if selection.alias else name
                    fields.setdefault(response_name, []).append(
                        _Field(selection, current_parent, definition)
                    )
                elif isinstance(selection, InlineFragmentNode):
                    condition = (
                        self._type(selection)
                        if selection.type_condition is not None
                        else current_parent
                    )
                    stack.append((condition, selection.selection_set))
                elif isinstance(selection, FragmentSpreadNode):
                    if selection.arguments:
                        raise _Unsure
                    name = selection.name.value
                    fragment = self.fragments.get(name)
                    if fragment is None or name in expanded:
                        continue
                    expanded.add(name)
                    self.reached.add(name)
                    stack.append((self._type(fragment), fragment.selection_set))
        self.work += sum(len(same_name) for same_name in fields.values())
        self.collected[cache_key] = fields
        return fields

    def _key(self, node: FieldNode) -> tuple[str, tuple[tuple[str, object], ...]]:
        """A field's name and arguments, equal exactly when graphql-core finds them equal."""
        key = self.keys.get(id(node))
        if key is None:
            arguments = node.arguments or ()
            names = [argument.name.value for argument in arguments]
            if len(set(names)) != len(names):
                raise _Unsure  # graphql-core's comparison is not symmetric then
            values = sorted((a.name.value, _value_key(a.value)) for a in arguments)
            key = self.keys[id(node)] = (node.name.value, tuple(values))
        return key


def _stream(node: FieldNode) -> None:
    if any(directive.name.value == "stream" for directive in node.directives or ()):
        raise _Unsure


def _refuse_cycles(
    document: DocumentNode, fragments: dict[str, FragmentDefinitionNode]
) -> set[str]:
    """Every fragment name spread anywhere in ``document``; a cycle makes the check unsure."""
    inside: dict[str, list[str]] = {}
    spread: set[str] = set()
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode | FragmentDefinitionNode):
            names = _spreads_in(definition.selection_set)
            if isinstance(definition, FragmentDefinitionNode):
                inside[definition.name.value] = names
            spread.update(names)
    done: set[str] = set()
    for root in fragments:
        if root in done:
            continue
        path = [(root, iter(inside[root]))]
        on_path = {root}
        while path:
            name, spreads = path[-1]
            for inner in spreads:
                if inner in on_path:
                    raise _Unsure
                if inner in fragments and inner not in done:
                    path.append((inner, iter(inside[inner])))
                    on_path.add(inner)
                    break
            else:
                path.pop()
                on_path.discard(name)
                done.add(name)
    return spread


def _spreads_in(selection_set: SelectionSetNode) -> list[str]:
    names: list[str] = []
    stack = [selection_set]
    while stack:
        for selection in stack.pop().selections:
            if isinstance(selection, FragmentSpreadNode):
                names.append(selection.name.value)
            elif selection.selection_set is not None:  # type: ignore[attr-defined]
                stack.append(selection.selection_set)  # type: ignore[attr-defined]
    return names


def _same_shape(fields: list[_Field]) -> None:
    """graphql-core's ``do_types_conflict`` is equality of this shape, so comparing each
    field with the first compares every pair."""
    first: tuple[object, ...] | None = None
    for field in fields:
        if field.definition is None:
            continue
        shape = _shape(field.definition.type)
        if first is None:
            first = shape
        elif shape != first:
            raise _Unsure


def _shape(type_: GraphQLOutputType) -> tuple[object, ...]:
    wrappers: list[object] = []
    while isinstance(type_, GraphQLList | GraphQLNonNull):
        wrappers.append(type(type_))
        type_ = type_.of_type
    wrappers.append(id(type_) if is_leaf_type(type_) else "composite")
    return tuple(wrappers)


def _common_parent_groups(fields: list[_Field]) -> list[list[_Field]]:
    """Fields that may apply to the same object: per object parent type, its fields with the
    fields of every non-object parent (interfaces, unions, unknown types)."""
    by_object: dict[int, list[_Field]] = {}
    shared: list[_Field] = []
    for field in fields:
        if is_object_type(field.parent):
            by_object.setdefault(id(field.parent), []).append(field)
        else:
            shared.append(field)
    if len(by_object) <= 1:
        return [fields]
    return [[*own, *shared] for own in by_object.values()]


def _value_key(node: ValueNode) -> object:
    """graphql-core's comparison key of an argument value (object fields by name)."""
    if isinstance(node, VariableNode):
        return ("Variable", node.name.value)
    if isinstance(node, ObjectValueNode):
        ordered = sorted(node.fields, key=lambda field: field.name.value)
        return ("Object", tuple((f.name.value, _value_key(f.value)) for f in ordered))
    if isinstance(node, ListValueNode):
        return ("List", tuple(_value_key(value) for value in node.values))
    if isinstance(node, StringValueNode):
        return ("String", node.value, node.block is True)
    if isinstance(node, NullValueNode):
        return ("Null",)
    return (type(node).__name__, getattr(node, "value", None))
