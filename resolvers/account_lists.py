"""Admins list partners and sellers: a words search, filters and Relay pages, newest first.

Partners and sellers store the words they are found by (``searchTerms``, written with every
change of the searched fields), so a search is an exact array lookup on both adapters, as in
the App & Service Store.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from datastore import collections as c
from datastore.documents import PartnerDocument, SellerDocument
from datastore.enums import Market, PartnerStatus, PartnerType, Region, SellerKind
from datastore.loaders import NEWEST_FIRST
from datastore.paging import Page, PageResult, find_page
from datastore.search import words
from resolvers.context import Info
from resolvers.errors import PublicError, QueryErrorCode
from resolvers.moments import check_moment

MAX_QUERY_LENGTH = 200
MAX_QUERY_WORDS = 10


def partner_terms(partner: Mapping[str, Any]) -> list[str]:
    """What an admin finds a partner by: the words of its name and contact email."""
    return words(f"{partner.get('name') or ''} {partner.get('contactEmail') or ''}")


def seller_terms(seller: Mapping[str, Any]) -> list[str]:
    """What an admin finds a seller by: the words of its business name."""
    return words(str(seller.get("name") or ""))


def _query_filter(query: str | None) -> list[dict[str, Any]]:
    if query is None:
        return []
    if len(query) > MAX_QUERY_LENGTH:
        raise PublicError(
            f"`query` must be at most {MAX_QUERY_LENGTH} characters, got {len(query)}",
            QueryErrorCode.INVALID_SEARCH,
        )
    found = words(query)
    if len(found) > MAX_QUERY_WORDS:
        raise PublicError(
            f"`query` must have at most {MAX_QUERY_WORDS} different words, got {len(found)}",
            QueryErrorCode.INVALID_SEARCH,
        )
    return [{"searchTerms": {"$contains": word}} for word in found]


def _filter(query: str | None, equal: Mapping[str, object]) -> dict[str, Any]:
    conditions = _query_filter(query)
    conditions += [{key: value} for key, value in equal.items() if value is not None]
    return {"$and": conditions} if conditions else {}


async def list_partners(
    info: Info,
    page: Page,
    query: str | None,
    status: PartnerStatus | None,
    partner_type: PartnerType | None,
    registration_region: Region | None,
    updated_since: datetime | None = None,
) -> PageResult[PartnerDocument]:
    """Every partner matching (admins only: the permission is on the field), newest first."""
    filter = _filter(
        query, {"status": status, "type": partner_type, "registrationRegion": registration_region}
    )
    if updated_since is not None:
        since = {"updatedAt": {"$gte": check_moment(updated_since, "updatedSince")}}
        filter = {"$and": [filter, since]} if filter else since
    result = await find_page(info.context.store, c.PARTNERS, filter, NEWEST_FIRST, page)
    for document in result.documents:
        # Services listed under these partners resolve their partner without a round trip.
        info.context.loaders.partner_by_id.prime(document["_id"], document)
    return result


async def list_sellers(
    info: Info,
    page: Page,
    query: str | None,
    kind: SellerKind | None,
    market: Market | None,
) -> PageResult[SellerDocument]:
    """Every seller matching (admins only: the permission is on the field), newest first."""
    filter = _filter(query, {"kind": kind, "market": market})
    result = await find_page(info.context.store, c.SELLERS, filter, NEWEST_FIRST, page)
    for document in result.documents:
        info.context.loaders.seller_by_id.prime(document["_id"], document)
    return result
