"""Service offers: a partner bundles 1 to 10 of its live services with dates, an optional seller
contact and explicit authorization settings, and shares the offer's link (SPEC.md §4).

Stored statuses are OPEN, ACCEPTED (set by the acceptance) and WITHDRAWN. EXPIRED is never
stored: an OPEN offer whose ``endsAt`` has passed reads as EXPIRED (see
:func:`effective_offer_status`), so nothing has to sweep offers when they run out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from datastore import collections as c
from datastore.codec import utc_now
from datastore.documents import ServiceOfferDocument
from datastore.enums import (
    AuthorizeObject,
    HistoryReasonCode,
    OfferStatus,
    PartnerStatus,
    ServiceStatus,
)
from datastore.ids import new_id, new_token, type_of
from datastore.loaders import ListSpec
from datastore.paging import Page, PageResult
from resolvers import history, idempotency
from resolvers.category_applications import current_partner
from resolvers.contact import check_contact
from resolvers.context import Info
from resolvers.moments import check_moment
from resolvers.offer_dates import MAX_YEARS, day_after, day_start, years_later
from resolvers.validation import Checks, fail
from resolvers.visibility import sees_partner_privately, sees_seller_privately
from resolvers.writes import atomically


class ServiceOfferErrorCode(StrEnum):
    NOT_FOUND = "NOT_FOUND"
    NO_SERVICES = "NO_SERVICES"
    TOO_MANY_SERVICES = "TOO_MANY_SERVICES"
    DUPLICATE_SERVICE = "DUPLICATE_SERVICE"
    SERVICE_NOT_FOUND = "SERVICE_NOT_FOUND"
    SERVICE_NOT_LIVE = "SERVICE_NOT_LIVE"
    START_IN_PAST = "START_IN_PAST"
    END_NOT_AFTER_START = "END_NOT_AFTER_START"
    DATES_OUT_OF_RANGE = "DATES_OUT_OF_RANGE"
    PARTNER_CLOSED = "PARTNER_CLOSED"
    NOT_OPEN = "NOT_OPEN"
    # The codes of resolvers.contact.check_contact, which reports them by value.
    INVALID_EMAIL = "INVALID_EMAIL"
    INVALID_PHONE = "INVALID_PHONE"
    TOO_LONG = "TOO_LONG"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    NOT_ENDED = "NOT_ENDED"
    SELLER_NOT_FOUND = "SELLER_NOT_FOUND"


Code = ServiceOfferErrorCode

MAX_SERVICES = 10
# Far enough for any real engagement, near enough that no one stores year 9999.
# Link tokens are 32 characters; anything much longer is not worth a lookup.
MAX_LINK_TOKEN = 200


def effective_offer_status(offer: Mapping[str, Any], now: datetime) -> OfferStatus:
    """The status as read at ``now``: an OPEN offer whose end has passed is EXPIRED.

    ``datastore.loaders.offer_status_filter`` is the same rule for store filters.
    """
    status = OfferStatus(offer["status"])
    if status is OfferStatus.OPEN and now >= offer["endsAt"]:
        return OfferStatus.EXPIRED
    return status


def can_be_accepted(
    offer: Mapping[str, Any],
    partner: Mapping[str, Any] | None,
    services: Sequence[Mapping[str, Any] | None],
    now: datetime,
) -> bool:
    """Whether a seller could accept the offer in one click at ``now``: it is OPEN, not past
    its end, its partner still operates and every offered service is LIVE. (A start date that
    has passed does not matter: the authorization then starts today.)"""
    return (
        effective_offer_status(offer, now) is OfferStatus.OPEN
        and partner is not None
        and partner.get("status") == PartnerStatus.ACTIVE
        and now < offer["endsAt"]
        and all(s is not None and s.get("status") == ServiceStatus.LIVE for s in services)
    )


def is_for_another_seller(offer: Mapping[str, Any], seller_id: str | None) -> bool:
    """Whether the offer was made for one seller other than ``seller_id``: only the seller an
    offer names may accept it."""
    return offer.get("sellerId") not in (None, seller_id)


async def create(info: Info, fields: Mapping[str, Any]) -> ServiceOfferDocument:
    """A new OPEN offer of the calling partner; a repeated idempotency key returns the offer
    created the first time, unchanged.

    ``fields``: ``serviceIds`` (list of ids), ``startDate`` and ``endDate`` (dates, the end
    inclusive), ``contact`` (name/email/phone or ``None``), ``settings`` (authorizeObject,
    ticketAuthorization, tspAccess, dataCompassAccess), ``sellerId`` (the one seller it is
    for, or ``None`` for whoever holds the link) and ``idempotencyKey``.
    """
    store = info.context.store
    partner = await current_partner(info, Code.PARTNER_CLOSED)
    checks = Checks()
    given = {k: v for k, v in fields.items() if k != "idempotencyKey"}
    ticket = idempotency.claim(
        checks, partner["_id"], "createServiceOffer", fields.get("idempotencyKey"), given
    )
    checks.raise_if_any()

    async def replay(ids: list[str]) -> ServiceOfferDocument:
        return (await store.get_many(c.SERVICE_OFFERS, ids))[ids[0]]

    # Before the other rules: a retry gets the first offer even if, since then, a day has
    # passed or a service went off.
    if ticket is not None and (ids := await idempotency.earlier(store, ticket)) is not None:
        return await replay(ids)
    service_ids = [str(i) for i in fields.get("serviceIds") or []]
    await _check_services(info, checks, partner["_id"], service_ids)
    start, end = fields["startDate"], fields["endDate"]
    _check_dates(checks, start, end, utc_now().date())
    contact = check_contact(checks, fields.get("contact"), ["contact"])
    seller_id = fields.get("sellerId")
    if seller_id and not (await store.get_many(c.SELLERS, [seller_id])):
        checks.add(["sellerId"], "no seller with this id", Code.SELLER_NOT_FOUND)
    checks.raise_if_any()
    now = utc_now()
    document: dict[str, Any] = {
        "_id": new_id("ofr"),
        "partnerId": partner["_id"],
        "serviceIds": service_ids,
        "startsAt": day_start(start),
        "endsAt": day_after(end),
        "contact": contact,
        "settings": _settings(fields["settings"]),
        "linkToken": new_token(),
        "status": OfferStatus.OPEN,
        # Only this seller may accept an offer made for one (and finds it in its inbox).
        **({"sellerId": seller_id} if seller_id else {}),
        "createdAt": now,
        "updatedAt": now,
    }

    async def work() -> ServiceOfferDocument:
        offer = await store.insert(c.SERVICE_OFFERS, document)
        await history.record(
            store,
            subject_id=offer["_id"],
            action="CREATED",
            actor=info.context.viewer,
            to_status=OfferStatus.OPEN,
        )
        return offer

    return await idempotency.once(
        store, ticket, work, ids_of=lambda offer: [offer["_id"]], replay=replay
    )


async def withdraw(info: Info, offer_id: str) -> ServiceOfferDocument:
    """OPEN -> WITHDRAWN; its link then says so. Accepted, withdrawn and expired offers stay."""
    store = info.context.store
    if type_of(offer_id) != "ServiceOffer":
        raise fail(["id"], "no service offer with this id", Code.NOT_FOUND)
    await current_partner(info, Code.PARTNER_CLOSED)

    async def work() -> ServiceOfferDocument:
        # Read here, not through a loader: a retry after a lost race must see the new version.
        offer = (await store.get_many(c.SERVICE_OFFERS, [offer_id])).get(offer_id)
        if offer is None or not sees_partner_privately(info.context.viewer, offer["partnerId"]):
            raise fail(["id"], "no service offer with this id", Code.NOT_FOUND)
        now = utc_now()
        status = effective_offer_status(offer, now)
        if status is not OfferStatus.OPEN:
            raise fail(
                ["id"],
                f"the offer is {status.value}: only an OPEN offer can be withdrawn",
                Code.NOT_OPEN,
            )
        updated = await store.update(
            c.SERVICE_OFFERS,
            offer_id,
            expected_version=offer["version"],
            changes={"status": OfferStatus.WITHDRAWN, "withdrawnAt": now, "updatedAt": now},
        )
        await history.record(
            store,
            subject_id=offer_id,
            action="WITHDRAWN",
            actor=info.context.viewer,
            from_status=OfferStatus.OPEN,
            to_status=OfferStatus.WITHDRAWN,
            reason_code=HistoryReasonCode.WITHDRAWN_BY_PARTNER,
        )
        return updated

    return await atomically(store, work)


async def by_link(info: Info, token: str) -> ServiceOfferDocument | None:
    """The offer behind a link token, whatever its status (anyone holding the token may read
    it); ``None`` for an unknown token."""
    if not token or len(token) > MAX_LINK_TOKEN:
        return None
    found = await info.context.store.find(c.SERVICE_OFFERS, {"linkToken": token}, limit=1)
    return found[0] if found else None


async def offers_of_partner(
    info: Info,
    partner_id: str,
    page: Page,
    statuses: Sequence[OfferStatus] | None,
    updated_since: datetime | None = None,
    archived: bool = False,
) -> PageResult[ServiceOfferDocument]:
    """The partner's offers, newest first, with statuses as read (EXPIRED included), archived
    ones or the others; empty for anyone but the partner and admins."""
    if not sees_partner_privately(info.context.viewer, partner_id):
        return PageResult([], False)
    spec = ListSpec(
        page=page,
        statuses=tuple(s.value for s in statuses) if statuses else None,
        updated_since=check_moment(updated_since, "updatedSince"),
        archived=archived,
    )
    return await info.context.loaders.service_offers_by_partner.load((partner_id, spec))


async def offers_for_seller(
    info: Info, seller_id: str, page: Page, statuses: Sequence[OfferStatus] | None
) -> PageResult[ServiceOfferDocument]:
    """Offers made for one seller (its inbox), newest first, statuses as read; empty for anyone
    but that seller and admins. Archiving is the partner's own tidying: the seller sees all."""
    if not sees_seller_privately(info.context.viewer, seller_id):
        return PageResult([], False)
    spec = ListSpec(page=page, statuses=tuple(s.value for s in statuses) if statuses else None)
    return await info.context.loaders.service_offers_by_seller.load((seller_id, spec))


