"""The engine's fence: every name of Strawberry and graphql-core outside their public API that
the gateway uses (planned execution: ``edge.planned_execution``, ``edge.operation_plans``,
``edge.plan_assembly``; the validation lane's parser) lives here and nowhere else.

Planned execution runs inside graphql-core's executor and reads Strawberry's definitions, so
it leans on their internals: graphql-core's field collection and executor internals, Strawberry's
executor class, argument conversion, enum type, field definitions and the link from a
graphql-core type or field back to them. Gathered in one module, an upgrade that moves one
breaks here, and one place says what to look at. ``pyproject.toml`` pins both libraries to
the versions the suite has passed on; CI also runs the suite against their newest releases.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

import strawberry
from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLAbstractType,
    GraphQLEnumType,
    GraphQLError,
    GraphQLField,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLResolveInfoHelpers,
    GraphQLSchema,
    Node,
    get_argument_values,
)
from graphql.execution.collect_fields import (
    FieldDetailsList,
    FragmentDetails,
    collect_fields,
    collect_subfields,
)
from graphql.execution.executor import CollectedErrors
from graphql.execution.values import VariableValues
from graphql.language.parser import Parser, nested_too_deeply_error
from graphql.pyutils import AwaitableOrValue, Path, is_iterable
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import CustomGraphQLEnumType
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule
from strawberry.types.arguments import convert_arguments
from strawberry.types.field import StrawberryField

__all__ = [
    "AwaitableOrValue",
    "FieldDetailsList",
    "FragmentDetails",
    "Path",
    "StrawberryField",
    "VariableValues",
    "collect_fields",
    "collect_subfields",
    "is_iterable",
]

_STRAWBERRY_DEFINITION = "strawberry-definition"
"""Where Strawberry links a graphql-core type or field back to its own definition."""

P = ParamSpec("P")
R = TypeVar("R")

Permission = BasePermission
"""A permission a field declares (``permission_classes``), which a plan checks itself."""


class EngineExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's graphql-core executor, with what a planned run asks of it by name."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # graphql-core keeps the helpers it hands resolvers bound to the executor, on the
        # executor: a reference cycle, which kept every executor (its fields collected, and
        # through them the document's nodes) until the garbage collector came round. Bound
        # weakly, an executor goes when its request does.
        self.async_helpers = GraphQLResolveInfoHelpers(
            gather=_weakly(self, EngineExecutor.gather_async_work),
            track=_weakly(self, EngineExecutor.track_async_work),
        )

    def has_field_middleware(self) -> bool:
        middleware = self.middleware_manager
        return bool(middleware and middleware.middlewares)

    def abortable(self) -> bool:
        return self.abort_signal is not None

    def forget_errors(self) -> None:
        """Start again with no error recorded (an interpreted run after a planned one)."""
        self.collected_errors = CollectedErrors()

    def resolve_info(
        self,
        definition: GraphQLField,
        nodes: list[FieldNode],
        parent_type: GraphQLObjectType,
        path: Path,
    ) -> GraphQLResolveInfo[Any]:
        """What graphql-core passes a resolver of the field at ``path``."""
        return self.build_resolve_info(definition, nodes, parent_type, path)

    def argument_values(self, definition: GraphQLField, node: FieldNode) -> dict[str, Any]:
        """The field's arguments as graphql-core coerces them from the operation."""
        return get_argument_values(
            definition, node, self.variable_values, None, self.hide_suggestions
        )

    def runtime_type(
        self,
        abstract_type: GraphQLAbstractType,
        value: Any,
        info: GraphQLResolveInfo[Any],
        details: FieldDetailsList,
    ) -> GraphQLObjectType | GraphQLError:
        """The object type of an abstract field's ``value``, as graphql-core resolves it (an
        error graphql-core would report, or a ``TypeError`` for an awaitable type resolver)."""
        resolve_type = abstract_type.resolve_type or self.type_resolver
        name = resolve_type(value, info, abstract_type)
        if inspect.isawaitable(name):
            if inspect.iscoroutine(name):
                name.close()
            raise TypeError("an awaitable runtime type")
        try:
            return self.ensure_valid_runtime_type(name, abstract_type, details, info, value)
        except GraphQLError as error:
            return error


def _weakly(
    executor: EngineExecutor, method: Callable[Concatenate[EngineExecutor, P], R]
) -> Callable[P, R]:
    """``method`` bound to ``executor`` without keeping it alive."""
    alive = weakref.ref(executor)

    def bound(*args: P.args, **kwargs: P.kwargs) -> R:
        target = alive()
        if target is None:
            raise RuntimeError("the execution these helpers belong to has ended")
        return method(target, *args, **kwargs)

    return bound


