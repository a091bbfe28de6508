"""Reading partners and what they own."""

from __future__ import annotations

from datetime import datetime

from datastore.documents import PartnerDocument, ServiceDocument
from datastore.enums import ServiceStatus, ServiceType
from datastore.loaders import ListSpec
from datastore.paging import Page, PageResult
from resolvers.context import Info
from resolvers.moments import check_moment
from resolvers.nodes import check_id, not_found, visible_document
from resolvers.visibility import sees_partner_privately


async def partner_by_id(info: Info, partner_id: str) -> PartnerDocument:
    """The partner, as the caller may see it; raises NOT_FOUND otherwise."""
    check_id(partner_id, expected="Partner")
    document = await info.context.loaders.partner_by_id.load(partner_id)
    if document is None or not await visible_document(info, "Partner", document):
        raise not_found(partner_id)
    return document


async def services_of_partner(
    info: Info,
    partner_id: str,
    page: Page,
    statuses: list[ServiceStatus] | None,
    service_type: ServiceType | None,
    updated_since: datetime | None = None,
) -> PageResult[ServiceDocument]:
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
