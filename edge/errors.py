"""Errors the gateway layer refuses a request with, each carrying an ``extensions.code``."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from graphql import GraphQLError, Node


def gateway_error(
    message: str, code: str, nodes: Sequence[Node] | None = None, **extensions: Any
) -> GraphQLError:
    """A client-facing GraphQL error with ``extensions.code`` and any details beside it."""
    return GraphQLError(message, nodes=nodes, extensions={"code": code, **extensions})


_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def drop_suggestions(errors: Iterable[object]) -> None:
    """Removes "Did you mean ..." from formatted errors' messages, in place: where
    introspection is off, suggestions would map the schema for a client that may not
    introspect it. Validation makes none there (``edge.validation``); this catches those of
    execution (a variable's value coerced), whatever the transport."""
    for error in errors:
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            error["message"] = _SUGGESTION.sub("", error["message"])
