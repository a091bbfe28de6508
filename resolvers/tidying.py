"""A partner tidying its own work: withdrawing an application still under review, deleting a
service that never went anywhere, archiving offers that ended."""

from __future__ import annotations

from datastore import collections as c
from datastore.codec import utc_now
from datastore.documents import CategoryApplicationDocument, ServiceDocument, ServiceOfferDocument
from datastore.enums import HistoryReasonCode, OfferStatus, ServiceStatus
from datastore.ids import type_of
from resolvers import history
from resolvers.category_applications import ApplicationStatus, CategoryApplicationErrorCode
from resolvers.category_applications import current_partner as _current_partner
from resolvers.context import Info
from resolvers.offers import ServiceOfferErrorCode, effective_offer_status
from resolvers.service_rules import ServiceErrorCode
from resolvers.validation import fail
from resolvers.visibility import sees_partner_privately
from resolvers.writes import atomically

DELETABLE = (ServiceStatus.DRAFT, ServiceStatus.REJECTED)
ARCHIVABLE = (OfferStatus.WITHDRAWN, OfferStatus.EXPIRED)


async def withdraw_application(info: Info, application_id: str) -> CategoryApplicationDocument:
    """REVIEWING -> WITHDRAWN: the partner no longer wants the category; it may apply again."""
    Code = CategoryApplicationErrorCode
    store = info.context.store
    await _current_partner(info, Code.PARTNER_CLOSED)

    async def work() -> CategoryApplicationDocument:
        found = await store.get_many(c.CATEGORY_APPLICATIONS, [application_id])
        application = found.get(application_id)
        if application is None or not sees_partner_privately(
            info.context.viewer, application["partnerId"]
        ):
            raise fail(["id"], "no category application with this id", Code.NOT_FOUND)
        if application["status"] != ApplicationStatus.REVIEWING:
            raise fail(
                ["id"],
                f"the application is {application['status']}: only one under review can be "
                "withdrawn",
                Code.NOT_REVIEWING,
            )
        now = utc_now()
        updated = await store.update(
            c.CATEGORY_APPLICATIONS,
            application_id,
            expected_version=application["version"],
            # Clearing openKey lets the partner apply for the same category and market again.
            changes={"status": ApplicationStatus.WITHDRAWN, "openKey": None, "updatedAt": now},
        )
        await history.record(
            store,
            subject_id=application_id,
            action="WITHDRAWN",
            actor=info.context.viewer,
            from_status=ApplicationStatus.REVIEWING,
            to_status=ApplicationStatus.WITHDRAWN,
            reason_code=HistoryReasonCode.WITHDRAWN_BY_PARTNER,
        )
        return updated

    return await atomically(store, work)


async def delete_service(info: Info, service_id: str) -> ServiceDocument:
    """Delete a DRAFT or REJECTED service of the caller that nothing references (no offer,
    authorization or referral link names it). Returns the service as it was.

    The delete writes the service, so a concurrent publish (which writes it too) conflicts
    with it; offers and authorizations need a LIVE service, which a deletable one is not.
    """
    Code = ServiceErrorCode
    store = info.context.store
    if type_of(service_id) != "Service":
        raise fail(["id"], "no service with this id", Code.NOT_FOUND)
    partner = await _current_partner(info, Code.PARTNER_CLOSED)

    async def work() -> ServiceDocument:
        service = (await store.get_many(c.SERVICES, [service_id])).get(service_id)
        if service is None or not sees_partner_privately(info.context.viewer, service["partnerId"]):
            raise fail(["id"], "no service with this id", Code.NOT_FOUND)
        if service["status"] not in DELETABLE:
            raise fail(
                ["id"],
                f"the service is {service['status']}: only DRAFT or REJECTED services can be "
                "deleted (deactivate a live one instead)",
                Code.INVALID_TRANSITION,
            )
        for collection, filter in (
            (
                c.SERVICE_OFFERS,
                {"partnerId": partner["_id"], "serviceIds": {"$contains": service_id}},
            ),
            (c.AUTHORIZATIONS, {"partnerId": partner["_id"], "serviceId": service_id}),
            (c.REFERRAL_LINKS, {"serviceId": service_id}),
        ):
            if await store.find(collection, filter, limit=1):
                raise fail(
                    ["id"],
                    "the service is referenced by offers, authorizations or referral links",
                    Code.SERVICE_REFERENCED,
                )
        await store.delete(c.SERVICES, service_id, expected_version=service["version"])
        # A retried createService with the first key would replay a service that is gone;
        # dropping its claim makes that retry create a new one instead.
        claims = await store.find(
            c.IDEMPOTENCY,
            {"ownerId": partner["_id"], "resultIds": {"$contains": service_id}},
        )
        for claim in claims:
            await store.delete(c.IDEMPOTENCY, claim["_id"], expected_version=claim["version"])
        return service

    return await atomically(store, work)


async def archive_offer(info: Info, offer_id: str) -> ServiceOfferDocument:
    """Hide a WITHDRAWN or EXPIRED offer from the partner's default list of offers (its link
    still says what became of it)."""
    Code = ServiceOfferErrorCode
    store = info.context.store
    if type_of(offer_id) != "ServiceOffer":
        raise fail(["id"], "no service offer with this id", Code.NOT_FOUND)
    await _current_partner(info, Code.PARTNER_CLOSED)

    async def work() -> ServiceOfferDocument:
        offer = (await store.get_many(c.SERVICE_OFFERS, [offer_id])).get(offer_id)
        if offer is None or not sees_partner_privately(info.context.viewer, offer["partnerId"]):
            raise fail(["id"], "no service offer with this id", Code.NOT_FOUND)
        if offer.get("archivedAt") is not None:
            return offer
        status = effective_offer_status(offer, utc_now())
        if status not in ARCHIVABLE:
            raise fail(
                ["id"],
                f"the offer is {status.value}: only WITHDRAWN or EXPIRED offers can be archived",
                Code.NOT_ENDED,
            )
        now = utc_now()
        return await store.update(
            c.SERVICE_OFFERS,
            offer_id,
            expected_version=offer["version"],
            changes={"archivedAt": now, "updatedAt": now},
        )

    return await atomically(store, work)
