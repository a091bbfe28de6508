"""Operation plans: a query's selections worked out once per document, not once per object.

graphql-core collects the fields of every object it completes, looks up each field's
definition, wraps each resolver call in Strawberry's argument conversion and ``Info``, and
completes each value by walking the return type. For a document the gateway has seen, all of
that is the same every time: which fields each type selects, which of them are plain
attributes, which resolver each calls with which parameters, and how each value completes. A
plan holds the answers; :mod:`edge.planned_execution` runs it.

A plan is built from graphql-core's own field collection (fragments, type conditions,
``@skip``/``@include``), so it selects exactly what the interpreted path selects. Whatever a
plan cannot express (introspection, fragment arguments, Strawberry field extensions) makes the
operation unplannable, and it runs interpreted.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any

import strawberry
from graphql import (
    DirectiveNode,
    DocumentNode,
    FieldNode,
    GraphQLAbstractType,
    GraphQLEnumType,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    VariableNode,
    is_abstract_type,
    is_leaf_type,
    is_object_type,
)
from graphql.language import Visitor, visit

from edge.cost import SERIES_ITEM, object_weight
from edge.engine import (
    FieldDetailsList,
    FragmentDetails,
    Permission,
    StrawberryField,
    VariableValues,
    collect_fields,
    collect_subfields,
    declared_permissions,
    node_slots,
    origin_of,
    python_enum_of,
    resolver_call,
    strawberry_field_of,
    strawberry_schema_of,
)
from schema.document_reads import AttributeRead, Loads, attribute_reads, field_read
from schema.pagination import Part, parts_of


class Unplanned(StrEnum):
    """Why an operation runs interpreted (a bounded set: the label of a metric)."""

    MUTATION = "mutation"
    SUBSCRIPTION = "subscription"
    NOT_STRAWBERRY = "not a Strawberry schema"
    SERIAL = "serial execution"
    ABORTABLE = "abort signal"
    MIDDLEWARE = "field middleware"
    DEFER = "@defer"
    FRAGMENT_ARGUMENTS = "fragment arguments"
    INTROSPECTION = "introspection"
    FIELD_EXTENSIONS = "field extensions"
    RESOLVER = "resolver not a plain function"
    UNKNOWN_FIELD = "unknown field"


class Unplannable(Exception):
    """The operation uses something a plan does not express; it runs interpreted."""

    def __init__(self, reason: Unplanned, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else str(reason))
        self.reason = reason


class Access(Enum):
    """How a planned field reads its value from its parent object."""

    TYPENAME = "typename"
    """``__typename``: the parent type's name, a constant of the plan."""
    ATTRIBUTE = "attribute"
    """A field without a resolver: an attribute of the parent object."""
    RESOLVER = "resolver"
    """A resolver function, called directly with the parameters it declares."""
    DOCUMENT_ATTRIBUTE = "document attribute"
    """An attribute of a document type, read from the document (``schema.document_reads``)."""
    DOCUMENT_FIELD = "document field"
    """A resolver field of a document type, read from the document by its declared read."""


class Shape(Enum):
    """How a planned value completes."""

    LEAF = "leaf"
    OBJECT = "object"
    ABSTRACT = "abstract"
    LIST = "list"


@dataclass(eq=False)
class Completion:
    """How a field's value (or a list's item) becomes its part of the response."""

    shape: Shape
    non_null: bool
    coerce: Callable[[Any], Any] | None = None
    """A leaf type's output coercion."""
    enum_names: dict[int, str] | None = None
    """An enum's response names by the identity of their Python members (members live as
    long as their class, so an id found here is the member's), which spares calling the
    coercion for them."""
    object_plan: ObjectPlan | None = None
    abstract_type: GraphQLAbstractType | None = None
    item: Completion | None = None
    carries_path: bool = False
    """Whether completing it needs the value's response path: an abstract type's does (its
    type resolver reads ``Info``), an object's when something under it reads ``Info`` (a
    resolver, a read that takes ``Info``, an ``is_type_of`` of its own)."""


