"""Category applications: a partner applies for a category and market; an admin reviews."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from datastore import collections as c
from datastore.catalog import ServiceCategory, get_catalog
from datastore.codec import utc_now
from datastore.documents import CategoryApplicationDocument, PartnerDocument
from datastore.enums import HistoryReasonCode, Market, PartnerStatus
from datastore.ids import new_id
from datastore.loaders import NEWEST_FIRST, ListSpec
from datastore.paging import Page, PageResult
from datastore.store import DuplicateKeyError
from resolvers import history, idempotency
from resolvers.context import Info
from resolvers.errors import unknown_account
from resolvers.moments import check_moment
from resolvers.validation import Checks, fail
from resolvers.writes import atomically


class ApplicationStatus(StrEnum):
    REVIEWING = "REVIEWING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    WITHDRAWN = "WITHDRAWN"


class ReviewDecision(StrEnum):
    APPROVE = "APPROVE"
    REJECT = "REJECT"


REVIEWED_BECAUSE = {
    ReviewDecision.APPROVE: HistoryReasonCode.APPROVED_BY_ADMIN,
    ReviewDecision.REJECT: HistoryReasonCode.REJECTED_BY_ADMIN,
}
"""The reason code of an admin's review (of a category application or a public service)."""


class CategoryApplicationErrorCode(StrEnum):
    NOT_FOUND = "NOT_FOUND"
    CATEGORY_NOT_ELIGIBLE = "CATEGORY_NOT_ELIGIBLE"
    MARKET_NOT_ELIGIBLE = "MARKET_NOT_ELIGIBLE"
    ALREADY_APPROVED = "ALREADY_APPROVED"
    PARTNER_CLOSED = "PARTNER_CLOSED"
    NOT_REVIEWING = "NOT_REVIEWING"
    REASON_REQUIRED = "REASON_REQUIRED"
    INVALID = "INVALID"
    TOO_LONG = "TOO_LONG"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"


Code = CategoryApplicationErrorCode
MAX_REASON = 1000


async def current_partner(info: Info, code: StrEnum) -> PartnerDocument:
    """The calling partner's document; a closed partner may not change anything."""
    partner_id = info.context.viewer.partner_id
    partner = await info.context.loaders.partner_by_id.load(partner_id) if partner_id else None
    if partner is None:
        raise unknown_account("partner")
    if partner["status"] != PartnerStatus.ACTIVE:
        raise fail(["partner"], "your partner account is closed", code)
    return partner


async def held_active_partner(info: Info, code: StrEnum) -> PartnerDocument:
    """The calling partner's document, held by the running transaction (call it inside one):
    an unknown or closed partner starts nothing, even while its closing commits."""
    partner_id = info.context.viewer.partner_id
    partner = await info.context.store.hold(c.PARTNERS, partner_id) if partner_id else None
    if partner is None:
        raise unknown_account("partner")
    if partner["status"] != PartnerStatus.ACTIVE:
        raise fail(["partner"], "your partner account is closed", code)
    return partner


def check_eligible(
    partner: PartnerDocument, category: ServiceCategory | None, market: Market, field: str
) -> ServiceCategory:
    """The category if the partner's type, region and target markets allow it in ``market``."""
    if category is None:
        raise fail([field], "no service category with this id", Code.NOT_FOUND)
    if (
        category.partner_type != partner["type"]
        or category.registration_region != partner["registrationRegion"]
    ):
        raise fail(
            [field],
            "this category is not offered to your partner type and registration region",
            Code.CATEGORY_NOT_ELIGIBLE,
        )
    if market not in category.target_markets or market not in partner["targetMarkets"]:
        raise fail(
            ["market"],
            f"{market.value} is not a target market of both you and this category",
            Code.MARKET_NOT_ELIGIBLE,
        )
    return category


