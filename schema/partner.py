"""Partners: agencies, MCNs/CAPs and affiliate partners."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from datastore.codec import Document
from datastore.loaders import NEWEST_FIRST
from resolvers import partners as resolve
from resolvers.context import Info
from resolvers.pagination import page_from_args
from schema.enums import (
    Market,
    PartnerStatus,
    PartnerType,
    Region,
    ServiceStatus,
    ServiceType,
)
from schema.node import Node
from schema.pagination import After, Before, Connection, First, Last, connection_from
from schema.permissions import IsAdmin
from schema.service import Service


@strawberry.type(description="A partner organisation: a TSP, an MCN/CAP or an affiliate partner.")
class Partner(Node):
    name: str = strawberry.field(description="The partner's public name.")
    type: PartnerType = strawberry.field(description="The partner programme.")
    registration_region: Region = strawberry.field(description="Where the partner is registered.")
    target_markets: list[Market] = strawberry.field(description="The markets the partner serves.")
    status: PartnerStatus = strawberry.field(description="ACTIVE, or CLOSED by an admin.")
    contact_email: str | None = strawberry.field(
        description="Public contact email (what sellers without a shop account can use)."
    )
    created_at: datetime = strawberry.field(description="When the partner joined.")

    @classmethod
    def from_document(cls, document: Document) -> Partner:
        return cls(
            id=strawberry.ID(document["_id"]),
            name=document["name"],
            type=document["type"],
            registration_region=document["registrationRegion"],
            target_markets=list(document["targetMarkets"]),
            status=document["status"],
            contact_email=document.get("contactEmail"),
            created_at=document["createdAt"],
        )

    @strawberry.field(
        description="The partner's services, newest first. The partner and admins see every "
        "state; everyone else sees only live public services."
    )
    async def services(
        self,
        info: Info,
        status: Annotated[
            list[ServiceStatus] | None,
            strawberry.argument(description="Only services in these states."),
        ] = None,
        type: Annotated[
            ServiceType | None, strawberry.argument(description="Only services of this type.")
        ] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[Service]:
        page = page_from_args(NEWEST_FIRST, first, after, last, before)
        result = await resolve.services_of_partner(info, str(self.id), page, status, type)
        return connection_from(result, page, NEWEST_FIRST, Service.from_document)


@strawberry.type
class PartnerQuery:
    @strawberry.field(
        description="A partner by id; null (NOT_FOUND) if it does not exist or "
        "is closed and not yours."
    )
    async def partner(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="A Partner id.")],
    ) -> Partner | None:
        return Partner.from_document(await resolve.partner_by_id(info, str(id)))

    @strawberry.field(
        description="Every partner, newest first (admins only).", permission_classes=[IsAdmin]
    )
    async def partners(
        self,
        info: Info,
        status: Annotated[
            PartnerStatus | None, strawberry.argument(description="Only partners in this state.")
        ] = None,
        type: Annotated[
            PartnerType | None, strawberry.argument(description="Only partners of this programme.")
        ] = None,
        registration_region: Annotated[
            Region | None, strawberry.argument(description="Only partners registered here.")
        ] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[Partner]:
        page = page_from_args(NEWEST_FIRST, first, after, last, before)
        result = await resolve.list_partners(info, page, status, type, registration_region)
        return connection_from(result, page, NEWEST_FIRST, Partner.from_document)