@dataclass(eq=False)
class FieldPlan:
    """One response key of an object plan, with everything needed to resolve and complete it
    for any object of the plan's type."""

    key: str
    parent_type: GraphQLObjectType
    definition: GraphQLField
    details: FieldDetailsList
    access: Access
    completion: Completion
    name: str = ""
    """The attribute an ``ATTRIBUTE`` field reads."""
    python_name: str = ""
    """The field's name in its Python type (none for ``__typename``)."""
    strawberry_field: StrawberryField | None = None
    function: Callable[..., Any] | None = None
    """A ``RESOLVER`` field's function (Strawberry's resolver, unwrapped)."""
    passes_self: bool = False
    source_keywords: tuple[str, ...] = ()
    """Keyword parameters (``root``, ``parent``) that receive the parent object."""
    info_keyword: str | None = None
    takes_arguments: bool = False
    permissions: tuple[Permission, ...] = ()
    """The permissions a ``RESOLVER`` field declares, checked before its resolver is called."""
    read: Callable[..., Any] | None = None
    """A ``DOCUMENT_ATTRIBUTE`` or ``DOCUMENT_FIELD`` field's read of the document."""
    loads: Loads | None = None
    """A ``DOCUMENT_FIELD`` read that is loads of one loader, batched by the run."""
    read_takes_info: bool = False
    """Whether a ``DOCUMENT_FIELD`` read takes ``(document, info, **arguments)`` rather than
    ``(document, context)``."""
    typed: bool = True
    """Whether it reads the typed object (of a document type: built from the document)."""
    finish: Callable[..., None] | None = None
    """``finish(run, value, out, path)``: its value completed into its parent's map when it
    came later than the parent was filled (``edge.plan_assembly``)."""
    nodes: list[FieldNode] = field(init=False)
    needs_path: bool = field(init=False)
    """Whether resolving or completing it needs its response path."""

    def __post_init__(self) -> None:
        self.nodes = [details.node for details in self.details]
        self.typed = self.access in (Access.ATTRIBUTE, Access.RESOLVER)
        self.needs_path = (
            self.access is Access.RESOLVER
            or (self.access is Access.DOCUMENT_FIELD and self.read_takes_info)
            or self.completion.carries_path
        )


@dataclass(eq=False)
class ObjectPlan:
    """The fields an object type's selection asks for, in response order."""

    object_type: GraphQLObjectType
    fields: list[FieldPlan] = field(default_factory=list)
    is_type_of: Callable[[Any, Any], Any] | None = None
    is_type_of_reads_info: bool = False
    """Whether ``is_type_of`` is the type's own (which may read ``info``) rather than the one
    Strawberry derives from its interfaces (which does not)."""
    document_class: Any = None
    """A document type's class (``schema.document_reads``): its objects are read as stored
    documents, and built as typed objects only for fields without a read."""
    reads_typed: bool = False
    """Whether any of its fields reads the typed object."""
    parts: dict[str, Part] = field(default_factory=dict)
    """What its type declares its fields are (``schema.pagination.Part``, by Python name):
    a connection's (whose value a document read answers as a page) or an edge's."""
    connection: bool = field(init=False)

    def __post_init__(self) -> None:
        self.connection = Part.EDGES in self.parts.values()

    def part(self, field_plan: FieldPlan) -> Part | None:
        """What ``field_plan`` is of a connection or edge (``None``: nothing declared)."""
        return self.parts.get(field_plan.python_name)

    needs_path: bool = False
    """Whether any of its fields needs its response path (see ``Completion.carries_path``)."""
    weight: int = 0
    """What each of its objects adds to the query's actual cost (``edge.cost``)."""
    fill: Callable[..., dict[str, Any]] | None = None
    """Its compiled assembly (``edge.plan_assembly``), made when first run."""