async def _check_services(
    info: Info, checks: Checks, partner_id: str, service_ids: Sequence[str]
) -> None:
    """1 to 10 distinct ids of the partner's own LIVE services; each bad one is reported at
    its index. Another partner's service reads as not found, like an unknown id."""
    if not service_ids:
        checks.add(["serviceIds"], "an offer needs at least one service", Code.NO_SERVICES)
        return
    if len(service_ids) > MAX_SERVICES:
        checks.add(
            ["serviceIds"],
            f"an offer holds at most {MAX_SERVICES} services, got {len(service_ids)}",
            Code.TOO_MANY_SERVICES,
        )
        return
    seen: set[str] = set()
    to_load: list[tuple[int, str]] = []
    for index, service_id in enumerate(service_ids):
        if service_id in seen:
            checks.add(
                ["serviceIds", str(index)],
                "this service is already in the offer",
                Code.DUPLICATE_SERVICE,
            )
            continue
        seen.add(service_id)
        if type_of(service_id) != "Service":
            checks.add(
                ["serviceIds", str(index)], "no service with this id", Code.SERVICE_NOT_FOUND
            )
            continue
        to_load.append((index, service_id))
    # Through the loader: the payload's `services` field then reads them from its cache.
    loaded = await info.context.loaders.service_by_id.load_many([s for _, s in to_load])
    for (index, _), service in zip(to_load, loaded, strict=True):
        if service is None or service["partnerId"] != partner_id:
            checks.add(
                ["serviceIds", str(index)], "no service with this id", Code.SERVICE_NOT_FOUND
            )
        elif service["status"] != ServiceStatus.LIVE:
            checks.add(
                ["serviceIds", str(index)],
                f"the service is {service['status']}: only LIVE services can be offered",
                Code.SERVICE_NOT_LIVE,
            )


