"""Relay cursor connections."""

from collections.abc import Callable, Sequence
from enum import Enum
from functools import lru_cache, partial
from typing import Annotated, Any, ClassVar, Generic, TypeVar

import strawberry

from datastore.paging import Page, PageResult, Total
from datastore.store import D, Score, Sort, keyset_of
from resolvers.pagination import encode_cursor

NodeT = TypeVar("NodeT")


class Part(Enum):
    """What a field of a connection or of its edge is, as a type declares it in ``PARTS`` (by
    Python field name): how a planned query recognises a connection it may fill from a
    :class:`DocumentPage` (``edge.plan_assembly``), whatever its fields are called."""

    EDGES = "edges"
    NODES = "nodes"
    PAGE_INFO = "page info"
    TOTAL_COUNT = "total count"
    NODE = "node"
    CURSOR = "cursor"


def parts_of(cls: Any) -> dict[str, Part]:
    """The parts a connection or edge type declares (none for any other type)."""
    parts: dict[str, Part] = getattr(cls, "PARTS", {}) if isinstance(cls, type) else {}
    return parts


@strawberry.type(description="An item of a list and its cursor.")
class Edge(Generic[NodeT]):
    PARTS: ClassVar[dict[str, Part]] = {"node": Part.NODE, "cursor": Part.CURSOR}

    node: NodeT = strawberry.field(description="The item.")
    # The keyset values the cursor encodes, read from ``source`` (the node's document) by
    # ``keyset_of``, which the page's edges share, and the listing's tag: read and encoded
    # only when a client asks for the cursor, since most pages are read as nodes.
    source: strawberry.Private[Any]
    keyset_of: strawberry.Private[Callable[[Any], list[object]]]
    tag: strawberry.Private[str] = ""

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
    PARTS: ClassVar[dict[str, Part]] = {
        "edges": Part.EDGES,
        "nodes": Part.NODES,
        "page_info": Part.PAGE_INFO,
        "total_count": Part.TOTAL_COUNT,
    }

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


EMPTY_PAGE = PageInfo(has_next_page=False, has_previous_page=False)


def connection_from(
    result: PageResult[D],
    page: Page,
    sort: Sort,
    to_node: Callable[[D], NodeT],
    *,
    score: Score | None = None,
) -> Connection[NodeT]:
    """A connection of ``result`` (a window read with ``page``, whose tag its cursors carry),
    one edge per document; ``score`` is the one the window was read with."""
    keyset, tag = _keyset_function(sort, score), page.cursor_tag
    edges = [
        Edge(node=to_node(document), source=document, keyset_of=keyset, tag=tag)
        for document in result.documents
    ]
    return Connection(
        edges=edges, page_info=_page_info(edges, result.has_more, page), total=result.total
    )


class DocumentPage(Generic[D]):
    """A page of a list as its documents: what a document read answers for a connection
    field (``schema.document_reads``). :meth:`map` makes the typed :class:`Connection`; a
    planned query fills the connection's answer from the page itself, with no ``Edge``
    object per document (``edge.plan_assembly``)."""

    __slots__ = ("documents", "has_next_page", "has_previous_page", "keyset_of", "tag", "total")

    def __init__(
        self,
        documents: list[D],
        has_next_page: bool,
        has_previous_page: bool,
        keyset_of: Callable[[Any], list[object]],
        tag: str,
        total: Total | None,
    ) -> None:
        self.documents = documents
        self.has_next_page = has_next_page
        self.has_previous_page = has_previous_page
        self.keyset_of = keyset_of
        self.tag = tag
        self.total = total

    def map(self, convert: Callable[[D], NodeT]) -> Connection[NodeT]:
        """The typed connection of the page, each document converted to its node."""
        keyset_of, tag = self.keyset_of, self.tag
        edges = [
            Edge(node=convert(document), source=document, keyset_of=keyset_of, tag=tag)
            for document in self.documents
        ]
        return Connection(edges=edges, page_info=self.page_info(edges), total=self.total)

    def cursor(self, document: D) -> str:
        """The cursor of ``document``'s edge (what ``Edge.cursor`` encodes)."""
        return encode_cursor(self.keyset_of(document), self.tag)

    def page_info(self, edges: Sequence[Edge[Any]] | None = None) -> PageInfo:
        if edges is None:
            documents = self.documents
            first, last = (documents[0], documents[-1]) if documents else (None, None)
            edges = [] if first is None else [self._edge(first), self._edge(last)]
        return PageInfo(
            has_next_page=self.has_next_page,
            has_previous_page=self.has_previous_page,
            first_edge=edges[0] if edges else None,
            last_edge=edges[-1] if edges else None,
        )

    async def total_count(self) -> int:
        """What ``Connection.totalCount`` answers for the page's connection."""
        connection: Connection[D] = self.map(_same)
        count: int = await connection.total_count()
        return count

    def _edge(self, document: Any) -> Edge[Any]:
        return Edge(node=document, source=document, keyset_of=self.keyset_of, tag=self.tag)