async def apply(
    info: Info, category_id: str, market: Market, idempotency_key: str | None = None
) -> CategoryApplicationDocument:
    """Apply for ``category_id`` in ``market``; an open application for the same pair is
    returned as it is, so applying twice creates nothing, and a repeated idempotency key
    returns the first application whatever happened to it since."""
    store = info.context.store
    partner = await current_partner(info, Code.PARTNER_CLOSED)
    checks = Checks()
    ticket = idempotency.claim(
        checks,
        partner["_id"],
        "applyForServiceCategory",
        idempotency_key,
        {"categoryId": category_id, "market": market},
    )
    checks.raise_if_any()

    async def replay(ids: list[str]) -> CategoryApplicationDocument:
        return (await store.get_many(c.CATEGORY_APPLICATIONS, ids))[ids[0]]

    if ticket is not None and (ids := await idempotency.earlier(store, ticket)) is not None:
        return await replay(ids)
    check_eligible(partner, get_catalog().get(category_id), market, "categoryId")
    open_key = f"{partner['_id']}|{category_id}|{market.value}"

    async def work() -> CategoryApplicationDocument:
        same = await store.find(
            c.CATEGORY_APPLICATIONS,
            {"partnerId": partner["_id"], "categoryId": category_id, "market": market},
            sort=NEWEST_FIRST,
        )
        if any(a["status"] == ApplicationStatus.APPROVED for a in same):
            raise fail(["categoryId"], "you already hold this category", Code.ALREADY_APPROVED)
        reviewing = [a for a in same if a["status"] == ApplicationStatus.REVIEWING]
        if reviewing:
            return reviewing[0]
        now = utc_now()
        application = await store.insert(
            c.CATEGORY_APPLICATIONS,
            {
                "_id": new_id("cap"),
                "partnerId": partner["_id"],
                "categoryId": category_id,
                "market": market,
                "status": ApplicationStatus.REVIEWING,
                "openKey": open_key,
                "createdAt": now,
                "updatedAt": now,
            },
        )
        await history.record(
            store,
            subject_id=application["_id"],
            action="APPLIED",
            actor=info.context.viewer,
            to_status=ApplicationStatus.REVIEWING,
        )
        return application

    try:
        return await idempotency.once(
            store, ticket, work, ids_of=lambda application: [application["_id"]], replay=replay
        )
    except DuplicateKeyError as error:
        if error.collection != c.CATEGORY_APPLICATIONS:
            raise
        # A concurrent apply won the race on the open-application key: return its result.
        found = await store.find(c.CATEGORY_APPLICATIONS, {"openKey": open_key}, limit=1)
        return found[0]


async def review(
    info: Info, application_id: str, decision: ReviewDecision, reason: str | None
) -> CategoryApplicationDocument:
    """Approve or reject an application under review (admins)."""
    store = info.context.store
    checks = Checks()
    checks.text(["reason"], reason, max_length=MAX_REASON, too_long=Code.TOO_LONG)
    reason = reason.strip() if reason else None
    if decision is ReviewDecision.REJECT and not reason:
        checks.add(
            ["reason"], "a rejection needs a reason the partner can act on", Code.REASON_REQUIRED
        )
    checks.raise_if_any()

    async def work() -> CategoryApplicationDocument:
        found = await store.get_many(c.CATEGORY_APPLICATIONS, [application_id])
        application = found.get(application_id)
        if application is None:
            raise fail(["id"], "no category application with this id", Code.NOT_FOUND)
        if application["status"] != ApplicationStatus.REVIEWING:
            raise fail(
                ["id"],
                f"the application is {application['status']}, not under review",
                Code.NOT_REVIEWING,
            )
        status = (
            ApplicationStatus.APPROVED
            if decision is ReviewDecision.APPROVE
            else ApplicationStatus.REJECTED
        )
        updated = await store.update(
            c.CATEGORY_APPLICATIONS,
            application_id,
            expected_version=application["version"],
            changes={
                "status": status,
                "reason": reason,
                "openKey": None,
                "updatedAt": utc_now(),
                "reviewedAt": utc_now(),
            },
        )
        await history.record(
            store,
            subject_id=application_id,
            action=status.value,
            actor=info.context.viewer,
            from_status=application["status"],
            to_status=status,
            reason=reason,
            reason_code=REVIEWED_BECAUSE[decision],
        )
        return updated

    return await atomically(store, work)


async def applications_of_partner(
    info: Info,
    partner_id: str,
    page: Page,
    statuses: list[ApplicationStatus] | None,
    updated_since: datetime | None = None,
) -> PageResult[CategoryApplicationDocument]:
    spec = ListSpec(
        page=page,
        statuses=tuple(s.value for s in statuses) if statuses else None,
        updated_since=check_moment(updated_since, "updatedSince"),
    )
    return await info.context.loaders.category_applications_by_partner.load((partner_id, spec))


async def approved_applications(info: Info, partner_id: str) -> list[CategoryApplicationDocument]:
    """Every approved application of a partner (bounded by the catalog's size)."""
    return await info.context.store.find(
        c.CATEGORY_APPLICATIONS,
        {"partnerId": partner_id, "status": ApplicationStatus.APPROVED},
        sort=NEWEST_FIRST,
    )
