"""Seller requests to partners (SPEC.md §6, seed 002).

PARTNER_REVIEWING -> PARTNER_ACCEPTED | REJECTED; PARTNER_ACCEPTED -> CONNECTED when the seller
authorizes any service of that partner; any open or connected request -> CLOSED by either side.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from enum import StrEnum
from typing import Any

from datastore import collections as c
from datastore.documents import RequestDocument
from datastore.enums import (
    OPEN_REQUEST_STATUSES,
    HistoryReasonCode,
    PartnerStatus,
    RequestStatus,
)
from datastore.ids import new_id, type_of
from datastore.store import DocumentStore
from resolvers import history, idempotency
from resolvers.context import Context, Info
from resolvers.errors import unknown_account
from resolvers.identity import Role
from resolvers.validation import Checks, fail
from resolvers.visibility import is_party
from resolvers.writes import atomically


class RequestErrorCode(StrEnum):
    NOT_FOUND = "NOT_FOUND"
    NO_SHOP_ACCOUNT = "NO_SHOP_ACCOUNT"
    REQUIRED = "REQUIRED"
    TOO_LONG = "TOO_LONG"
    INVALID_EMAIL = "INVALID_EMAIL"
    NEGATIVE_AMOUNT = "NEGATIVE_AMOUNT"
    INVALID_AMOUNT = "INVALID_AMOUNT"
    AMOUNT_TOO_LARGE = "AMOUNT_TOO_LARGE"
    NO_PARTNERS = "NO_PARTNERS"
    TOO_MANY_PARTNERS = "TOO_MANY_PARTNERS"
    DUPLICATE_PARTNER = "DUPLICATE_PARTNER"
    PARTNER_NOT_FOUND = "PARTNER_NOT_FOUND"
    PARTNER_CLOSED = "PARTNER_CLOSED"
    OPEN_REQUEST_EXISTS = "OPEN_REQUEST_EXISTS"
    TOO_MANY_OPEN_REQUESTS = "TOO_MANY_OPEN_REQUESTS"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    REASON_REQUIRED = "REASON_REQUIRED"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"


Code = RequestErrorCode

MAX_PARTNERS = 10
MAX_SUBJECT = 100
MAX_EMAIL = 254
MAX_LOCATION = 200
MAX_PRODUCT = 200
MAX_DETAILS = 2000
MAX_REASON = 1000
MAX_AMOUNT = Decimal("1e12")
AMOUNT_FIELDS = ("shopMonthlyGmv", "otherChannelsMonthlyGmv", "monthlyBudget")


def _check_form(checks: Checks, contact: Mapping[str, Any], business: Mapping[str, Any]) -> None:
    checks.text(
        ["contact", "subject"],
        contact.get("subject"),
        max_length=MAX_SUBJECT,
        too_long=Code.TOO_LONG,
        missing=Code.REQUIRED,
    )
    checks.text(
        ["contact", "email"],
        contact.get("email"),
        max_length=MAX_EMAIL,
        too_long=Code.TOO_LONG,
        missing=Code.REQUIRED,
    )
    if contact.get("email"):
        checks.email(["contact", "email"], contact["email"], code=Code.INVALID_EMAIL)
    checks.text(
        ["contact", "location"],
        contact.get("location"),
        max_length=MAX_LOCATION,
        too_long=Code.TOO_LONG,
    )
    for name in AMOUNT_FIELDS:
        amount = business.get(name)
        if amount is None:
            continue
        if not amount.is_finite():
            # "NaN", "sNaN" and "Infinity" parse as decimals but are no amount of money.
            checks.add(["business", name], f"{name} must be a finite number", Code.INVALID_AMOUNT)
        elif amount < 0:
            checks.add(["business", name], f"{name} cannot be negative", Code.NEGATIVE_AMOUNT)
        elif amount > MAX_AMOUNT:
            checks.add(["business", name], f"{name} is implausibly large", Code.AMOUNT_TOO_LARGE)
    for name, limit in (("bestSellingProduct", MAX_PRODUCT), ("otherDetails", MAX_DETAILS)):
        checks.text(
            ["business", name], business.get(name), max_length=limit, too_long=Code.TOO_LONG
        )


def _trimmed(values: Mapping[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, str):
            value = value.strip() or None
        if isinstance(value, Decimal):
            value = str(value)  # stored exactly, as text
        cleaned[key] = value
    return cleaned


async def create(
    info: Info,
    contact: Mapping[str, Any],
    business: Mapping[str, Any],
    partner_ids: Sequence[str],
    idempotency_key: str | None,
) -> list[RequestDocument]:
    """One request per selected partner, all or none; a repeated idempotency key returns the
    requests created the first time."""
    store, now, viewer = info.context.store, info.context.now, info.context.viewer
    seller = (await store.get_many(c.SELLERS, [viewer.seller_id or ""])).get(viewer.seller_id or "")
    if seller is None:
        raise unknown_account("seller")
    if not seller.get("hasShopAccount"):
        raise fail(
            ["seller"],
            "only sellers with a TikTok Shop account can send requests: email the partner at "
            "its contactEmail instead",
            Code.NO_SHOP_ACCOUNT,
        )
    checks = Checks()
    ticket = idempotency.claim(
        checks,
        seller["_id"],
        "createRequest",
        idempotency_key,
        {"contact": contact, "business": business, "partnerIds": list(partner_ids)},
    )
    checks.raise_if_any()

    async def replay(ids: list[str]) -> list[RequestDocument]:
        found = await store.get_many(c.REQUESTS, ids)
        return [found[i] for i in ids if i in found]

    # Before the other rules: a retry gets the first requests even if a partner closed since.
    if ticket is not None and (ids := await idempotency.earlier(store, ticket)) is not None:
        return await replay(ids)
    _check_form(checks, contact, business)
    if not partner_ids:
        checks.add(["partnerIds"], "select at least one partner", Code.NO_PARTNERS)
    if len(partner_ids) > MAX_PARTNERS:
        checks.add(
            ["partnerIds"], f"select at most {MAX_PARTNERS} partners", Code.TOO_MANY_PARTNERS
        )
    partners = await store.get_many(c.PARTNERS, [p for p in partner_ids if type_of(p) == "Partner"])
    for index, partner_id in enumerate(partner_ids):
        partner = partners.get(partner_id)
        if partner_ids.index(partner_id) != index:
            checks.add(["partnerIds", str(index)], "selected twice", Code.DUPLICATE_PARTNER)
        elif partner is None or partner["status"] != PartnerStatus.ACTIVE:
            # A closed partner is answered as an unknown one, as partner(id:) answers it.
            checks.add(
                ["partnerIds", str(index)], "no partner with this id", Code.PARTNER_NOT_FOUND
            )
    checks.raise_if_any()
    limits = info.context.request_limits
    form = {"contact": _trimmed(contact), "business": _trimmed(business)}

    async def work() -> list[RequestDocument]:
        # Only creating opens requests, and every creation for this seller writes the seller:
        # two creations never both count the same open requests (datastore.store's rule).
        await store.hold(c.SELLERS, seller["_id"])
        # Closing a partner closes its open requests: hold the partners so neither misses the
        # other.
        closed = Checks()
        for index, partner_id in enumerate(partner_ids):
            held = await store.hold(c.PARTNERS, partner_id)
            if held is None or held["status"] != PartnerStatus.ACTIVE:
                closed.add(
                    ["partnerIds", str(index)], "no partner with this id", Code.PARTNER_NOT_FOUND
                )
        closed.raise_if_any()
        open_requests = await store.find(
            c.REQUESTS,
            {"sellerId": seller["_id"], "status": {"$in": list(OPEN_REQUEST_STATUSES)}},
            limit=limits.max_open + len(partner_ids),
        )
        if len(open_requests) + len(partner_ids) > limits.max_open:
            raise fail(
                ["partnerIds"],
                f"at most {limits.max_open} open requests at a time; close some first",
                Code.TOO_MANY_OPEN_REQUESTS,
            )
        problems = Checks()
        for index, partner_id in enumerate(partner_ids):
            with_partner = sum(1 for r in open_requests if r["partnerId"] == partner_id)
            if with_partner >= limits.max_open_per_partner:
                problems.add(
                    ["partnerIds", str(index)],
                    "you already have an open request with this partner",
                    Code.OPEN_REQUEST_EXISTS,
                )
        problems.raise_if_any()
        created = []
        for index, partner_id in enumerate(partner_ids):
            request = await store.insert(
                c.REQUESTS,
                {
                    "_id": new_id("req"),
                    "sellerId": seller["_id"],
                    "partnerId": partner_id,
                    "partnerIndex": index,
                    **form,
                    "status": RequestStatus.PARTNER_REVIEWING,
                    "createdAt": now,
                    "updatedAt": now,
                },
            )
            await history.record(
                store,
                subject_id=request["_id"],
                action="CREATED",
                actor=viewer,
                to_status=RequestStatus.PARTNER_REVIEWING,
                reason_code=HistoryReasonCode.SENT_BY_SELLER,
            )
            created.append(request)
        return created

    return await idempotency.once(
        store, ticket, work, ids_of=lambda made: [r["_id"] for r in made], replay=replay
    )


# Who may move a request from which states to which.
_MOVES: dict[str, tuple[tuple[RequestStatus, ...], RequestStatus, tuple[Role, ...]]] = {
    "accept": ((RequestStatus.PARTNER_REVIEWING,), RequestStatus.PARTNER_ACCEPTED, (Role.PARTNER,)),
    "reject": ((RequestStatus.PARTNER_REVIEWING,), RequestStatus.REJECTED, (Role.PARTNER,)),
    "close": (
        (RequestStatus.PARTNER_REVIEWING, RequestStatus.PARTNER_ACCEPTED, RequestStatus.CONNECTED),
        RequestStatus.CLOSED,
        (Role.PARTNER, Role.SELLER),
    ),
}

# What history records for each move.
_RECORDED = {"accept": "ACCEPTED", "reject": "REJECTED", "close": "CLOSED"}
# Why, by move and by whom (each move's roles above).
_REASONS = {
    ("accept", Role.PARTNER): HistoryReasonCode.ACCEPTED_BY_PARTNER,
    ("reject", Role.PARTNER): HistoryReasonCode.REJECTED_BY_PARTNER,
    ("close", Role.PARTNER): HistoryReasonCode.CLOSED_BY_PARTNER,
    ("close", Role.SELLER): HistoryReasonCode.CLOSED_BY_SELLER,
}


async def move(info: Info, request_id: str, action: str, reason: str | None) -> RequestDocument:
    """Accept, reject (with a reason) or close a request, as its partner or (close) its seller."""
    store, viewer = info.context.store, info.context.viewer
    sources, target, roles = _MOVES[action]
    checks = Checks()
    checks.text(["reason"], reason, max_length=MAX_REASON, too_long=Code.TOO_LONG)
    if action == "reject" and not (reason and reason.strip()):
        checks.add(["reason"], "tell the seller why you reject the request", Code.REASON_REQUIRED)
    checks.raise_if_any()

    async def work() -> RequestDocument:
        request = (await store.get_many(c.REQUESTS, [request_id])).get(request_id)
        if request is None or viewer.role not in roles or not is_party(viewer, request):
            raise fail(["id"], "no request with this id", Code.NOT_FOUND)
        if RequestStatus(request["status"]) not in sources:
            raise fail(
                ["id"],
                f"cannot {action} a request that is {request['status']}",
                Code.INVALID_TRANSITION,
            )
        return await _set_status(
            info.context,
            request,
            target,
            _RECORDED[action],
            reason,
            reason_code=_REASONS[(action, viewer.role)],
        )

    return await atomically(store, work)


async def _set_status(
    context: Context,
    request: RequestDocument,
    status: RequestStatus,
    action: str,
    reason: str | None = None,
    *,
    reason_code: HistoryReasonCode,
    journal: list[dict[str, Any]] | None = None,
) -> RequestDocument:
    """Move ``request`` to ``status`` for ``reason_code`` (inside the caller's transaction);
    its history entry goes to ``journal`` when given, else is recorded at once."""
    said = (reason or "").strip() or None
    updated = await context.store.update(
        c.REQUESTS,
        request["_id"],
        expected_version=request["version"],
        changes={
            "status": status,
            "statusReason": said,
            "closedBy": context.viewer.role.value
            if status is RequestStatus.CLOSED and context.viewer.role
            else None,
            "updatedAt": context.now,
        },
    )
    made = history.entry(
        subject_id=request["_id"],
        action=action,
        actor=context.viewer,
        from_status=request["status"],
        to_status=status,
        reason=said,
        reason_code=reason_code,
    )
    if journal is not None:
        journal.append(made)
    else:
        await history.record_many(context.store, [made])
    return updated


async def connect(context: Context, seller_id: str, partner_id: str) -> int:
    """Accepted requests of this seller to this partner become CONNECTED (the seller just
    authorized a service of the partner); call inside the authorizing transaction."""
    accepted = await context.store.find(
        c.REQUESTS,
        {"sellerId": seller_id, "partnerId": partner_id, "status": RequestStatus.PARTNER_ACCEPTED},
    )
    for request in accepted:
        await _set_status(
            context,
            request,
            RequestStatus.CONNECTED,
            "CONNECTED",
            reason_code=HistoryReasonCode.AUTHORIZED,
        )
    return len(accepted)


async def close_some_for_partner(context: Context, partner_id: str, limit: int) -> int:
    """Close up to ``limit`` of a removed partner's open and connected requests (reason
    PARTNER_REMOVED), with their history entries and events, inside the caller's transaction;
    returns how many (fewer than ``limit`` when none are left)."""
    store: DocumentStore = context.store
    journal: list[dict[str, Any]] = []
    for status in (*OPEN_REQUEST_STATUSES, RequestStatus.CONNECTED):
        live = await store.find(
            c.REQUESTS, {"partnerId": partner_id, "status": status}, limit=limit - len(journal)
        )
        for request in live:
            await _set_status(
                context,
                request,
                RequestStatus.CLOSED,
                "CLOSED",
                reason_code=HistoryReasonCode.PARTNER_REMOVED,
                journal=journal,
            )
        if len(journal) >= limit:
            break
    if journal:
        await history.record_many(store, journal)
    return len(journal)
