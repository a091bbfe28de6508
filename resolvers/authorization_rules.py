"""Rules of authorizations: who may authorize where, what must be covered, and the status an
authorization has at a given moment (SPEC.md §5, seeds 000 and 002)."""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from datastore import collections as c
from datastore.documents import (
    AuthorizationDocument,
    PartnerDocument,
    SellerDocument,
    ServiceDocument,
)
from datastore.enums import (
    AuthorizationStatus,
    AuthorizeObject,
    LinkedStatus,
    Market,
    PartnerStatus,
    SellerKind,
)
from datastore.store import DocumentStore
from resolvers.offer_dates import MAX_YEARS, day_after, day_start, last_day, years_later
from resolvers.validation import Checks, fail


class AuthorizationErrorCode(StrEnum):
    NOT_FOUND = "NOT_FOUND"
    OFFER_NOT_FOUND = "OFFER_NOT_FOUND"
    OFFER_WITHDRAWN = "OFFER_WITHDRAWN"
    OFFER_EXPIRED = "OFFER_EXPIRED"
    OFFER_ALREADY_ACCEPTED = "OFFER_ALREADY_ACCEPTED"
    SERVICE_NOT_IN_OFFER = "SERVICE_NOT_IN_OFFER"
    NO_SERVICES = "NO_SERVICES"
    DUPLICATE_SERVICE = "DUPLICATE_SERVICE"
    SERVICE_NOT_LIVE = "SERVICE_NOT_LIVE"
    PARTNER_CLOSED = "PARTNER_CLOSED"
    REGION_RESTRICTED = "REGION_RESTRICTED"
    OFFER_FOR_ANOTHER_SELLER = "OFFER_FOR_ANOTHER_SELLER"
    START_IN_PAST = "START_IN_PAST"
    END_NOT_AFTER_START = "END_NOT_AFTER_START"
    DATES_OUTSIDE_OFFER = "DATES_OUTSIDE_OFFER"
    DATES_OUT_OF_RANGE = "DATES_OUT_OF_RANGE"
    SHOP_REQUIRED = "SHOP_REQUIRED"
    TIKTOK_ACCOUNT_REQUIRED = "TIKTOK_ACCOUNT_REQUIRED"
    NOT_COVERED_BY_AUTHORIZE_OBJECT = "NOT_COVERED_BY_AUTHORIZE_OBJECT"
    SHOP_NOT_FOUND = "SHOP_NOT_FOUND"
    TIKTOK_ACCOUNT_NOT_FOUND = "TIKTOK_ACCOUNT_NOT_FOUND"
    TIKTOK_ACCOUNT_UNLINKED = "TIKTOK_ACCOUNT_UNLINKED"
    NOT_ACTIVE = "NOT_ACTIVE"
    ALREADY_UNLINKED = "ALREADY_UNLINKED"
    INVALID_EMAIL = "INVALID_EMAIL"
    INVALID_PHONE = "INVALID_PHONE"
    TOO_LONG = "TOO_LONG"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"


Code = AuthorizationErrorCode

# Local sellers in these markets, and every cross-border seller, authorize only through links.
LINK_ONLY_LOCAL_MARKETS = frozenset({Market.US, Market.GB})


