"""How a schema module adds fields to the root types: it marks the ``@strawberry.type`` holding
them, and ``schema.api`` merges every marked type into ``Query`` or ``Mutation``. No list of
them is kept anywhere else, so a new domain's module is all the schema needs."""

from __future__ import annotations

from typing import TypeVar

_Type = TypeVar("_Type", bound=type)

QUERY_PARTS: list[type] = []
MUTATION_PARTS: list[type] = []


def query_fields(cls: _Type) -> _Type:
    """Marks ``cls`` as holding root ``Query`` fields."""
    QUERY_PARTS.append(cls)
    return cls


def mutation_fields(cls: _Type) -> _Type:
    """Marks ``cls`` as holding root ``Mutation`` fields."""
    MUTATION_PARTS.append(cls)
    return cls
