"""Listing authorizations for whoever may see them, with derived statuses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from datastore import collections as c
from datastore.documents import AuthorizationDocument
from datastore.enums import AuthorizationStatus
from datastore.loaders import NEWEST_FIRST, ListSpec
from datastore.paging import Page, PageResult, find_page
from datastore.store import ASCENDING, DESCENDING, Filter, Sort
from resolvers.authorization_rules import ends_before_for_days, status_filter
from resolvers.context import Info
from resolvers.errors import PublicError, QueryErrorCode
from resolvers.visibility import own_lists_owner

SOONEST_ENDING: Sort = (("endsAt", ASCENDING),)
MAX_EXPIRING_DAYS = 366


class AuthorizationSortKey(StrEnum):
    """The orders a dashboard lists authorizations in (each has its index, per owner)."""

    CREATED_AT = "CREATED_AT"
    UPDATED_AT = "UPDATED_AT"
    ENDS_AT = "ENDS_AT"


# Each key's natural direction: newest first, most recently changed first, soonest ending.
_SORTS: dict[AuthorizationSortKey, Sort] = {
    AuthorizationSortKey.CREATED_AT: NEWEST_FIRST,
    AuthorizationSortKey.UPDATED_AT: (("updatedAt", DESCENDING),),
    AuthorizationSortKey.ENDS_AT: SOONEST_ENDING,
}


@dataclass(frozen=True)
class AuthorizationQuery:
    """What a client asked of an authorization list, beyond statuses and the window."""

    seller_id: str | None = None
    partner_id: str | None = None
    service_id: str | None = None
    ends_from: datetime | None = None
    ends_to: datetime | None = None
    updated_since: datetime | None = None
    sort_key: AuthorizationSortKey | None = None
    reverse: bool = False


@dataclass(frozen=True)
class AuthorizationListSpec(ListSpec):
    """Authorizations by effective status, or those ending within a window."""

    now: datetime | None = None
    wanted: tuple[AuthorizationStatus, ...] | None = None
    ends_before: datetime | None = None
    ends_range: tuple[datetime | None, datetime | None] = (None, None)

    def filter(self) -> Filter:
        assert self.now is not None
        parts: list[Filter] = [super().filter()]
        ends_from, ends_to = self.ends_range
        if ends_from is not None or ends_to is not None:
            bounds = {"$gte": ends_from, "$lte": ends_to}
            parts.append({"endsAt": {k: v for k, v in bounds.items() if v is not None}})
        if self.wanted:
            parts.append(status_filter(self.wanted, self.now))
        if self.ends_before is not None:
            parts.append(
                {
                    "status": AuthorizationStatus.ACTIVE,
                    "endsAt": {"$gt": self.now, "$lt": self.ends_before},
                }
            )
        return {"$and": parts}


def list_order(expiring_within_days: int | None, query: AuthorizationQuery) -> tuple[Sort, str]:
    """The sort and the ordering's name of a listing: ``sortKey`` (default: newest first, or
    soonest ending with ``expiringWithinDays``), reversed on request. Cursors carry the name
    (``resolvers.pagination.cursor_tag``), so one made under another order is refused instead
    of skipping or repeating items."""
    key = query.sort_key or (
        AuthorizationSortKey.ENDS_AT
        if expiring_within_days is not None
        else AuthorizationSortKey.CREATED_AT
    )
    sort = _SORTS[key]
    if query.reverse:
        sort = tuple((name, -direction) for name, direction in sort)
    return sort, f"{key.value}{'-r' if query.reverse else ''}"


def list_spec(
    info: Info,
    page: Page,
    statuses: list[AuthorizationStatus] | None,
    expiring_within_days: int | None,
    query: AuthorizationQuery = AuthorizationQuery(),
) -> AuthorizationListSpec:
    if expiring_within_days is not None and not 0 <= expiring_within_days <= MAX_EXPIRING_DAYS:
        raise PublicError(
            f"`expiringWithinDays` must be between 0 and {MAX_EXPIRING_DAYS} (calendar days, "
            "as `daysRemaining` counts them)",
            QueryErrorCode.INVALID_EXPIRING_WITHIN_DAYS,
        )
    now = info.context.now
    equals = (
        ("sellerId", query.seller_id),
        ("partnerId", query.partner_id),
        ("serviceId", query.service_id),
    )
    return AuthorizationListSpec(
        page=page,
        sort=list_order(expiring_within_days, query)[0],
        equals=tuple((name, value) for name, value in equals if value is not None),
        updated_since=query.updated_since,
        ends_range=(query.ends_from, query.ends_to),
        now=now,
        wanted=tuple(statuses) if statuses else None,
        ends_before=ends_before_for_days(expiring_within_days, now)
        if expiring_within_days is not None
        else None,
    )


async def of_seller(
    info: Info, seller_id: str, spec: AuthorizationListSpec
) -> PageResult[AuthorizationDocument]:
    return await info.context.loaders.authorizations_by_seller.load((seller_id, spec))


async def of_partner(
    info: Info, partner_id: str, spec: AuthorizationListSpec
) -> PageResult[AuthorizationDocument]:
    return await info.context.loaders.authorizations_by_partner.load((partner_id, spec))


async def of_offer(
    info: Info, offer_id: str, spec: AuthorizationListSpec
) -> PageResult[AuthorizationDocument]:
    return await info.context.loaders.authorizations_by_offer.load((offer_id, spec))


async def of_viewer(info: Info, spec: AuthorizationListSpec) -> PageResult[AuthorizationDocument]:
    """The seller's own, the partner's granted, or (admins) every authorization."""
    owner = own_lists_owner(info.context.viewer)
    if owner is not None:
        kind, owner_id = owner
        return await (of_seller if kind == "seller" else of_partner)(info, owner_id, spec)
    sort = spec.sort or NEWEST_FIRST
    return await find_page(info.context.store, c.AUTHORIZATIONS, spec.filter(), sort, spec.page)