def is_link_only(seller: SellerDocument) -> bool:
    """Seed 002: UK and US local sellers and all cross-border sellers authorize and renew only
    through a link a partner sent them, never from the store directly."""
    return seller["kind"] == SellerKind.CROSS_BORDER or (
        seller["kind"] == SellerKind.LOCAL and seller["market"] in LINK_ONLY_LOCAL_MARKETS
    )


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` plus calendar months, clamped to the month's last day (31 Jan + 1 = 28/29 Feb)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def horizon(starts_at: datetime, now: datetime) -> datetime:
    """The latest ``endsAt`` an authorization may reach, by authorizing or renewing: its last
    day :data:`MAX_YEARS` calendar years after the later of today and its start, as
    authorizing allows."""
    return day_after(years_later(max(now.date(), starts_at.date()), MAX_YEARS))


def renewed_end(ends_at: datetime, months: int, starts_at: datetime, now: datetime) -> datetime:
    """``ends_at`` plus ``months``, refused past the :func:`horizon`. The months are added to
    the last day, not to the exclusive end: a last day of 30 March renewed for a month ends on
    30 April (31 March, the exclusive end, plus a month is 30 April: a last day of 29 April)."""
    latest = horizon(starts_at, now)
    extended = (
        day_after(add_months(day_start(last_day(ends_at)), months).date())
        if ends_at < latest
        else None
    )
    if extended is None or extended > latest:
        raise fail(
            ["period"],
            f"an authorization ends at most three years ahead, on {last_day(latest).isoformat()}"
            " at the latest: renew later, or for a shorter period",
            Code.DATES_OUT_OF_RANGE,
        )
    return extended


def days_remaining(ends_at: datetime, now: datetime) -> int:
    """Calendar days (UTC) from today to the last day: 0 on the last day itself.

    The one definition behind ``Authorization.daysRemaining`` and ``expiringWithinDays``.
    """
    return max(0, (last_day(ends_at) - now.date()).days)


def ends_before_for_days(days: int, now: datetime) -> datetime:
    """The exclusive bound on ``endsAt`` for "ending within ``days`` days":
    ``days_remaining(e, now) <= days`` exactly when ``e < ends_before_for_days(days, now)``
    (``last_day(e) <= today + days``, and ``last_day(e)`` is the day before ``e``)."""
    return day_after(now.date() + timedelta(days=days)) + timedelta(days=1)


def effective_status(authorization: AuthorizationDocument, now: datetime) -> AuthorizationStatus:
    """ACTIVE past its end reads as COMPLETED at once, before any sweep persists it."""
    status = AuthorizationStatus(authorization["status"])
    if status is AuthorizationStatus.ACTIVE and authorization["endsAt"] <= now:
        return AuthorizationStatus.COMPLETED
    return status


def grants_access(
    authorization: AuthorizationDocument, partner: PartnerDocument | None, now: datetime
) -> bool:
    """Only an active, started authorization of an active partner lets the partner in."""
    return (
        effective_status(authorization, now) is AuthorizationStatus.ACTIVE
        and authorization["startsAt"] <= now
        and partner is not None
        and partner.get("status") == PartnerStatus.ACTIVE
    )


def status_filter(statuses: Sequence[AuthorizationStatus], now: datetime) -> dict[str, Any]:
    """The store filter for effective statuses (COMPLETED includes active ones past their end)."""
    branches: list[dict[str, Any]] = []
    for status in statuses:
        if status is AuthorizationStatus.ACTIVE:
            branches.append({"status": status, "endsAt": {"$gt": now}})
        elif status is AuthorizationStatus.COMPLETED:
            branches.append({"status": status})
            branches.append({"status": AuthorizationStatus.ACTIVE, "endsAt": {"$lte": now}})
        else:
            branches.append({"status": status})
    return {"$or": branches}


def check_dates(
    checks: Checks,
    start: date,
    end: date,
    today: date,
    *,
    within: tuple[datetime, datetime] | None = None,
) -> None:
    if start < today:
        checks.add(["startDate"], "the start date is in the past", Code.START_IN_PAST)
    latest_start = years_later(today, MAX_YEARS)
    if start > latest_start:
        checks.add(
            ["startDate"],
            f"the start date must be on or before {latest_start.isoformat()}",
            Code.DATES_OUT_OF_RANGE,
        )
        return  # nothing below can be computed near the end of the calendar
    if end <= start:
        checks.add(
            ["endDate"], "the end date must be after the start date", Code.END_NOT_AFTER_START
        )
    # In dates, not instants: an end date of 9999-12-31 has no day after it.
    latest_end = years_later(start, MAX_YEARS)
    if end > latest_end:
        checks.add(
            ["endDate"],
            f"an authorization spans at most {MAX_YEARS} years: the end date must be on or "
            f"before {latest_end.isoformat()}",
            Code.DATES_OUT_OF_RANGE,
        )
        return
    if within is not None and (day_start(start) < within[0] or day_after(end) > within[1]):
        checks.add(
            ["endDate" if day_start(start) >= within[0] else "startDate"],
            f"dates must lie within the offer's {within[0].date()} to {last_day(within[1])}",
            Code.DATES_OUTSIDE_OFFER,
        )


async def check_coverage(
    store: DocumentStore,
    seller_id: str,
    authorize_object: AuthorizeObject,
    shop_ids: Sequence[str],
    account_ids: Sequence[str],
) -> None:
    """The shops and TikTok accounts must be the seller's own (and linked), and present exactly
    as the authorize object requires."""
    checks = Checks()
    wants_shops = authorize_object in (AuthorizeObject.SHOP, AuthorizeObject.SHOP_AND_TTUID)
    wants_accounts = authorize_object in (AuthorizeObject.TTUID, AuthorizeObject.SHOP_AND_TTUID)
    if wants_shops and not shop_ids:
        checks.add(
            ["shopIds"], f"{authorize_object.value} needs at least one shop", Code.SHOP_REQUIRED
        )
    if wants_accounts and not account_ids:
        checks.add(
            ["tiktokAccountIds"],
            f"{authorize_object.value} needs at least one TikTok account",
            Code.TIKTOK_ACCOUNT_REQUIRED,
        )
    if shop_ids and not wants_shops:
        checks.add(
            ["shopIds"],
            "the authorize object covers no shops",
            Code.NOT_COVERED_BY_AUTHORIZE_OBJECT,
        )
    if account_ids and not wants_accounts:
        checks.add(
            ["tiktokAccountIds"],
            "the authorize object covers no TikTok accounts",
            Code.NOT_COVERED_BY_AUTHORIZE_OBJECT,
        )
    shops = await store.get_many(c.SHOPS, shop_ids) if shop_ids else {}
    for index, shop_id in enumerate(shop_ids):
        shop = shops.get(shop_id)
        if shop is None or shop["sellerId"] != seller_id:
            checks.add(["shopIds", str(index)], "not one of your shops", Code.SHOP_NOT_FOUND)
    accounts = await store.get_many(c.TIKTOK_ACCOUNTS, account_ids) if account_ids else {}
    for index, account_id in enumerate(account_ids):
        account = accounts.get(account_id)
        if account is None or account["sellerId"] != seller_id:
            checks.add(
                ["tiktokAccountIds", str(index)],
                "not one of your TikTok accounts",
                Code.TIKTOK_ACCOUNT_NOT_FOUND,
            )
        elif account["linkedStatus"] != LinkedStatus.LINKED:
            checks.add(
                ["tiktokAccountIds", str(index)],
                "this TikTok account is unlinked",
                Code.TIKTOK_ACCOUNT_UNLINKED,
            )
    checks.raise_if_any()


async def default_coverage(
    store: DocumentStore, seller_id: str, authorize_object: AuthorizeObject
) -> tuple[list[str], list[str]]:
    """For a one-click authorization: every shop and every linked account the object covers."""
    shops: list[str] = []
    accounts: list[str] = []
    if authorize_object in (AuthorizeObject.SHOP, AuthorizeObject.SHOP_AND_TTUID):
        shops = [d["_id"] for d in await store.find(c.SHOPS, {"sellerId": seller_id}, limit=50)]
    if authorize_object in (AuthorizeObject.TTUID, AuthorizeObject.SHOP_AND_TTUID):
        found = await store.find(
            c.TIKTOK_ACCOUNTS,
            {"sellerId": seller_id, "linkedStatus": LinkedStatus.LINKED},
            limit=50,
        )
        accounts = [d["_id"] for d in found]
    return shops, accounts


def require_live(
    service: ServiceDocument | None, partner: PartnerDocument | None, field: Sequence[str]
) -> None:
    if partner is not None and partner.get("status") != PartnerStatus.ACTIVE:
        raise fail(field, "the partner has been removed from the platform", Code.PARTNER_CLOSED)
    if service is None or service.get("status") != "LIVE":
        raise fail(field, "the service is not live", Code.SERVICE_NOT_LIVE)