def _check_dates(checks: Checks, start: date, end: date, today: date) -> None:
    """Start today (UTC) or later, end after start, and both within :data:`MAX_YEARS`."""
    if start < today:
        checks.add(["startDate"], "startDate cannot be in the past", Code.START_IN_PAST)
    latest_start = years_later(today, MAX_YEARS)
    if start > latest_start:
        checks.add(
            ["startDate"],
            f"startDate must be on or before {latest_start.isoformat()} ({MAX_YEARS} years ahead)",
            Code.DATES_OUT_OF_RANGE,
        )
        return  # the span below cannot even be computed for a date near the end of the calendar
    if end <= start:
        checks.add(["endDate"], "endDate must be after startDate", Code.END_NOT_AFTER_START)
        return
    latest_end = years_later(start, MAX_YEARS)
    if end > latest_end:
        checks.add(
            ["endDate"],
            f"an offer runs at most {MAX_YEARS} years: endDate must be on or before "
            f"{latest_end.isoformat()}",
            Code.DATES_OUT_OF_RANGE,
        )


def _settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The four authorization settings exactly as the partner set them: none has a default."""
    return {
        "authorizeObject": AuthorizeObject(settings["authorizeObject"]),
        "ticketAuthorization": bool(settings["ticketAuthorization"]),
        "tspAccess": bool(settings["tspAccess"]),
        "dataCompassAccess": bool(settings["dataCompassAccess"]),
    }
