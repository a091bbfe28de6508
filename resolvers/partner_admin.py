"""Admin actions on partners."""

from __future__ import annotations

from enum import StrEnum

from datastore import collections as c
from datastore.codec import utc_now
from datastore.documents import PartnerDocument
from datastore.enums import (
    AuthorizationStatus,
    HistoryReasonCode,
    PartnerStatus,
    ServiceStatus,
    ServiceType,
)
from resolvers import history, partner_closing
from resolvers.context import Info
from resolvers.validation import Checks, fail
from resolvers.writes import atomically


class PartnerErrorCode(StrEnum):
    NOT_FOUND = "NOT_FOUND"
    ALREADY_CLOSED = "ALREADY_CLOSED"
    REASON_REQUIRED = "REASON_REQUIRED"
    TOO_LONG = "TOO_LONG"
    NOT_CLOSED = "NOT_CLOSED"


Code = PartnerErrorCode
MAX_REASON = 1000


async def close(info: Info, partner_id: str, reason: str) -> PartnerDocument:
    """Close a partner for violating policy: at once it can start nothing new and grants no
    access; then its services leave the store and its active authorizations and requests end,
    in batches (see :mod:`resolvers.partner_closing`). Called again for a partner whose close
    was interrupted, it completes that close."""
    store = info.context.store
    checks = Checks()
    checks.text(
        ["reason"],
        reason,
        max_length=MAX_REASON,
        too_long=Code.TOO_LONG,
        missing=Code.REASON_REQUIRED,
    )
    checks.raise_if_any()

    async def work() -> PartnerDocument:
        partner = (await store.get_many(c.PARTNERS, [partner_id])).get(partner_id)
        if partner is None:
            raise fail(["id"], "no partner with this id", Code.NOT_FOUND)
        if partner["status"] == PartnerStatus.CLOSED:
            if partner.get("closing"):
                return partner  # an interrupted close: finished below
            raise fail(["id"], "the partner is already closed", Code.ALREADY_CLOSED)
        now = utc_now()
        ending = await store.count(
            c.AUTHORIZATIONS, {"partnerId": partner_id, "status": AuthorizationStatus.ACTIVE}
        )
        closed = await store.update(
            c.PARTNERS,
            partner_id,
            expected_version=partner["version"],
            changes={
                "status": PartnerStatus.CLOSED,
                "closing": True,
                "closedAt": now,
                "closedReason": reason.strip(),
                "updatedAt": now,
            },
        )
        await history.record(
            store,
            subject_id=partner_id,
            action="CLOSED",
            actor=info.context.viewer,
            from_status=PartnerStatus.ACTIVE,
            to_status=PartnerStatus.CLOSED,
            reason_code=HistoryReasonCode.PARTNER_REMOVED,
            reason=reason.strip(),
            changes={"authorizationsClosed": {"from": 0, "to": ending}},
        )
        return closed

    closed = await atomically(store, work)
    await partner_closing.finish(info.context, partner_id)
    return (await store.get_many(c.PARTNERS, [partner_id])).get(partner_id, closed)


async def reopen(info: Info, partner_id: str, reason: str) -> PartnerDocument:
    """Reopen a partner closed by mistake: ACTIVE again, its live public services back in the
    store. What closing ended stays ended: authorizations are CLOSED for good and closed
    requests stay closed; sellers authorize again if they want the partner back."""
    store = info.context.store
    checks = Checks()
    checks.text(
        ["reason"],
        reason,
        max_length=MAX_REASON,
        too_long=Code.TOO_LONG,
        missing=Code.REASON_REQUIRED,
    )
    checks.raise_if_any()
    # A close that was interrupted completes first: what closing ends stays ended.
    await partner_closing.finish(info.context, partner_id)

    async def work() -> PartnerDocument:
        partner = (await store.get_many(c.PARTNERS, [partner_id])).get(partner_id)
        if partner is None:
            raise fail(["id"], "no partner with this id", Code.NOT_FOUND)
        if partner["status"] != PartnerStatus.CLOSED:
            raise fail(["id"], "the partner is not closed", Code.NOT_CLOSED)
        now = utc_now()
        reopened = await store.update(
            c.PARTNERS,
            partner_id,
            expected_version=partner["version"],
            changes={"status": PartnerStatus.ACTIVE, "reopenedAt": now, "updatedAt": now},
        )
        live_public = {
            "partnerId": partner_id,
            "status": ServiceStatus.LIVE,
            "type": ServiceType.PUBLIC,
        }
        for service in await store.find(c.SERVICES, live_public):
            await store.update(
                c.SERVICES,
                service["_id"],
                expected_version=service["version"],
                changes={"listed": True, "updatedAt": now},
            )
        await history.record(
            store,
            subject_id=partner_id,
            action="REOPENED",
            actor=info.context.viewer,
            from_status=PartnerStatus.CLOSED,
            to_status=PartnerStatus.ACTIVE,
            reason_code=HistoryReasonCode.REOPENED_BY_ADMIN,
            reason=reason.strip(),
        )
        return reopened

    return await atomically(store, work)
