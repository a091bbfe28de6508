"""The engine's fence: every name of Strawberry and graphql-core that is not their public API,
used by planned execution (``edge.planned_execution``, ``edge.operation_plans``,
``edge.plan_assembly``), lives here and nowhere else.

Planned execution runs inside graphql-core's executor and reads Strawberry's definitions, so
it leans on their internals. Gathered in one module, an upgrade that moves one breaks here,
and one place says what to look at (``pyproject.toml`` pins both libraries to the versions
the suite has passed on; CI also runs it against their newest releases).
"""

from __future__ import annotations

import inspect
from typing import Any

import strawberry
from graphql import GraphQLSchema
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.types.field import StrawberryField

Permission = BasePermission
"""A permission a field declares (``permission_classes``), which a plan checks itself."""


def strawberry_schema_of(schema: GraphQLSchema) -> strawberry.Schema | None:
    """The Strawberry schema that built ``schema``, if one did."""
    found = getattr(schema, "_strawberry_schema", None)
    return found if isinstance(found, strawberry.Schema) else None


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
