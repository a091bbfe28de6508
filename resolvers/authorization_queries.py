"""Listing authorizations for whoever may see them, with derived statuses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from datastore import collections as c
from datastore.enums import AuthorizationStatus
from datastore.loaders import NEWEST_FIRST, ListSpec
from datastore.paging import Page, PageResult, find_page
from datastore.store import ASCENDING, Filter, Sort
from resolvers.authorization_rules import ends_before_for_days, status_filter
from resolvers.context import Info
from resolvers.errors import PublicError, QueryErrorCode
from resolvers.visibility import own_lists_owner

SOONEST_ENDING: Sort = (("endsAt", ASCENDING),)
MAX_EXPIRING_DAYS = 366


@dataclass(frozen=True)
class AuthorizationListSpec(ListSpec):
    """Authorizations by effective status, or those ending within a window."""

    now: datetime | None = None
    wanted: tuple[AuthorizationStatus, ...] | None = None
    ends_before: datetime | None = None

    def filter(self) -> Filter:
        assert self.now is not None
        parts: list[dict[str, Any]] = []
        if self.wanted:
            parts.append(status_filter(self.wanted, self.now))
        if self.ends_before is not None:
            parts.append(
                {
                    "status": AuthorizationStatus.ACTIVE,
                    "endsAt": {"$gt": self.now, "$lt": self.ends_before},
                }
            )
        return {"$and": parts} if parts else {}


def list_sort(expiring_within_days: int | None) -> Sort:
    return SOONEST_ENDING if expiring_within_days is not None else NEWEST_FIRST


def list_spec(
    info: Info,
    page: Page,
    statuses: list[AuthorizationStatus] | None,
    expiring_within_days: int | None,
) -> AuthorizationListSpec:
    if expiring_within_days is not None and not 0 <= expiring_within_days <= MAX_EXPIRING_DAYS:
        raise PublicError(
            f"`expiringWithinDays` must be between 0 and {MAX_EXPIRING_DAYS} (calendar days, "
            "as `daysRemaining` counts them)",
            QueryErrorCode.INVALID_EXPIRING_WITHIN_DAYS,
        )
    now = info.context.now
    return AuthorizationListSpec(
        page=page,
        sort=list_sort(expiring_within_days),
        now=now,
        wanted=tuple(statuses) if statuses else None,
        ends_before=ends_before_for_days(expiring_within_days, now)
        if expiring_within_days is not None
        else None,
    )


async def of_seller(info: Info, seller_id: str, spec: AuthorizationListSpec) -> PageResult:
    return await info.context.loaders.authorizations_by_seller.load((seller_id, spec))


async def of_partner(info: Info, partner_id: str, spec: AuthorizationListSpec) -> PageResult:
    return await info.context.loaders.authorizations_by_partner.load((partner_id, spec))


async def of_offer(info: Info, offer_id: str, spec: AuthorizationListSpec) -> PageResult:
    return await info.context.loaders.authorizations_by_offer.load((offer_id, spec))


async def of_viewer(info: Info, spec: AuthorizationListSpec) -> PageResult:
    """The seller's own, the partner's granted, or (admins) every authorization."""
    owner = own_lists_owner(info.context.viewer)
    if owner is not None:
        kind, owner_id = owner
        return await (of_seller if kind == "seller" else of_partner)(info, owner_id, spec)
    sort = spec.sort or NEWEST_FIRST
    return await find_page(info.context.store, c.AUTHORIZATIONS, spec.filter(), sort, spec.page)
