"""The service life cycle: create, edit, publish, review, deactivate (SPEC.md §3).

DRAFT -> publish -> IN_REVIEW -> LIVE | REJECTED (public); DRAFT -> publish -> LIVE (custom);
LIVE -> deactivate -> DEACTIVATED ("Off") -> publish ("On"). A public service goes back to
review only when its listing changed since it was last approved.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from datastore import collections as c
from datastore.codec import utc_now
from datastore.documents import PartnerDocument, ServiceDocument
from datastore.enums import HistoryReasonCode, Market, PartnerStatus, ServiceStatus, ServiceType
from datastore.ids import new_id, new_token
from datastore.search import search_fields
from resolvers import history, idempotency
from resolvers.category_applications import REVIEWED_BECAUSE, ReviewDecision, current_partner
from resolvers.context import Info
from resolvers.referrals import ensure_referral_links
from resolvers.service_rules import (
    LISTING_FIELDS,
    MAX_REASON,
    PUBLISHABLE,
    Code,
    check_category,
    check_fields,
    check_transition,
    missing_listing_fields,
    normalise_fields,
)
from resolvers.validation import Checks, Problem, ValidationError, fail
from resolvers.visibility import sees_partner_privately
from resolvers.writes import atomically


async def _load_own(info: Info, service_id: str) -> ServiceDocument:
    """The service if the caller owns it (or is an admin); otherwise it does not exist."""
    found = await info.context.store.get_many(c.SERVICES, [service_id])
    service = found.get(service_id)
    if service is None or not sees_partner_privately(info.context.viewer, service["partnerId"]):
        raise fail(["id"], "no service with this id", Code.NOT_FOUND)
    return service


async def _partner_of(info: Info, service: ServiceDocument) -> PartnerDocument:
    found = await info.context.store.get_many(c.PARTNERS, [service["partnerId"]])
    return found[service["partnerId"]]


async def create(info: Info, fields: Mapping[str, Any]) -> ServiceDocument:
    """A new DRAFT service under an approved category; a repeated idempotency key returns the
    service created the first time."""
    store = info.context.store
    partner = await current_partner(info, Code.PARTNER_CLOSED)
    checks = Checks()
    given = {k: v for k, v in fields.items() if k != "idempotencyKey"}
    ticket = idempotency.claim(
        checks, partner["_id"], "createService", fields.get("idempotencyKey"), given
    )
    checks.raise_if_any()

    async def replay(ids: list[str]) -> ServiceDocument:
        return (await store.get_many(c.SERVICES, ids))[ids[0]]

    # Before the other rules: a retry gets the first service even if they changed since.
    if ticket is not None and (ids := await idempotency.earlier(store, ticket)) is not None:
        return await replay(ids)
    check_fields(fields, creating=True)
    fields = normalise_fields(fields)
    service_type = ServiceType(fields["type"])
    market = Market(fields["market"])
    await check_category(store, partner, fields["categoryId"], market, service_type)
    now = utc_now()
    document: dict[str, Any] = {
        "_id": new_id("svc"),
        "partnerId": partner["_id"],
        "name": fields["name"],
        "type": service_type,
        "status": ServiceStatus.DRAFT,
        "categoryId": fields["categoryId"],
        "market": market,
        "description": fields.get("description"),
        "highlights": fields.get("highlights") or [],
        "pricing": fields.get("pricing"),
        "contactEmail": fields.get("contactEmail"),
        "needsReview": True,
        "listed": False,
        "createdAt": now,
        "updatedAt": now,
    }

    async def work() -> ServiceDocument:
        # The partner as this transaction sees it, written back: a rename (which re-indexes
        # the partner's services) or a close racing this create conflicts with it, so the
        # service is found by the partner's current name and never made for a closed partner.
        held = await store.hold(c.PARTNERS, partner["_id"])
        if held is None or held["status"] != PartnerStatus.ACTIVE:
            raise fail(["partner"], "your partner account is closed", Code.PARTNER_CLOSED)
        words = search_fields(fields["name"], fields.get("description"), held["name"])
        service = await store.insert(c.SERVICES, {**document, **words})
        await history.record(
            store,
            subject_id=service["_id"],
            action="CREATED",
            actor=info.context.viewer,
            to_status=ServiceStatus.DRAFT,
        )
        return service

    return await idempotency.once(
        store, ticket, work, ids_of=lambda service: [service["_id"]], replay=replay
    )


async def update(info: Info, service_id: str, fields: Mapping[str, Any]) -> ServiceDocument:
    """Partial update: only the given fields change (``None`` clears an optional one)."""
    store = info.context.store
    check_fields(fields, creating=False)
    fields = normalise_fields(fields)

    async def work() -> ServiceDocument:
        service = await _load_own(info, service_id)
        partner = await _partner_of(info, service)
        if partner["status"] != PartnerStatus.ACTIVE:
            raise fail(["id"], "the partner is closed", Code.PARTNER_CLOSED)
        status = ServiceStatus(service["status"])
        if status is ServiceStatus.IN_REVIEW:
            raise fail(
                ["id"], "a service cannot be edited while it is in review", Code.SERVICE_IN_REVIEW
            )
        if status is ServiceStatus.LIVE and service["type"] == ServiceType.PUBLIC:
            raise fail(
                ["id"],
                "a live public service cannot be edited: deactivate it, edit, then publish again "
                "(the changes go to review)",
                Code.LIVE_PUBLIC_NOT_EDITABLE,
            )
        changes = {k: v for k, v in fields.items() if service.get(k) != v}
        _check_locked(service, changes)
        merged = {**service, **changes}
        if {"type", "categoryId", "market"} & changes.keys():
            await check_category(
                store,
                partner,
                merged["categoryId"],
                Market(merged["market"]),
                ServiceType(merged["type"]),
            )
        if not changes:
            return service
        now = utc_now()
        listing_changed = bool(set(LISTING_FIELDS) & changes.keys())
        updated = await store.update(
            c.SERVICES,
            service_id,
            expected_version=service["version"],
            changes={
                **changes,
                **search_fields(merged["name"], merged.get("description"), partner["name"]),
                "needsReview": True if listing_changed else service.get("needsReview"),
                "updatedAt": now,
            },
        )
        await history.record(
            store,
            subject_id=service_id,
            action="UPDATED",
            actor=info.context.viewer,
            from_status=status,
            to_status=status,
            changes={
                k: {"from": _plain(service.get(k)), "to": _plain(v)} for k, v in changes.items()
            },
        )
        return updated

    return await atomically(store, work)


def _check_locked(service: ServiceDocument, changes: Mapping[str, Any]) -> None:
    status = ServiceStatus(service["status"])
    if "type" in changes and status is not ServiceStatus.DRAFT:
        raise fail(
            ["type"], "the type can only change while the service is a draft", Code.FIELD_LOCKED
        )
    if {"categoryId", "market"} & changes.keys() and status is ServiceStatus.LIVE:
        field = "categoryId" if "categoryId" in changes else "market"
        raise fail([field], f"{field} cannot change while the service is live", Code.FIELD_LOCKED)


def _plain(value: Any) -> Any:
    return value.value if hasattr(value, "value") else value


async def publish(info: Info, service_id: str) -> ServiceDocument:
    """Custom services go live at once; public ones go to review unless their listing is
    unchanged since it was approved (turning a deactivated service back "On")."""
    store = info.context.store

    async def work() -> ServiceDocument:
        service = await _load_own(info, service_id)
        partner = await _partner_of(info, service)
        if partner["status"] != PartnerStatus.ACTIVE:
            raise fail(["id"], "a closed partner cannot publish services", Code.PARTNER_CLOSED)
        check_transition(service, PUBLISHABLE, "publish")
        await check_category(
            store,
            partner,
            service["categoryId"],
            Market(service["market"]),
            ServiceType(service["type"]),
        )
        if service["type"] == ServiceType.PUBLIC:
            missing = missing_listing_fields(service)
            if missing:
                raise ValidationError(
                    [
                        Problem(
                            (name,),
                            f"{name} is required to list a public service",
                            Code.LISTING_INCOMPLETE,
                        )
                        for name in missing
                    ]
                )
            if service.get("needsReview", True):
                return await _move(
                    info,
                    service,
                    ServiceStatus.IN_REVIEW,
                    "SUBMITTED",
                    partner,
                    reason_code=HistoryReasonCode.SUBMITTED_BY_PARTNER,
                )
        return await _move(
            info,
            service,
            ServiceStatus.LIVE,
            "PUBLISHED",
            partner,
            reason_code=HistoryReasonCode.PUBLISHED_BY_PARTNER,
        )

    return await atomically(store, work)


async def review(
    info: Info, service_id: str, decision: ReviewDecision, reason: str | None
) -> ServiceDocument:
    """An admin approves (LIVE) or rejects (REJECTED, with a reason) a service in review."""
    checks = Checks()
    checks.text(["reason"], reason, max_length=MAX_REASON, too_long=Code.TOO_LONG)
    reason = reason.strip() if reason else None
    if decision is ReviewDecision.REJECT and not reason:
        checks.add(
            ["reason"], "a rejection needs a reason the partner can act on", Code.REASON_REQUIRED
        )
    checks.raise_if_any()

    async def work() -> ServiceDocument:
        service = await _load_own(info, service_id)
        check_transition(service, (ServiceStatus.IN_REVIEW,), "review")
        partner = await _partner_of(info, service)
        approved = decision is ReviewDecision.APPROVE
        return await _move(
            info,
            service,
            ServiceStatus.LIVE if approved else ServiceStatus.REJECTED,
            "APPROVED" if approved else "REJECTED",
            partner,
            reason,
            reason_code=REVIEWED_BECAUSE[decision],
        )

    return await atomically(info.context.store, work)


async def deactivate(info: Info, service_id: str) -> ServiceDocument:
    """LIVE -> DEACTIVATED ("Off"): it leaves the store and its links say it is unavailable."""

    async def work() -> ServiceDocument:
        service = await _load_own(info, service_id)
        check_transition(service, (ServiceStatus.LIVE,), "deactivate")
        partner = await _partner_of(info, service)
        return await _move(
            info,
            service,
            ServiceStatus.DEACTIVATED,
            "DEACTIVATED",
            partner,
            reason_code=HistoryReasonCode.DEACTIVATED_BY_PARTNER,
        )

    return await atomically(info.context.store, work)


async def _move(
    info: Info,
    service: ServiceDocument,
    status: ServiceStatus,
    action: str,
    partner: PartnerDocument,
    reason: str | None = None,
    *,
    reason_code: HistoryReasonCode,
) -> ServiceDocument:
    now = utc_now()
    changes: dict[str, Any] = {"status": status, "updatedAt": now, "statusReason": reason}
    live = status is ServiceStatus.LIVE
    if live:
        # Listing depends on the partner being active: hold it, so that closing the partner
        # (which unlists its services) and publishing or approving never both commit.
        partner = await info.context.store.hold(c.PARTNERS, service["partnerId"]) or partner
    changes["listed"] = (
        live and service["type"] == ServiceType.PUBLIC and partner["status"] == PartnerStatus.ACTIVE
    )
    if live:
        changes["publishedAt"] = now
        changes["needsReview"] = False
        # The default authorization link is made once and survives Off/On.
        changes["authorizationLinkToken"] = service.get("authorizationLinkToken") or new_token()
    store = info.context.store
    updated = await store.update(
        c.SERVICES, service["_id"], expected_version=service["version"], changes=changes
    )
    if live:
        await ensure_referral_links(store, updated)
    await history.record(
        store,
        subject_id=service["_id"],
        action=action,
        actor=info.context.viewer,
        from_status=service["status"],
        to_status=status,
        reason=reason,
        reason_code=reason_code,
    )
    return updated


class LinkUnavailableReason(StrEnum):
    SERVICE_NOT_LIVE = "SERVICE_NOT_LIVE"
    PARTNER_CLOSED = "PARTNER_CLOSED"


async def by_authorization_link(
    info: Info, token: str
) -> tuple[ServiceDocument, LinkUnavailableReason | None] | None:
    """The service behind a default authorization link, and why it cannot be authorized now
    (``None`` when it can); ``None`` for an unknown token."""
    if not token or len(token) > 200:
        return None
    found = await info.context.store.find(c.SERVICES, {"authorizationLinkToken": token}, limit=1)
    if not found:
        return None
    service = found[0]
    partner = await info.context.loaders.partner_by_id.load(service["partnerId"])
    if partner is None or partner["status"] != PartnerStatus.ACTIVE:
        return service, LinkUnavailableReason.PARTNER_CLOSED
    if service["status"] != ServiceStatus.LIVE:
        return service, LinkUnavailableReason.SERVICE_NOT_LIVE
    return service, None