def document_page(
    result: PageResult[D],
    page: Page,
    sort: Sort,
    *,
    score: Score | None = None,
) -> DocumentPage[D]:
    """The page of ``result`` (a window read with ``page``) as documents, with what
    :func:`connection_from` would make of it."""
    has_next_page, has_previous_page = _neighbours(result.has_more, page)
    # Shared with the window, not copied: neither changes its documents once read.
    return DocumentPage(
        result.documents,
        has_next_page,
        has_previous_page,
        _keyset_function(sort, score),
        page.cursor_tag,
        result.total,
    )


def empty_document_page() -> DocumentPage[Any]:
    """The page of a list the caller may not read (what ``EMPTY_PAGE`` connections are)."""
    return DocumentPage([], False, False, _no_keyset, "", None)


def _no_keyset(document: Any) -> list[object]:  # pragma: no cover - an empty page has no edge
    raise LookupError("an empty page has no cursors")


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
    edges = [
        Edge(node=item, source=item, keyset_of=cursor_of, tag=page.cursor_tag) for item in kept
    ]
    return Connection(edges=edges, page_info=_page_info(edges, has_more, page), total=count)


def _keyset(document: Any, *, sort: Sort, score: Score | None) -> list[object]:
    return keyset_of(document, sort, score)


def _keyset_function(sort: Sort, score: Score | None) -> Callable[[Any], list[object]]:
    if score is None and isinstance(sort, tuple):
        return _keyset_in(sort)
    return partial(_keyset, sort=sort, score=score)


@lru_cache(maxsize=64)
def _keyset_in(sort: Sort) -> Callable[[Any], list[object]]:
    # Listings have a few orders and a page of them is made for every parent of a level:
    # one keyset function per order, not one per page.
    return partial(_keyset, sort=sort, score=None)


def _page_info(edges: Sequence[Edge[NodeT]], has_more: bool, page: Page) -> PageInfo:
    has_next_page, has_previous_page = _neighbours(has_more, page)
    return PageInfo(
        has_next_page=has_next_page,
        has_previous_page=has_previous_page,
        first_edge=edges[0] if edges else None,
        last_edge=edges[-1] if edges else None,
    )


def _neighbours(has_more: bool, page: Page) -> tuple[bool, bool]:
    """Whether items follow and precede a window read with ``page``."""
    if page.backwards:
        return page.before is not None, has_more
    return has_more, page.after is not None


First = Annotated[
    int | None, strawberry.argument(description="How many items from the start (max 100).")
]
After = Annotated[str | None, strawberry.argument(description="Start after this cursor.")]
Last = Annotated[
    int | None, strawberry.argument(description="How many items from the end (max 100).")
]
Before = Annotated[str | None, strawberry.argument(description="End before this cursor.")]
