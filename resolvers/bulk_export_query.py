"""What a bulk export reads: the caller's query, checked, and rewritten to be read page by page.

A bulk query selects one connection (at the root, or under single objects such as
``viewer { partner { serviceOffers } }``), whose nodes may hold nested connections down to
:data:`MAX_CONNECTION_DEPTH` levels in all. It is refused at once, with a code, when it is not
such a query. The plan rewrites it into the documents the worker runs with the caller's own
viewer, so every page is what the caller's own paging would see:

- the page document: the query with the top-level connection read ``$bulkExportFirst`` (at
  most :data:`PAGE_SIZE`) at a time after ``$bulkExportAfter``; every connection also selects
  its ``pageInfo`` and every node its ``id`` (under aliases of their own, left out of the file);
- for each nested connection, a follow-up document that reads its further pages through
  ``node(id: $bulkExportParent)`` when one parent holds more than a page.

A nested connection given ``first`` or ``last`` is read as that one page (say, ``history(first:
1)`` for the latest entry: history is newest first); without them it is read in full.

Fragments are handled as execution handles them: named and inline fragments along the path to
the top-level connection (and on the connection and its edges) are spread, selections left out
by ``@skip``/``@include`` (literal conditions: no variables) are dropped, and fields selected
more than once under one response key are merged; inside nodes they are kept (named ones
inlined). The query is held to the gateway's structural limits as written and as rewritten
(``resolvers.bulk_export_limits``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import IntEnum, StrEnum
from typing import Any

from graphql import (
    ArgumentNode,
    BooleanValueNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    NamedTypeNode,
    NameNode,
    NonNullTypeNode,
    OperationDefinitionNode,
    OperationType,
    SelectionNode,
    SelectionSetNode,
    VariableDefinitionNode,
    VariableNode,
    get_named_type,
    print_ast,
)
from graphql.language import BREAK, Node, Visitor, visit

from resolvers.bulk_export_limits import DocumentGate, Problem
from resolvers.pagination import MAX_PAGE_SIZE

MAX_CONNECTION_DEPTH = 3
"""Connections in a chain: the top-level one and two levels of nested ones."""
PAGE_SIZE = MAX_PAGE_SIZE
ID_KEY = "_bulkExportId"
PAGE_KEY = "_bulkExportPage"
AFTER = "bulkExportAfter"
FIRST = "bulkExportFirst"
PARENT = "bulkExportParent"
_RESERVED = "_bulkExport"
_PAGING = ("first", "last", "after", "before")


class BulkQueryErrorCode(StrEnum):
    """Why a bulk query was refused."""

    INVALID_SYNTAX = "INVALID_SYNTAX"
    INVALID_QUERY = "INVALID_QUERY"
    NOT_A_QUERY = "NOT_A_QUERY"
    VARIABLES_NOT_SUPPORTED = "VARIABLES_NOT_SUPPORTED"
    NO_CONNECTION = "NO_CONNECTION"
    MULTIPLE_TOP_LEVEL_FIELDS = "MULTIPLE_TOP_LEVEL_FIELDS"
    NESTING_TOO_DEEP = "NESTING_TOO_DEEP"
    PAGINATION_ARGUMENT = "PAGINATION_ARGUMENT"
    CONNECTION_FIELD = "CONNECTION_FIELD"
    CONNECTION_IN_LIST = "CONNECTION_IN_LIST"
    # The gateway's structural limits (``edge.bulk_query_gate``).
    MAX_DOCUMENT_LENGTH_EXCEEDED = "MAX_DOCUMENT_LENGTH_EXCEEDED"
    MAX_TOKENS_EXCEEDED = "MAX_TOKENS_EXCEEDED"
    MAX_DEPTH_EXCEEDED = "MAX_DEPTH_EXCEEDED"
    MAX_ALIASES_EXCEEDED = "MAX_ALIASES_EXCEEDED"
    MAX_SELECTIONS_EXCEEDED = "MAX_SELECTIONS_EXCEEDED"
    MAX_DIRECTIVES_EXCEEDED = "MAX_DIRECTIVES_EXCEEDED"
    MAX_ROOT_FIELDS_EXCEEDED = "MAX_ROOT_FIELDS_EXCEEDED"
    MAX_OPERATIONS_EXCEEDED = "MAX_OPERATIONS_EXCEEDED"
    INTROSPECTION_DISABLED = "INTROSPECTION_DISABLED"


class QueryRefused(Exception):
    def __init__(self, code: BulkQueryErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Connection:
    """One connection of the query: where it sits, how it is read, what it holds."""

    path: tuple[str, ...]
    """Response keys from the enclosing node (the root for the top-level one) to it."""
    via_edges: bool
    """Its nodes are under ``edges { node }`` (else under ``nodes``)."""
    in_full: bool
    """Read every page (else the one page its ``first``/``last`` asked for)."""
    children: tuple[Connection, ...] = ()
    follow_up: str = ""
    """The document reading a further page of it for one parent (nested ones read in full)."""


@dataclass(frozen=True)
class ExportPlan:
    page_document: str
    top: Connection


def plan_export(schema: GraphQLSchema, text: str, gate: DocumentGate) -> ExportPlan:
    """The plan of a bulk query; raises :class:`QueryRefused` saying why it cannot be one
    (held to the gateway's checks, ``gate``, as written and as the export runs it)."""
    document = _read(text, gate, "query", BulkQueryErrorCode.INVALID_SYNTAX)
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) == 1 and operations[0].operation is not OperationType.QUERY:
        raise QueryRefused(
            BulkQueryErrorCode.NOT_A_QUERY,
            f"a bulk export runs a query, not a {operations[0].operation.value}",
        )
    # Before validation, which would call a variable declared but unused, or used but not
    # declared, an invalid query: the answer either way is to write the value inline.
    if _has_variables(document):
        raise QueryRefused(
            BulkQueryErrorCode.VARIABLES_NOT_SUPPORTED,
            "a bulk query takes no variables: write the values into the query",
        )
    _check(schema, document, gate, "query")
    if len(operations) != 1:
        raise QueryRefused(
            BulkQueryErrorCode.INVALID_QUERY, "query must hold exactly one operation"
        )
    operation = operations[0]
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    plan = _Planner(schema, fragments).plan(operation)
    for written in (plan.page_document, *_follow_ups(plan.top)):
        # Say, a connection whose nodes have no id to hang nested lines off, or a query just
        # within a limit that the added ids and pageInfo take over it.
        page = _read(written, gate, _AS_RUN, BulkQueryErrorCode.INVALID_QUERY)
        _check(schema, page, gate, _AS_RUN)
    return plan