class OperationPlan:
    """The plan of one query operation for one choice of ``@skip``/``@include`` variables.

    Plans of abstract fields are made per runtime type when first met (types an answer never
    holds are never planned); everything else is planned up front.
    """

    def __init__(
        self,
        schema: GraphQLSchema,
        strawberry_schema: strawberry.Schema,
        operation: OperationDefinitionNode,
        fragments: dict[str, FragmentDetails],
        variable_values: VariableValues,
    ) -> None:
        self.schema = schema
        self.info_class = strawberry_schema.config.info_class
        self.strawberry_schema = strawberry_schema
        self.operation = operation
        self._fragments = fragments
        # Only ``@skip``/``@include`` read these; plans are keyed by those variables' values.
        self._variable_values = variable_values
        self._runtime_plans: dict[tuple[GraphQLObjectType, int], tuple[Any, ObjectPlan]] = {}
        root_type = schema.query_type
        if root_type is None:
            raise Unplannable(Unplanned.NOT_STRAWBERRY, "the schema has no query type")
        grouped, defer_usages, _ = collect_fields(
            schema, fragments, variable_values, root_type, operation
        )
        if defer_usages:
            raise Unplannable(Unplanned.DEFER)
        self.counts_cost = True
        """Whether its runs count the actual cost: the walk of ``edge.cost`` takes the most
        costly possible type of an abstract field's value, which a run does not know."""
        self.root = self._object_plan(root_type, grouped)
        self.root.weight = 0  # the walk counts the root's fields, not the root
        self.reported = False
        """Whether a run of it that ended on a bug was logged (once per plan is enough)."""

    def object_plans(self) -> Iterator[ObjectPlan]:
        """Every object plan it holds, once each: the root's, those under it, and the runtime
        types' of abstract fields met so far."""
        plans = [self.root, *(plan for _, plan in self._runtime_plans.values())]
        seen: set[int] = set()
        while plans:
            plan = plans.pop()
            if id(plan) in seen:
                continue
            seen.add(id(plan))
            yield plan
            for field_plan in plan.fields:
                completion: Completion | None = field_plan.completion
                while completion is not None:
                    if completion.object_plan is not None:
                        plans.append(completion.object_plan)
                    completion = completion.item

    def runtime_plan(self, object_type: GraphQLObjectType, details: FieldDetailsList) -> ObjectPlan:
        """The plan of an abstract field's value whose runtime type is ``object_type``."""
        key = (object_type, id(details))
        cached = self._runtime_plans.get(key)
        if cached is None:
            plan = self._subplan(object_type, details)
            # The list is kept with its plan, so its id cannot be reused by another one.
            self._runtime_plans[key] = cached = (details, plan)
        return cached[1]

    def _subplan(self, object_type: GraphQLObjectType, details: FieldDetailsList) -> ObjectPlan:
        grouped, defer_usages, _ = collect_subfields(
            self.schema,
            self._fragments,
            self._variable_values,
            self.operation,
            object_type,
            details,
        )
        if defer_usages:
            raise Unplannable(Unplanned.DEFER)
        return self._object_plan(object_type, grouped)

    def _object_plan(
        self, object_type: GraphQLObjectType, grouped: dict[str, FieldDetailsList]
    ) -> ObjectPlan:
        definition = origin_of(object_type)
        origin = definition.origin
        reads = attribute_reads(origin) if isinstance(origin, type) else None
        plan = ObjectPlan(
            object_type,
            is_type_of=object_type.is_type_of,
            is_type_of_reads_info=definition.own_is_type_of,
            document_class=origin if reads is not None else None,
            parts=parts_of(origin),
            weight=object_weight(object_type),
        )
        for key, details in grouped.items():
            if any(d.fragment_variable_values is not None for d in details):
                raise Unplannable(Unplanned.FRAGMENT_ARGUMENTS)
            plan.fields.append(self._field_plan(object_type, key, details, reads))
        plan.reads_typed = any(f.typed for f in plan.fields)
        plan.needs_path = any(f.needs_path for f in plan.fields)
        return plan

    def _field_plan(
        self,
        parent_type: GraphQLObjectType,
        key: str,
        details: FieldDetailsList,
        reads: Mapping[str, AttributeRead] | None,
    ) -> FieldPlan:
        name = details[0].node.name.value
        definition = self.schema.get_field(parent_type, name)
        if definition is None:
            raise Unplannable(Unplanned.UNKNOWN_FIELD, f"{parent_type.name}.{name}")
        completion = self._completion(definition.type, details)
        if name == "__typename":
            return FieldPlan(key, parent_type, definition, details, Access.TYPENAME, completion)
        if name.startswith("__"):
            raise Unplannable(Unplanned.INTROSPECTION)
        strawberry_field = strawberry_field_of(definition)
        if strawberry_field is None:
            raise Unplannable(Unplanned.NOT_STRAWBERRY, f"{parent_type.name}.{name}")
        try:
            resolver = resolver_call(strawberry_field)
        except TypeError:
            raise Unplannable(Unplanned.RESOLVER, f"{parent_type.name}.{name}") from None
        permissions = declared_permissions(strawberry_field)
        if permissions is None or (permissions and resolver is None):
            raise Unplannable(Unplanned.FIELD_EXTENSIONS, f"{parent_type.name}.{name}")
        if resolver is None and reads is not None and strawberry_field.python_name in reads:
            return FieldPlan(
                key,
                parent_type,
                definition,
                details,
                Access.DOCUMENT_ATTRIBUTE,
                completion,
                python_name=strawberry_field.python_name,
                read=reads[strawberry_field.python_name],
            )
        if resolver is None:
            return FieldPlan(
                key,
                parent_type,
                definition,
                details,
                Access.ATTRIBUTE,
                completion,
                python_name=strawberry_field.python_name,
                name=strawberry_field.python_name,
            )
        declared = field_read(resolver.function) if reads is not None else None
        if declared is not None and permissions:
            raise Unplannable(Unplanned.FIELD_EXTENSIONS, f"{parent_type.name}.{name}")
        return FieldPlan(
            key,
            parent_type,
            definition,
            details,
            Access.RESOLVER if declared is None else Access.DOCUMENT_FIELD,
            completion,
            python_name=strawberry_field.python_name,
            strawberry_field=strawberry_field,
            function=resolver.function,
            passes_self=resolver.passes_self,
            source_keywords=resolver.source_keywords,
            info_keyword=resolver.info_keyword,
            takes_arguments=bool(definition.args or details[0].node.arguments),
            permissions=permissions,
            read=None if declared is None else declared.read,
            loads=None if declared is None else declared.loads,
            read_takes_info=declared is not None and declared.takes_info,
        )

    def _completion(self, of_type: GraphQLOutputType, details: FieldDetailsList) -> Completion:
        non_null = isinstance(of_type, GraphQLNonNull)
        named = of_type.of_type if isinstance(of_type, GraphQLNonNull) else of_type
        if isinstance(named, GraphQLList):
            item = self._completion(named.of_type, details)
            return Completion(Shape.LIST, non_null, item=item, carries_path=item.carries_path)
        python_enum = python_enum_of(named) if isinstance(named, GraphQLEnumType) else None
        if isinstance(named, GraphQLEnumType) and python_enum is not None:
            coerce, enum_names = _enum_coercion(named, python_enum)
            return Completion(Shape.LEAF, non_null, coerce=coerce, enum_names=enum_names)
        if is_leaf_type(named):
            return Completion(Shape.LEAF, non_null, coerce=named.coerce_output_value)
        if is_abstract_type(named):
            self.counts_cost = False
            return Completion(Shape.ABSTRACT, non_null, abstract_type=named, carries_path=True)
        if is_object_type(named):
            if named.name == SERIES_ITEM:
                # A series' buckets cost by the figures selected (edge.cost), not per object.
                self.counts_cost = False
            plan = self._subplan(named, details)
            carries_path = plan.needs_path or plan.is_type_of_reads_info
            return Completion(Shape.OBJECT, non_null, object_plan=plan, carries_path=carries_path)
        # pragma: no cover - all types covered
        raise Unplannable(Unplanned.UNKNOWN_FIELD, f"cannot complete {named}")


