"""Reading partners and what they own."""

from __future__ import annotations

from datetime import datetime

from datastore import collections as c
from datastore.codec import Document
from datastore.enums import PartnerStatus, PartnerType, Region, ServiceStatus, ServiceType
from datastore.loaders import NEWEST_FIRST, ListSpec
from datastore.paging import Page, PageResult, find_page
from resolvers.context import Info
from resolvers.moments import check_moment
from resolvers.nodes import check_id, not_found, visible_document
from resolvers.visibility import sees_partner_privately


async def partner_by_id(info: Info, partner_id: str) -> Document:
    """The partner, as the caller may see it; raises NOT_FOUND otherwise."""
    check_id(partner_id, expected="Partner")
    document = await info.context.loaders.partner_by_id.load(partner_id)
    if document is None or not await visible_document(info, "Partner", document):
        raise not_found(partner_id)
    return document


async def list_partners(
    info: Info,
    page: Page,
    status: PartnerStatus | None,
    partner_type: PartnerType | None,
    registration_region: Region | None,
    updated_since: datetime | None = None,
) -> PageResult:
    """Every partner (admins only: the permission is on the field), newest first."""
    conditions = {
        "status": status,
        "type": partner_type,
        "registrationRegion": registration_region,
    }
    filter: dict[str, object] = {
        key: value for key, value in conditions.items() if value is not None
    }
    if updated_since is not None:
        filter["updatedAt"] = {"$gte": check_moment(updated_since, "updatedSince")}
    result = await find_page(info.context.store, c.PARTNERS, filter, NEWEST_FIRST, page)
    for document in result.documents:
        # Services listed under these partners resolve their partner without a round trip.
        info.context.loaders.partner_by_id.prime(document["_id"], document)
    return result


async def services_of_partner(
    info: Info,
    partner_id: str,
    page: Page,
    statuses: list[ServiceStatus] | None,
    service_type: ServiceType | None,
    updated_since: datetime | None = None,
) -> PageResult:
    """The partner's services: every state for the partner itself and admins, otherwise only
    what the store lists (live and public)."""
    wanted_statuses: tuple[str, ...] | None = tuple(s.value for s in statuses) if statuses else None
    wanted_types: tuple[str, ...] | None = (service_type.value,) if service_type else None
    if not sees_partner_privately(info.context.viewer, partner_id):
        live = ServiceStatus.LIVE.value
        wanted_statuses = (live,) if wanted_statuses is None or live in wanted_statuses else ()
        public = ServiceType.PUBLIC.value
        wanted_types = (public,) if wanted_types is None or public in wanted_types else ()
    spec = ListSpec(
        page=page,
        statuses=wanted_statuses,
        types=wanted_types,
        updated_since=check_moment(updated_since, "updatedSince"),
    )
    return await info.context.loaders.services_by_partner.load((partner_id, spec))