_AS_RUN = "query, as the export reads it page by page (with the ids and pageInfo it adds)"


def _read(text: str, gate: DocumentGate, what: str, otherwise: BulkQueryErrorCode) -> DocumentNode:
    found = gate.read(text)
    if isinstance(found, Problem):
        raise _refused(found, what, otherwise)
    return found


def _check(schema: GraphQLSchema, document: DocumentNode, gate: DocumentGate, what: str) -> None:
    problem = gate.check(schema, document)
    if problem is not None:
        raise _refused(problem, what, BulkQueryErrorCode.INVALID_QUERY)


def _refused(problem: Problem, what: str, otherwise: BulkQueryErrorCode) -> QueryRefused:
    code = BulkQueryErrorCode(problem.code) if problem.code else otherwise
    return QueryRefused(code, f"{what}: {problem.message}")


class _VariableFinder(Visitor):
    found = False

    def enter_variable(self, *_: Any) -> Any:
        self.found = True
        return BREAK


def _has_variables(document: DocumentNode) -> bool:
    """Whether a variable is declared or used anywhere (a fragment's directive, say)."""
    finder = _VariableFinder()
    visit(document, finder)
    return finder.found


def _follow_ups(connection: Connection) -> list[str]:
    found = [connection.follow_up] if connection.follow_up else []
    for child in connection.children:
        found.extend(_follow_ups(child))
    return found


@dataclass
class _Found:
    """A nested connection met while walking a node's selection."""

    steps: list[SelectionNode]
    parent_type: str
    rewritten: FieldNode
    plan: Connection = field(init=False)


