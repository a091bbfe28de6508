"""The JSONL lines of a bulk export, from the pages its plan reads.

One line per node, in the order the pages list them: a node's own line (exactly the fields the
query asked, in the query's order, nested objects inline), then the nodes of its nested
connections, each line ending with ``__parentId``, the id of the node it hangs off (Shopify's
bulk operation format). The ``id`` and ``pageInfo`` the plan added for itself are left out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from resolvers.bulk_export_query import ID_KEY, PAGE_KEY, Connection

PARENT_KEY = "__parentId"

Emit = Callable[[dict[str, Any]], None]
"""Takes one line (a node, as a dict) for the file."""
MorePages = Callable[[Connection, str, str], Awaitable[Mapping[str, Any] | None]]
"""Reads a nested connection's next page: its plan, the parent's id, the cursor to read after."""


def connection_at(data: Mapping[str, Any] | None, path: tuple[str, ...]) -> Any:
    """The value at ``path`` (response keys) in ``data``; ``None`` when a step is missing."""
    value: Any = data
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def next_cursor(connection: Mapping[str, Any]) -> str | None:
    """The cursor after this page when there are further pages, else ``None``."""
    page = connection.get(PAGE_KEY) or {}
    return page.get("endCursor") if page.get("hasNextPage") else None


async def emit_page(
    plan: Connection,
    connection: Mapping[str, Any],
    parent_id: str | None,
    emit: Emit,
    more: MorePages,
) -> int:
    """Emit the nodes of one page of ``plan``'s connection and everything nested under them
    (reading nested connections' further pages through ``more``); returns how many lines."""
    edges = connection.get("edges") if plan.via_edges else connection.get("nodes")
    written = 0
    for item in edges or ():
        node = item.get("node") if plan.via_edges else item
        if node is None:
            continue
        node_id = node.pop(ID_KEY, None)
        nested = [(child, _pop(node, child.path)) for child in plan.children]
        if parent_id is not None:
            node[PARENT_KEY] = parent_id
        emit(node)
        written += 1
        for child, page in nested:
            while isinstance(page, Mapping) and node_id is not None:
                written += await emit_page(child, page, node_id, emit, more)
                cursor = next_cursor(page) if child.in_full else None
                if cursor is None:
                    break
                page = await more(child, node_id, cursor)
    return written


def _pop(node: dict[str, Any], path: tuple[str, ...]) -> Any:
    """Remove and return the nested connection at ``path`` (it gets lines of its own)."""
    holder = connection_at(node, path[:-1])
    return holder.pop(path[-1], None) if isinstance(holder, dict) else None