def strawberry_schema_of(schema: GraphQLSchema) -> strawberry.Schema | None:
    """The Strawberry schema that built ``schema``, if one did."""
    found = getattr(schema, "_strawberry_schema", None)
    return found if isinstance(found, strawberry.Schema) else None


def scalar_registry(schema: strawberry.Schema) -> Any:
    return schema.schema_converter.scalar_registry


def strawberry_field_of(definition: GraphQLField) -> StrawberryField | None:
    found = definition.extensions.get(_STRAWBERRY_DEFINITION)
    return found if isinstance(found, StrawberryField) else None


@dataclass(frozen=True)
class TypeOrigin:
    """What Strawberry says of an object type: the Python class it was made from, and
    whether it has an ``is_type_of`` of its own (which may read ``info``)."""

    origin: Any
    own_is_type_of: bool


def origin_of(object_type: GraphQLObjectType) -> TypeOrigin:
    definition = object_type.extensions.get(_STRAWBERRY_DEFINITION)
    return TypeOrigin(
        getattr(definition, "origin", None), getattr(definition, "is_type_of", None) is not None
    )


@dataclass(frozen=True)
class ResolverCall:
    """How to call a field's resolver directly, with the parameters it declares."""

    function: Callable[..., Any]
    passes_self: bool
    source_keywords: tuple[str, ...]
    info_keyword: str | None


def resolver_call(field: StrawberryField) -> ResolverCall | None:
    """How to call ``field``'s resolver; ``None`` without one. Raises ``TypeError`` for one
    that is not a plain function."""
    resolver = field.base_resolver
    if resolver is None:
        return None
    if not callable(resolver.wrapped_func):
        raise TypeError("not a plain function")
    return ResolverCall(
        resolver.wrapped_func,
        resolver.self_parameter is not None,
        tuple(
            parameter.name
            for parameter in (resolver.root_parameter, resolver.parent_parameter)
            if parameter is not None
        ),
        resolver.info_parameter.name if resolver.info_parameter else None,
    )


def converted_arguments(
    raw: dict[str, Any], field: StrawberryField, schema: strawberry.Schema, info: Any
) -> dict[str, Any]:
    """The arguments as ``field``'s resolver takes them (Strawberry's conversion)."""
    return convert_arguments(
        raw,
        field.arguments,
        scalar_registry=scalar_registry(schema),
        config=schema.config,
        info=info,
    )


def python_enum_of(enum_type: GraphQLEnumType) -> type | None:
    """The Python enum a Strawberry enum type was made from, if it was."""
    return enum_type.wrapped_cls if isinstance(enum_type, CustomGraphQLEnumType) else None


def declared_permissions(field: StrawberryField) -> tuple[Permission, ...] | None:
    """The permissions of ``field`` when its only extensions are permission checks a plan can
    make itself (synchronous, raising when refused, as Strawberry's extension does), ``()``
    with no extension, or ``None`` when it has another kind."""
    permissions: list[Permission] = []
    for extension in field.extensions:
        if type(extension) is not PermissionExtension or extension.fail_silently:
            return None
        for permission in extension.permissions:
            if inspect.iscoroutinefunction(permission.has_permission):
                return None
            permissions.append(permission)
    return tuple(permissions)


def check_permission(
    permission: Permission, source: Any, info: Any, arguments: dict[str, Any]
) -> None:
    """What Strawberry's permission extension does before calling the resolver: raise the
    permission's error when it refuses."""
    granted = permission.has_permission(source, info, **arguments)
    if granted is not True:
        if granted is not False:
            raise TypeError(f"{type(permission).__name__} answered {granted!r}, not a bool")
        permission.on_unauthorized()


STRAWBERRY_VALIDATION_RULES = (MaybeNullValidationRule, OneOfInputValidationRule)
"""The rules Strawberry's ``validate_document`` adds to the ones it is given."""


class _HookedParser(Parser):
    def __init__(self, source: str, on_token: Callable[[], None], **options: Any) -> None:
        super().__init__(source, **options)
        self._on_token = on_token

    def advance_lexer(self) -> None:
        super().advance_lexer()
        self._on_token()


def parse_with_token_hook(
    source: str, on_token: Callable[[], None], **options: Any
) -> DocumentNode:
    """``graphql.parse`` (the same document or error), calling ``on_token`` after each token
    the lexer reads: a subclass of graphql-core's parser, and its own error for a document
    nested deeper than Python's recursion limit."""

    parser = _HookedParser(source, on_token, **options)
    try:
        return parser.parse_document()
    except RecursionError:
        pass
    raise nested_too_deeply_error(parser)


def node_slots(node: Node) -> dict[str, Any]:
    """Room on a parsed node for what the gateway derives from it and must go with it (a
    plan holds its operation's nodes). graphql-core's nodes are dataclass-like objects with a
    ``__dict__`` their fields' comparisons and hashes never read."""
    return node.__dict__
