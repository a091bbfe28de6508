"""Services a partner publishes."""

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from datastore.catalog import get_catalog
from datastore.documents import ServiceDocument
from datastore.loaders import load_required
from resolvers.context import Context, Info
from resolvers.links import service_authorization_url
from resolvers.referrals import referral_links_for
from resolvers.visibility import sees_partner_privately
from schema.document_reads import (
    document_type,
    from_document,
    key,
    member,
    optional,
    stored_resolver,
)
from schema.enums import Market, ServiceStatus, ServiceType
from schema.history import HistoryEntry, history
from schema.node import Node
from schema.pagination import Connection
from schema.referral import ReferralLink
from schema.service_category import ServiceCategory

if TYPE_CHECKING:
    from schema.partner import Partner


def _category(document: ServiceDocument, context: Context) -> ServiceCategory:
    row = get_catalog().get(document["categoryId"])
    if row is None:
        raise LookupError(
            f"service {document['_id']} names unknown category {document['categoryId']}"
        )
    return ServiceCategory.from_category(row)


@document_type(
    {
        "id": key("_id"),
        "name": key("name"),
        "type": member(ServiceType, "type"),
        "status": member(ServiceStatus, "status"),
        "market": member(Market, "market"),
        "description": optional("description"),
        "highlights": lambda d: list(d.get("highlights", [])),
        "pricing": optional("pricing"),
        "contact_email": optional("contactEmail"),
        "created_at": key("createdAt"),
        "updated_at": lambda d: d.get("updatedAt") or d["createdAt"],
        "status_reason": optional("statusReason"),
        "published_at": optional("publishedAt"),
        "category_id": key("categoryId"),
        "partner_id": key("partnerId"),
        "link_token": optional("authorizationLinkToken"),
    }
)
@strawberry.type(description="A service a partner offers sellers under one approved category.")
class Service(Node):
    name: str = strawberry.field(description="The service's name.")
    type: ServiceType = strawberry.field(description="PUBLIC (store-listed) or CUSTOM (by link).")
    status: ServiceStatus = strawberry.field(description="Where the service is in its life.")
    market: Market = strawberry.field(description="The market the service targets.")
    description: str | None = strawberry.field(description="What the service does.")
    highlights: list[str] = strawberry.field(description="Selling points shown on the listing.")
    pricing: str | None = strawberry.field(description="How the service is priced, as text.")
    contact_email: str | None = strawberry.field(description="Whom sellers contact about it.")
    created_at: datetime = strawberry.field(description="When the service was created.")
    updated_at: datetime = strawberry.field(description="When the service last changed.")
    status_reason: str | None = strawberry.field(
        description="Why it is in its status, e.g. the reviewer's reason for a rejection."
    )
    published_at: datetime | None = strawberry.field(description="When it last went live.")
    category_id: strawberry.Private[str]
    partner_id: strawberry.Private[str]
    link_token: strawberry.Private[str | None]
    document: strawberry.Private[ServiceDocument]

    @classmethod
    def from_document(cls, document: ServiceDocument) -> "Service":
        return from_document(cls, document)

    @strawberry.field(
        description="Token of the default authorization link, made when the service first goes "
        "live (only the partner and admins see it; share it with sellers)."
    )
    def authorization_link_token(self, info: Info) -> str | None:
        return (
            self.link_token
            if sees_partner_privately(info.context.viewer, self.partner_id)
            else None
        )

    @strawberry.field(
        description="The default authorization link as an absolute URL (this gateway's "
        "`/authorize/service/<token>`); null for whoever does not see the token, and before "
        "the service first goes live."
    )
    def authorization_url(self, info: Info) -> str | None:
        if self.link_token is None or not sees_partner_privately(
            info.context.viewer, self.partner_id
        ):
            return None
        return service_authorization_url(info.context.base_url, self.link_token)

    history: Connection[HistoryEntry] = strawberry.field(
        resolver=history,
        description="Every change of the service, newest first (partner and admins).",
    )

    category = strawberry.field(
        resolver=stored_resolver("category", _category, returns=ServiceCategory),
        description="The service category it is published under.",
    )

    @strawberry.field(description="The partner offering the service.")
    async def partner(self, info: Info) -> Annotated["Partner", strawberry.lazy("schema.partner")]:
        from schema.partner import Partner

        return Partner.from_document(
            await load_required(info.context.loaders.partner_by_id, self.partner_id)
        )

    @strawberry.field(
        description="The Shop Registration referral links, LOCAL then CROSS_BORDER: generated "
        "when the service is first published and unchanged when it is deactivated and "
        "published again. Only the owning partner and admins see them; anyone else gets an "
        "empty list, as does a service outside the Shop Registration category."
    )
    async def referral_links(self, info: Info) -> list[ReferralLink]:
        links = await referral_links_for(info, str(self.id), self.partner_id, self.category_id)
        return [ReferralLink.from_document(link) for link in links]
