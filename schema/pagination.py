"""Relay cursor connections."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Annotated, Any, Generic, TypeVar

import strawberry

from datastore.paging import Page, PageResult, Total
from datastore.store import D, Score, Sort, keyset_of
from resolvers.pagination import encode_cursor

NodeT = TypeVar("NodeT")
OtherT = TypeVar("OtherT")


@strawberry.type(description="An item of a list and its cursor.")
class Edge(Generic[NodeT]):
    node: NodeT = strawberry.field(description="The item.")
    # The keyset values the cursor encodes, read from ``source`` (the node's document) by
    # ``keyset_of``, which the page's edges share, and the listing's tag: read and encoded
    # only when a client asks for the cursor, since most pages are read as nodes.
    source: strawberry.Private[Any]
    keyset_of: strawberry.Private[Callable[[Any], list[object]]]
    tag: strawberry.Private[str | None] = None

    def keyset(self) -> list[object]:
        return self.keyset_of(self.source)

    @strawberry.field(description="Pass as `after` or `before` to page from here.")
    def cursor(self) -> str:
        return encode_cursor(self.keyset(), self.tag)


@strawberry.type(description="Where a page sits in its list (Relay cursor connections).")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow this page.")
    has_previous_page: bool = strawberry.field(description="More items precede this page.")
    # The page's first and last edges, whose cursors are encoded only when asked for.
    first_edge: strawberry.Private[Edge[Any] | None] = None
    last_edge: strawberry.Private[Edge[Any] | None] = None

    @strawberry.field(description="Cursor of the first item.")
    def start_cursor(self) -> str | None:
        return None if self.first_edge is None else self.first_edge.cursor()

    @strawberry.field(description="Cursor of the last item.")
    def end_cursor(self) -> str | None:
        return None if self.last_edge is None else self.last_edge.cursor()


@strawberry.type(description="A page of a list.")
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]] = strawberry.field(description="The items with their cursors.")
    page_info: PageInfo = strawberry.field(description="Where this page sits in the list.")
    # How to count the whole list; None when this page is the whole list.
    total: strawberry.Private[Total | None] = None

    @strawberry.field(description="The items of this page, without cursors.")
    def nodes(self) -> list[NodeT]:
        return [edge.node for edge in self.edges]

    @strawberry.field(
        description="How many items the whole list holds, every page and the same filters. "
        "Counted only when asked for: one grouped count per nesting level, not per parent."
    )
    async def total_count(self) -> int:
        if self.total is not None:
            return await self.total()
        if self.page_info.has_next_page or self.page_info.has_previous_page:
            raise LookupError("a paged connection was built without a way to count its list")
        return len(self.edges)

    def map(self, convert: Callable[[NodeT], OtherT]) -> Connection[OtherT]:
        """The same page with each node converted (a page of documents, of typed objects);
        cursors and page info are the page's own."""
        edges = [
            Edge(node=convert(e.node), source=e.source, keyset_of=e.keyset_of, tag=e.tag)
            for e in self.edges
        ]
        return Connection(edges=edges, page_info=self.page_info, total=self.total)


EMPTY_PAGE = PageInfo(has_next_page=False, has_previous_page=False)


def connection_from(
    result: PageResult[D],
    page: Page,
    sort: Sort,
    to_node: Callable[[D], NodeT],
    *,
    score: Score | None = None,
    tag: str | None = None,
) -> Connection[NodeT]:
    """A connection of ``result`` (a window read with ``page``), one edge per document.

    ``score`` is the one the window was read with; ``tag`` marks its cursors (see
    ``encode_cursor``).
    """
    keyset = partial(_keyset, sort=sort, score=score)
    edges = [
        Edge(node=to_node(document), source=document, keyset_of=keyset, tag=tag)
        for document in result.documents
    ]
    return Connection(
        edges=edges, page_info=_page_info(edges, result.has_more, page), total=result.total
    )


def document_connection(
    result: PageResult[D],
    page: Page,
    sort: Sort,
    *,
    score: Score | None = None,
    tag: str | None = None,
) -> Connection[D]:
    """:func:`connection_from` with the documents as nodes (see ``schema.document_reads``)."""
    return connection_from(result, page, sort, _same, score=score, tag=tag)


def _same(document: D) -> D:
    return document


def connection_of_items(
    items: Sequence[NodeT],
    page: Page,
    cursor_of: Callable[[NodeT], list[object]],
    *,
    total: int,
) -> Connection[NodeT]:
    """A connection over an in-memory list already filtered to the window plus one, of a
    list of ``total`` items."""

    async def count() -> int:
        return total

    has_more = len(items) > page.size
    kept = list(items[: page.size])
    if page.backwards:
        kept.reverse()
    edges = [Edge(node=item, source=item, keyset_of=cursor_of) for item in kept]
    return Connection(edges=edges, page_info=_page_info(edges, has_more, page), total=count)


def _keyset(document: Any, *, sort: Sort, score: Score | None) -> list[object]:
    return keyset_of(document, sort, score)


def _page_info(edges: Sequence[Edge[NodeT]], has_more: bool, page: Page) -> PageInfo:
    return PageInfo(
        has_next_page=has_more if not page.backwards else page.before is not None,
        has_previous_page=has_more if page.backwards else page.after is not None,
        first_edge=edges[0] if edges else None,
        last_edge=edges[-1] if edges else None,
    )


First = Annotated[
    int | None, strawberry.argument(description="How many items from the start (max 100).")
]
After = Annotated[str | None, strawberry.argument(description="Start after this cursor.")]
Last = Annotated[
    int | None, strawberry.argument(description="How many items from the end (max 100).")
]
Before = Annotated[str | None, strawberry.argument(description="End before this cursor.")]
