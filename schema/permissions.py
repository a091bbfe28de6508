"""Permission classes: who may reach a field at all. Which documents a caller sees inside a
field is decided by ``resolvers.visibility``."""

from __future__ import annotations

from typing import Any

from strawberry.exceptions import StrawberryGraphQLError
from strawberry.permission import BasePermission

from resolvers.context import Info
from resolvers.identity import Role

_SIGN_IN = "Sign in: send 'Authorization: Bearer <token>'."


class _RolePermission(BasePermission):
    """Anonymous callers are told to sign in (UNAUTHENTICATED); a signed-in caller of another
    role is refused (FORBIDDEN). Root fields guarded so are nullable: the refusal nulls that
    field only, and the rest of the response survives."""

    role: Role
    error_extensions = {"code": "FORBIDDEN"}

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        role = info.context.viewer.role
        if role is None:
            raise StrawberryGraphQLError(_SIGN_IN, extensions={"code": "UNAUTHENTICATED"})
        return role is self.role


class IsAdmin(_RolePermission):
    role = Role.ADMIN
    message = "Only platform admins may do this."


class IsPartner(_RolePermission):
    role = Role.PARTNER
    message = "Only a signed-in partner may do this."


class IsSeller(_RolePermission):
    role = Role.SELLER
    message = "Only a signed-in seller may do this."


class IsAuthenticated(BasePermission):
    message = _SIGN_IN
    error_extensions = {"code": "UNAUTHENTICATED"}

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return info.context.viewer.role is not None


def require_signed_in(info: Info) -> None:
    """IsAuthenticated's refusal, for a resolver to make itself: a permission class is a field
    extension, which planned execution does not run (the whole query would run interpreted)."""
    if info.context.viewer.role is None:
        raise StrawberryGraphQLError(_SIGN_IN, extensions={"code": "UNAUTHENTICATED"})