class _Kind(IntEnum):
    """What a field holds on the way to a connection. Of several fields the highest decides
    the refusal: beside a connection that could be exported, the others are what is in the
    way (MULTIPLE_TOP_LEVEL_FIELDS); a connection only inside a list cannot be paged
    whatever else changes (CONNECTION_IN_LIST)."""

    NOTHING = 0
    UNDER_INTERFACE = 1
    IN_LIST = 2
    CONNECTION = 3


@dataclass(frozen=True)
class _Reach:
    kind: _Kind
    where: FieldNode
    """The connection, or the list or interface field in front of it."""

    @property
    def holds(self) -> bool:
        return self.kind is not _Kind.NOTHING


class _Planner:
    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self.schema = schema
        self.fragments = fragments

    def plan(self, operation: OperationDefinitionNode) -> ExportPlan:
        query = self.schema.query_type
        assert query is not None
        path: list[str] = []
        steps: list[FieldNode] = []
        parent: GraphQLObjectType = query
        selections = operation.selection_set.selections
        while True:
            fields = self._fields(selections)
            if len(fields) != 1:
                raise self._no_path(parent, fields)
            node = fields[0]
            definition = self._field(parent, node)
            named = get_named_type(definition.type)
            if _is_connection(named):
                break
            if not isinstance(named, GraphQLObjectType) or _is_list(definition.type):
                raise self._no_path(parent, fields)
            assert node.selection_set is not None  # an object's field, validated
            path.append(_key(node))
            steps.append(node)
            parent = named
            selections = node.selection_set.selections
        path.append(_key(node))
        assert isinstance(named, GraphQLObjectType)
        top, rewritten = self._connection(node, named, depth=1, top=True)
        body: SelectionNode = rewritten
        for step in reversed(steps):
            body = _with(step, selection_set=SelectionSetNode(selections=(body,)))
        page = _with(
            operation,
            name=NameNode(value="BulkExportPage"),
            variable_definitions=(_variable(FIRST, "Int!"), _variable(AFTER, "String")),
            selection_set=SelectionSetNode(selections=(body,)),
        )
        return ExportPlan(
            print_ast(DocumentNode(definitions=(page,))), replace(top, path=tuple(path))
        )

    def _connection(
        self, node: FieldNode, connection: GraphQLObjectType, *, depth: int, top: bool
    ) -> tuple[Connection, FieldNode]:
        """The plan of a connection field and the field rewritten for paging."""
        if depth > MAX_CONNECTION_DEPTH:
            raise QueryRefused(
                BulkQueryErrorCode.NESTING_TOO_DEEP,
                f"connections may be nested at most {MAX_CONNECTION_DEPTH} deep (the top-level "
                f"one included); {_key(node)} is at depth {depth}",
            )
        given = {a.name.value for a in node.arguments or ()}
        refused = [name for name in _PAGING if name in given and (top or name in _PAGING[2:])]
        if refused:
            where = "the top-level connection" if top else "a nested connection"
            raise QueryRefused(
                BulkQueryErrorCode.PAGINATION_ARGUMENT,
                f"{_key(node)}: {where} takes no {refused[0]} in a bulk query (the export "
                "reads every page itself"
                + ("" if top else "; first or last reads just that many")
                + ")",
            )
        in_full = top or not given & {"first", "last"}
        fields = self._fields(node.selection_set.selections if node.selection_set else ())
        names = [f.name.value for f in fields]
        if len(fields) != 1 or names[0] not in ("edges", "nodes"):
            raise QueryRefused(
                BulkQueryErrorCode.CONNECTION_FIELD,
                f"{_key(node)}: in a bulk query a connection selects edges {{ node {{ ... }} }} "
                "or nodes { ... } and nothing else (no pageInfo, totalCount or cursor)",
            )
        holder = fields[0]
        via_edges = names[0] == "edges"
        node_field = holder
        if via_edges:
            inner = self._fields(holder.selection_set.selections if holder.selection_set else ())
            if len(inner) != 1 or inner[0].name.value != "node":
                raise QueryRefused(
                    BulkQueryErrorCode.CONNECTION_FIELD,
                    f"{_key(node)}: edges selects node {{ ... }} and nothing else",
                )
            node_field = inner[0]
        node_type = get_named_type(self._field(connection, holder).type)
        if via_edges:
            edge = get_named_type(self._field(connection, holder).type)
            assert isinstance(edge, GraphQLObjectType)
            node_type = get_named_type(self._field(edge, node_field).type)
        assert isinstance(node_type, GraphQLObjectType)
        found: list[_Found] = []
        assert node_field.selection_set is not None
        selection = self._rewrite(node_field.selection_set, node_type, node_type, [], depth, found)
        selection = SelectionSetNode(selections=(*selection.selections, _field("id", alias=ID_KEY)))
        node_field = _with(node_field, selection_set=selection)
        if via_edges:
            node_field = _with(holder, selection_set=SelectionSetNode(selections=(node_field,)))
        page_info = _field(
            "pageInfo",
            alias=PAGE_KEY,
            selections=(_field("hasNextPage"), _field("endCursor")),
        )
        arguments = tuple(node.arguments or ())
        if top:
            # The worker chooses each page's size (smaller while requests wait: edge.export_pacing).
            arguments = (
                *arguments,
                _argument("first", VariableNode(name=NameNode(value=FIRST))),
                _argument("after", VariableNode(name=NameNode(value=AFTER))),
            )
        elif in_full:
            arguments = (*arguments, _argument("first", IntValueNode(value=str(PAGE_SIZE))))
        # A connection read as its one page needs no pageInfo (cursors cost to encode).
        selections = (node_field, page_info) if in_full else (node_field,)
        rewritten = _with(
            node, arguments=arguments, selection_set=SelectionSetNode(selections=selections)
        )
        children = tuple(self._nested(f) for f in found)
        return Connection(path=(), via_edges=via_edges, in_full=in_full, children=children), (
            rewritten
        )

    def _nested(self, found: _Found) -> Connection:
        """A nested connection's plan, with its follow-up document when read in full."""
        plan = found.plan
        keys = tuple(_key(s) for s in found.steps if isinstance(s, FieldNode))
        if not plan.in_full:
            return Connection(keys, plan.via_edges, False, plan.children)
        last = found.rewritten
        more = _with(
            last,
            arguments=(
                *(last.arguments or ()),
                _argument("after", VariableNode(name=NameNode(value=AFTER))),
            ),
        )
        body: SelectionNode = more
        for step in reversed(found.steps[:-1]):
            body = _with(step, selection_set=SelectionSetNode(selections=(body,)))
        on_parent = InlineFragmentNode(
            type_condition=NamedTypeNode(name=NameNode(value=found.parent_type)),
            directives=(),
            selection_set=SelectionSetNode(selections=(body,)),
        )
        lookup = FieldNode(
            name=NameNode(value="node"),
            arguments=(_argument("id", VariableNode(name=NameNode(value=PARENT))),),
            directives=(),
            selection_set=SelectionSetNode(selections=(on_parent,)),
        )
        operation = OperationDefinitionNode(
            operation=OperationType.QUERY,
            name=NameNode(value="BulkExportMore"),
            variable_definitions=(_variable(PARENT, "ID!"), _variable(AFTER, "String")),
            directives=(),
            selection_set=SelectionSetNode(selections=(lookup,)),
        )
        follow_up = print_ast(DocumentNode(definitions=(operation,)))
        return Connection(keys, plan.via_edges, True, plan.children, follow_up)

    def _rewrite(
        self,
        selection_set: SelectionSetNode,
        parent: Any,
        node_type: GraphQLObjectType,
        steps: list[SelectionNode],
        depth: int,
        found: list[_Found],
    ) -> SelectionSetNode:
        """A node's selection with its nested connections rewritten (noted in ``found``)."""
        out: list[SelectionNode] = []
        for selection in selection_set.selections:
            if isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments[selection.name.value]
                selection = InlineFragmentNode(
                    type_condition=fragment.type_condition,
                    directives=selection.directives,
                    selection_set=fragment.selection_set,
                )
            if isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                rewritten_set = self._rewrite(
                    selection.selection_set, inner, node_type, [*steps, selection], depth, found
                )
                out.append(_with(selection, selection_set=rewritten_set))
                continue
            assert isinstance(selection, FieldNode)
            if _key(selection).startswith(_RESERVED):
                raise QueryRefused(
                    BulkQueryErrorCode.INVALID_QUERY,
                    f"{_key(selection)}: names starting with {_RESERVED} are reserved",
                )
            if selection.selection_set is None or selection.name.value.startswith("__"):
                out.append(selection)
                continue
            definition = self._field(parent, selection)
            named = get_named_type(definition.type)
            if _is_list(definition.type) and self._reach(parent, selection).holds:
                # Before its inside is planned: no argument or field there would make it
                # exportable, so its own problems are not the answer.
                raise _in_list(selection)
            if _is_connection(named):
                assert isinstance(named, GraphQLObjectType)
                plan, rewritten = self._connection(selection, named, depth=depth + 1, top=False)
                nested = _Found([*steps, selection], node_type.name, rewritten)
                nested.plan = plan
                found.append(nested)
                out.append(rewritten)
                continue
            rewritten_set = self._rewrite(
                selection.selection_set, named, node_type, [*steps, selection], depth, found
            )
            out.append(_with(selection, selection_set=rewritten_set))
        return SelectionSetNode(selections=tuple(out))

    def _fields(self, selections: Sequence[SelectionNode]) -> list[FieldNode]:
        """The fields of a selection as execution collects them (for the path to the
        connection and the shape checks): named and inline fragments spread, selections that
        ``@skip``/``@include`` leave out dropped (a bulk query has no variables, so their
        conditions are literals), and the fields of one response key merged into one."""
        merged: dict[str, FieldNode] = {}
        for _, found in self._collect(None, selections):
            key = _key(found)
            held = merged.get(key)
            if held is None or held.selection_set is None or found.selection_set is None:
                merged.setdefault(key, found)
                continue
            both = (*held.selection_set.selections, *found.selection_set.selections)
            merged[key] = _with(held, selection_set=SelectionSetNode(selections=both))
        return list(merged.values())

    def _collect(
        self,
        parent: Any,
        selections: Sequence[SelectionNode],
        spread: set[str] | None = None,
    ) -> list[tuple[Any, FieldNode]]:
        """The fields of a selection, each with the type it is selected on (its fragment's
        type condition, else ``parent``: ``None`` when only the fields are wanted), fragments
        spread and what ``@skip``/``@include`` leave out dropped.

        A named fragment is spread once per selection (``spread``), as execution collects
        fields (graphql-core's ``collect_fields``): spread again, its fields would only merge
        with themselves, and a chain of fragments each spreading the next twice would take
        2^n steps (16 links, a 735-character query, held the event loop 17 s)."""
        spread = set() if spread is None else spread
        fields: list[tuple[Any, FieldNode]] = []
        for selection in selections:
            if not _included(selection):
                continue
            if isinstance(selection, FieldNode):
                fields.append((parent, selection))
                continue
            fragment: FragmentDefinitionNode | InlineFragmentNode
            if isinstance(selection, FragmentSpreadNode):
                if selection.name.value in spread:
                    continue
                spread.add(selection.name.value)
                fragment = self.fragments[selection.name.value]
            else:
                assert isinstance(selection, InlineFragmentNode)
                fragment = selection
            condition = fragment.type_condition
            on = self.schema.get_type(condition.name.value) if condition else parent
            fields.extend(self._collect(on, fragment.selection_set.selections, spread))
        return fields

    def _field(self, parent: Any, node: FieldNode) -> GraphQLField:
        """The field's definition as execution finds it: ``__typename`` on any type and
        ``__schema``/``__type`` on the root are not among a type's own fields."""
        definition = self.schema.get_field(parent, node.name.value)
        assert definition is not None  # the query was validated against this schema
        return definition

    def _no_path(self, parent: GraphQLObjectType, fields: list[FieldNode]) -> QueryRefused:
        """Why a selection on the way to the top-level connection is not one field leading to
        it: what its fields hold decides the code, the one naming what to change first."""
        if not fields:
            return QueryRefused(
                BulkQueryErrorCode.NO_CONNECTION,
                "a bulk query must select a connection (@skip and @include leave none)",
            )
        reach = max((self._reach(parent, f) for f in fields), key=lambda r: r.kind)
        if reach.kind is _Kind.CONNECTION:
            return QueryRefused(
                BulkQueryErrorCode.MULTIPLE_TOP_LEVEL_FIELDS,
                "a bulk query selects one connection and nothing beside it, at the root "
                "(authorizations { ... }) or under single objects "
                "(viewer { partner { serviceOffers { ... } } })",
            )
        if reach.kind is _Kind.IN_LIST:
            return _in_list(reach.where)
        if reach.kind is _Kind.UNDER_INTERFACE:
            return QueryRefused(
                BulkQueryErrorCode.INVALID_QUERY,
                f"{_key(reach.where)}: its type is an interface, so the export cannot page the "
                "connection under it; select the connection through an object's own field, "
                "such as partner(id: ...) { services { ... } }",
            )
        return QueryRefused(
            BulkQueryErrorCode.NO_CONNECTION,
            "a bulk query must select a connection, e.g. authorizations { edges { node { id } } }",
        )

    def _reach(self, parent: Any, node: FieldNode) -> _Reach:
        """Whether a connection is selected under ``node`` (or is ``node``) and what stands
        between: the outermost plain list or interface on the way."""
        definition = self._field(parent, node)
        named = get_named_type(definition.type)
        if _is_connection(named):
            return _Reach(_Kind.CONNECTION, node)
        if node.selection_set is None:
            return _Reach(_Kind.NOTHING, node)
        inner = max(
            (self._reach(on, f) for on, f in self._collect(named, node.selection_set.selections)),
            key=lambda r: r.kind,
            default=_Reach(_Kind.NOTHING, node),
        )
        if not inner.holds:
            return inner
        if _is_list(definition.type):
            return _Reach(_Kind.IN_LIST, node)
        if not isinstance(named, GraphQLObjectType):
            return _Reach(_Kind.UNDER_INTERFACE, node)
        return inner


