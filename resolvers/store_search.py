"""The App & Service Store: searching, filtering and sorting the listed services (SPEC §3).

A service is listed when it is live, public and its partner is active. The life-cycle code
keeps that in the service's denormalised ``listed`` flag, along with the search words of
``datastore.search``, so a store page is one indexed read whatever the arguments.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from datastore import collections as c
from datastore.catalog import get_catalog
from datastore.documents import ServiceDocument
from datastore.enums import Market
from datastore.paging import Page, PageResult, find_page
from datastore.search import words
from datastore.store import ASCENDING, DESCENDING, SCORE, Filter, Score, Sort
from resolvers.context import Info
from resolvers.errors import PublicError, QueryErrorCode
from resolvers.nodes import check_id

MAX_QUERY_LENGTH = 200
MAX_QUERY_WORDS = 10


class StoreSortKey(StrEnum):
    """How the store orders services."""

    RELEVANCE = "RELEVANCE"
    NEWEST = "NEWEST"
    NAME = "NAME"


@dataclass(frozen=True)
class StoreListing:
    """One store listing: what to match, in which order, and the tag its cursors carry."""

    filter: Filter
    sort: Sort
    score: Score | None
    tag: str


def store_listing(
    query: str | None,
    main_category: str | None,
    category: str | None,
    market: Market | None,
    sort_key: StoreSortKey,
    reverse: bool,
) -> StoreListing:
    """The listing the store arguments describe; bad arguments raise a :class:`PublicError`."""
    query_words = _query_words(query)
    conditions: list[Filter] = [{"listed": True}]
    conditions += [{"searchTerms": {"$contains": word}} for word in query_words]
    if main_category is not None and main_category.strip():
        wanted = main_category.strip().casefold()
        ids = [row.id for row in get_catalog().all() if row.main_category.casefold() == wanted]
        conditions.append({"categoryId": {"$in": ids}})
    if category is not None:
        check_id(category, "category", expected="ServiceCategory")
        conditions.append({"categoryId": category})
    if market is not None:
        conditions.append({"market": market})
    sort, score = _order(sort_key, query_words)
    if reverse:
        sort = [(name, -direction) for name, direction in sort]
    return StoreListing({"$and": conditions}, sort, score, _tag(sort_key, reverse, query_words))


async def store_page(info: Info, listing: StoreListing, page: Page) -> PageResult[ServiceDocument]:
    """One page of the listing, in one round trip."""
    return await find_page(
        info.context.store, c.SERVICES, listing.filter, listing.sort, page, score=listing.score
    )


def _query_words(query: str | None) -> list[str]:
    if query is None:
        return []
    if len(query) > MAX_QUERY_LENGTH:
        raise PublicError(
            f"`query` must be at most {MAX_QUERY_LENGTH} characters, got {len(query)}",
            QueryErrorCode.INVALID_SEARCH,
            maxLength=MAX_QUERY_LENGTH,
        )
    found = words(query)
    if len(found) > MAX_QUERY_WORDS:
        raise PublicError(
            f"`query` must have at most {MAX_QUERY_WORDS} different words, got {len(found)}",
            QueryErrorCode.INVALID_SEARCH,
            maxWords=MAX_QUERY_WORDS,
        )
    return found


def _order(sort_key: StoreSortKey, query_words: list[str]) -> tuple[Sort, Score | None]:
    """The sort (and score) of a sort key; ``_id`` breaks ties in the last key's direction."""
    if sort_key is StoreSortKey.NAME:
        return [("nameSort", ASCENDING)], None
    if sort_key is StoreSortKey.RELEVANCE and query_words:
        # Services with more query words in their name first, then the newest.
        return [(SCORE, DESCENDING), ("publishedAt", DESCENDING)], ("nameTerms", query_words)
    # NEWEST, and RELEVANCE without a query: there is nothing to be relevant to.
    return [("publishedAt", DESCENDING)], None


def _tag(sort_key: StoreSortKey, reverse: bool, query_words: list[str]) -> str:
    """What a cursor must have been made under: the order and the words it scores by.

    Filters are left out on purpose: a position in the same order stays meaningful when a
    filter changes, as it does when the data changes.
    """
    ordering: list[Any] = [sort_key.value, reverse, sorted(query_words)]
    digest = hashlib.blake2s(json.dumps(ordering).encode(), digest_size=6).hexdigest()
    return f"store:{digest}"