def _enum_coercion(
    enum_type: GraphQLEnumType, member_type: Any
) -> tuple[Callable[[Any], Any], dict[int, str]]:
    """Strawberry's output coercion of an enum, with the member's name looked up instead of
    searched for (its coercion compares the member with every value of the enum in turn),
    and the names by the identity of the members."""
    names: dict[Any, str] = {}
    for name, value in enum_type.values.items():
        names.setdefault(value.value, name)  # the first match, as Strawberry's search finds
    coerce = enum_type.coerce_output_value

    def coerced(value: Any) -> Any:
        if isinstance(value, member_type):
            name = names.get(value.value)
            if name is not None:
                return name
        return coerce(value)

    members: list[Enum] = list(member_type)
    by_identity = {id(m): names[m.value] for m in members if m.value in names}
    return coerced, by_identity


class _ConditionVariables(Visitor):
    """The variables ``@skip``/``@include`` read anywhere in a document (validation leaves
    a variable or a boolean literal as their condition)."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
        if node.name.value in ("skip", "include"):
            for argument in node.arguments or ():
                if isinstance(argument.value, VariableNode):
                    self.names.add(argument.value.name.value)


@dataclass
class _DocumentPlans:
    schema: GraphQLSchema
    """Held, so the schema's id (half of the entry's key) is not reused while it lives."""
    condition_variables: tuple[str, ...]
    plans: dict[Hashable, OperationPlan | Unplanned] = field(default_factory=dict)


_PLANS_PER_OPERATION = 8
"""Plans kept per operation (one per choice of its ``@skip``/``@include`` variables)."""
_PLANS = "_gateway_plans"
"""Where an operation node keeps its plans: a plan holds its operation's nodes, so plans kept
anywhere else (a dict of the module, even one whose entries a finalizer of the node would
drop) would keep every document ever planned alive: 4000 objects per large document, each
full collection of the garbage collector walking them all while holding the event loop
(1.3 s after 200 documents of ``bench/abuse.py``'s duplicated fields)."""


def forget_plans(document: DocumentNode) -> list[OperationPlan]:
    """The plans ``document``'s operations hold, which they hold no more."""
    plans: list[OperationPlan] = []
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            kept: dict[Any, _DocumentPlans] = node_slots(definition).pop(_PLANS, {})
            for document_plans in kept.values():
                plans += (p for p in document_plans.plans.values() if isinstance(p, OperationPlan))
    return plans


def _plans_of(schema: GraphQLSchema, operation: OperationDefinitionNode) -> _DocumentPlans | None:
    plans: dict[tuple[int, int], _DocumentPlans] = node_slots(operation).get(_PLANS, {})
    return plans.get((id(schema), id(operation)))


def _keep_plans(
    schema: GraphQLSchema, operation: OperationDefinitionNode, plans: _DocumentPlans
) -> None:
    """Plans by the identity of their schema and operation node (graphql-core's nodes compare
    by structure, and two documents can share an operation's text but not its fragments;
    parsed documents are shared by every schema of a process), going with the node. The nodes
    are frozen dataclasses, with a ``__dict__`` their fields' comparisons never read."""
    node_slots(operation).setdefault(_PLANS, {})[(id(schema), id(operation))] = plans


def plan_of(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDetails],
    variable_values: VariableValues,
) -> OperationPlan | None:
    """The plan of ``operation`` for these variables, made the first time they are seen, or
    ``None`` if it is not a query or uses something a plan does not express."""
    plan = planned(schema, operation, fragments, variable_values)
    return plan if isinstance(plan, OperationPlan) else None


