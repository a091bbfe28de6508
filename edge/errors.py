"""Errors the gateway layer refuses a request with, each carrying an ``extensions.code``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graphql import GraphQLError, Node


def gateway_error(
    message: str, code: str, nodes: Sequence[Node] | None = None, **extensions: Any
) -> GraphQLError:
    """A client-facing GraphQL error with ``extensions.code`` and any details beside it."""
    return GraphQLError(message, nodes=nodes, extensions={"code": code, **extensions})
