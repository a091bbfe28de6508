"""The schema as a contract: ``schema.graphql`` is committed, and a change to the code's schema
is compared with it by graphql-core's ``find_breaking_changes`` (a removed field, an input made
required, an output made nullable...), so a developer learns before clients do."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from graphql import GraphQLSchema, build_schema, find_breaking_changes, find_dangerous_changes

from schema.api import plain_schema

COMMITTED = Path("schema.graphql")
"""Where the contract lives, relative to the project root (``make schema`` rewrites it)."""


def exported_sdl() -> str:
    """The SDL of the code's schema, as ``schema.graphql`` holds it."""
    return plain_schema().as_str() + "\n"


@dataclass(frozen=True)
class Comparison:
    """How the code's schema differs from a committed SDL."""

    same: bool
    breaking: list[str] = field(default_factory=list)
    dangerous: list[str] = field(default_factory=list)


def compare(committed_sdl: str) -> Comparison:
    """Compare the code's schema with ``committed_sdl`` (the contract clients rely on)."""
    current = exported_sdl()
    if current == committed_sdl:
        return Comparison(same=True)
    old, new = build_schema(committed_sdl), plain_schema()._schema
    return Comparison(
        same=False,
        breaking=[
            *_renamed_roots(old, new),
            *(f"{c.type.name}: {c.description}" for c in find_breaking_changes(old, new)),
        ],
        dangerous=[f"{c.type.name}: {c.description}" for c in find_dangerous_changes(old, new)],
    )


def _renamed_roots(old: GraphQLSchema, new: GraphQLSchema) -> list[str]:
    # graphql-core compares types by name and so sees a renamed root only as a type removed;
    # a client's documents name roots in fragments (`... on Query`) and `__typename` checks.
    renamed = []
    for operation in ("query", "mutation", "subscription"):
        before = getattr(old, f"{operation}_type")
        after = getattr(new, f"{operation}_type")
        if before is not None and after is not None and before.name != after.name:
            renamed.append(
                f"ROOT_TYPE_RENAMED: the {operation} root type {before.name} is now {after.name}."
            )
    return renamed


def report(comparison: Comparison, path: Path) -> str:
    """What ``export-schema --check`` tells the developer."""
    if comparison.same:
        return f"{path} matches the schema."
    lines = [f"{path} differs from the schema."]
    if comparison.breaking:
        lines.append(f"{len(comparison.breaking)} breaking change(s) for existing clients:")
        lines += [f"  BREAKING {line}" for line in comparison.breaking]
    else:
        lines.append("No breaking change.")
    lines += [f"  DANGEROUS {line}" for line in comparison.dangerous]
    lines.append(f"If intended, regenerate the contract: make schema (writes {path}).")
    return "\n".join(lines)
