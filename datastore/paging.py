"""Keyset windows over sorted listings, shared by plain lookups and dataloaders."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

from datastore.store import (
    Collection,
    DocumentStore,
    Filter,
    Score,
    Sort,
    full_sort,
    keyset_filter,
)

D = TypeVar("D", bound=Mapping[str, Any])


@dataclass(frozen=True)
class Page:
    """Which window of a listing to read: ``size`` items after ``after`` (forwards) or before
    ``before`` (backwards, for ``last``); the bounds are keyset values (see ``keyset_of``)."""

    size: int
    after: tuple[Any, ...] | None = None
    before: tuple[Any, ...] | None = None
    backwards: bool = False
    cursor_tag: str = ""
    """What the cursors of the window's items carry: the list they belong to (see
    ``resolvers.pagination``); the read itself ignores it."""

    def read_sort(self, sort: Sort) -> list[tuple[str, int]]:
        """The order to read in: the listing's order, reversed when reading backwards."""
        keys = full_sort(sort)
        return [(name, -direction) for name, direction in keys] if self.backwards else keys

    def start(self) -> tuple[Any, ...] | None:
        return self.before if self.backwards else self.after

    def bound_filter(self, filter: Filter | None, sort: Sort) -> Filter:
        """``filter`` narrowed by the far bound (``before`` forwards, ``after`` backwards)."""
        far = self.after if self.backwards else self.before
        if far is None:
            return filter or {}
        far_sort = full_sort(sort) if self.backwards else self.read_sort(sort)
        if not self.backwards:
            far_sort = [(name, -direction) for name, direction in full_sort(sort)]
        return {"$and": [filter or {}, keyset_filter(far_sort, list(far))]}


Total = Callable[[], Awaitable[int]]
"""Counts the whole listing a window was read from, when (and only if) it is asked for."""


class PageResult(NamedTuple, Generic[D]):
    """The documents of a window in listing order, whether more lie beyond it, and how to
    count the whole listing (``None``: the window is all there is). A named tuple: a grouped
    read makes one per parent, and a frozen dataclass costs twice as much to make."""

    documents: list[D]
    has_more: bool
    total: Total | None = None


def window(documents: Sequence[D], page: Page, total: Total | None = None) -> PageResult[D]:
    """Trim a read of ``page.size + 1`` documents to the page and restore listing order."""
    has_more = len(documents) > page.size
    if page.backwards:
        kept = documents[: page.size][::-1]
    elif has_more:
        kept = documents[: page.size]
    else:
        # The whole read is the page: a store's reads are lists no one changes after.
        kept = documents
    return PageResult(list(kept) if kept.__class__ is not list else kept, has_more, total)


async def find_page(
    store: DocumentStore,
    collection: Collection[D],
    filter: Filter | None,
    sort: Sort,
    page: Page,
    *,
    score: Score | None = None,
) -> PageResult[D]:
    """One window of ``collection`` in one round trip (``score``: see ``DocumentStore.find``)."""
    start = page.start()
    documents = await store.find(
        collection,
        page.bound_filter(filter, sort),
        sort=page.read_sort(sort),
        limit=page.size + 1,
        after=list(start) if start is not None else None,
        score=score,
    )

    async def total() -> int:
        return await store.count(collection, filter)

    return window(documents, page, total)