def planned(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDetails],
    variable_values: VariableValues,
) -> OperationPlan | Unplanned:
    """The plan of ``operation`` for these variables, made the first time they are seen, or
    why it has none.

    Plans live as long as their parsed document: the parser cache's and the trusted documents'
    documents are planned once, a document parsed for one request is planned for that one
    (and its plans taken apart once it is answered: ``edge.plan_assembly.release_plans``).
    """
    if operation.operation is not OperationType.QUERY:
        return Unplanned(operation.operation.value)
    strawberry_schema = strawberry_schema_of(schema)
    if strawberry_schema is None:
        return Unplanned.NOT_STRAWBERRY
    document_plans = _plans_of(schema, operation)
    if document_plans is None:
        conditions = _ConditionVariables()
        visit(operation, conditions)
        for details in fragments.values():
            visit(details.definition, conditions)
        document_plans = _DocumentPlans(schema, tuple(sorted(conditions.names)))
        _keep_plans(schema, operation, document_plans)
    coerced = variable_values.coerced
    conditions_key = tuple(coerced.get(name) for name in document_plans.condition_variables)
    if conditions_key not in document_plans.plans:
        if len(document_plans.plans) >= _PLANS_PER_OPERATION:
            document_plans.plans.pop(next(iter(document_plans.plans)))
        # The plan keeps only the condition variables: no caller's other values outlive it.
        kept = VariableValues(
            {
                n: v
                for n, v in variable_values.sources.items()
                if n in document_plans.condition_variables
            },
            {n: v for n, v in coerced.items() if n in document_plans.condition_variables},
        )
        try:
            plan: OperationPlan | Unplanned = OperationPlan(
                schema, strawberry_schema, operation, fragments, kept
            )
        except Unplannable as unplannable:
            plan = unplannable.reason
        document_plans.plans[conditions_key] = plan
    return document_plans.plans[conditions_key]