def _in_list(where: FieldNode) -> QueryRefused:
    return QueryRefused(
        BulkQueryErrorCode.CONNECTION_IN_LIST,
        f"{_key(where)}: a connection inside a plain list cannot be exported; "
        "select it from a connection's nodes or a single object",
    )


def _included(selection: SelectionNode) -> bool:
    """Whether ``@skip``/``@include`` (with literal conditions) keep this selection."""
    for directive in selection.directives or ():
        name = directive.name.value
        if name not in ("skip", "include"):
            continue
        condition = next((a.value for a in directive.arguments or () if a.name.value == "if"), None)
        value = isinstance(condition, BooleanValueNode) and condition.value
        if value is (name == "skip"):
            return False
    return True


def _is_connection(named: Any) -> bool:
    return (
        isinstance(named, GraphQLObjectType)
        and named.name.endswith("Connection")
        and {"edges", "nodes", "pageInfo"} <= named.fields.keys()
    )


def _is_list(kind: Any) -> bool:
    if isinstance(kind, GraphQLNonNull):
        kind = kind.of_type
    return isinstance(kind, GraphQLList)


def _key(node: SelectionNode) -> str:
    if isinstance(node, FieldNode):
        return (node.alias or node.name).value
    return ""


def _with(node: Any, **changes: Any) -> Any:
    """A copy of an AST node with some attributes changed (graphql-core nodes are frozen by
    convention: the parsed document may be cached and shared)."""
    kind: type[Node] = type(node)
    values = {key: getattr(node, key, None) for key in kind.keys if key != "loc"}
    values.update(changes)
    return kind(**values)


def _field(
    name: str, *, alias: str | None = None, selections: tuple[SelectionNode, ...] = ()
) -> FieldNode:
    return FieldNode(
        alias=NameNode(value=alias) if alias else None,
        name=NameNode(value=name),
        arguments=(),
        directives=(),
        selection_set=SelectionSetNode(selections=selections) if selections else None,
    )


def _argument(name: str, value: Any) -> ArgumentNode:
    return ArgumentNode(name=NameNode(value=name), value=value)


def _variable(name: str, type_name: str) -> VariableDefinitionNode:
    non_null = type_name.endswith("!")
    named = NamedTypeNode(name=NameNode(value=type_name.rstrip("!")))
    return VariableDefinitionNode(
        variable=VariableNode(name=NameNode(value=name)),
        type=NonNullTypeNode(type=named) if non_null else named,
        directives=(),
    )
