"""Service offers: services, dates, settings and contact a partner prefills for a seller."""

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from datastore.documents import ServiceDocument, ServiceOfferDocument
from datastore.loaders import load_required
from resolvers import offers as resolve
from resolvers.context import Context, Info
from resolvers.links import offer_authorization_url
from resolvers.offer_dates import first_day, last_day
from resolvers.visibility import sees_offer_privately, sees_partner_privately
from schema import owned_lists
from schema.authorization_settings import AuthorizationSettings, SellerContact
from schema.document_reads import (
    Loads,
    document_type,
    from_document,
    key,
    optional,
    stored_resolver,
)
from schema.enums import OfferStatus
from schema.history import HistoryEntry, history
from schema.node import Node
from schema.pagination import Connection
from schema.service import Service

if TYPE_CHECKING:
    from schema.partner import Partner


def _status(document: ServiceOfferDocument, context: Context) -> OfferStatus:
    return resolve.effective_offer_status(document, context.now)


def _services(
    loaded: list[ServiceDocument | None], document: ServiceOfferDocument, context: Context
) -> list[ServiceDocument]:
    # The offer's link grants reading its services whatever their state, so no store
    # visibility rule applies here (their private fields guard themselves).
    for service_id, service in zip(document["serviceIds"], loaded, strict=True):
        if service is None:
            raise LookupError(f"offer {document['_id']} names unknown service {service_id}")
    return [service for service in loaded if service is not None]


_SERVICES = Loads(
    lambda loaders: loaders.service_by_id,
    lambda document, context: document["serviceIds"],
    _services,
)


@document_type(
    {
        "id": key("_id"),
        "start_date": lambda d: first_day(d["startsAt"]),
        "end_date": lambda d: last_day(d["endsAt"]),
        "settings": lambda d: AuthorizationSettings.from_document(d["settings"]),
        "created_at": key("createdAt"),
        "accepted_at": optional("acceptedAt"),
        "withdrawn_at": optional("withdrawnAt"),
        "archived_at": optional("archivedAt"),
        "partner_id": key("partnerId"),
    }
)
@strawberry.type(
    description="Services, dates, authorization settings and contact a partner offers a seller, "
    "shared as a link: anyone holding its token may read it; it is listed and reachable "
    "by id only for its partner and admins."
)
class ServiceOffer(Node):
    start_date: date = strawberry.field(description="First day of the service (UTC).")
    end_date: date = strawberry.field(description="Last day of the service (UTC), inclusive.")
    settings: AuthorizationSettings = strawberry.field(
        description="The authorization settings offered, exactly as the partner set them."
    )
    created_at: datetime = strawberry.field(description="When the partner created the offer.")
    accepted_at: datetime | None = strawberry.field(description="When a seller accepted it.")
    withdrawn_at: datetime | None = strawberry.field(description="When the partner withdrew it.")
    archived_at: datetime | None = strawberry.field(
        description="When the partner archived it (hidden from its default list of offers)."
    )
    partner_id: strawberry.Private[str]
    # The stored offer: status and acceptability are derived from it when they are read.
    document: strawberry.Private[ServiceOfferDocument]

    @classmethod
    def from_document(cls, document: ServiceOfferDocument) -> "ServiceOffer":
        return from_document(cls, document)

    @strawberry.field(
        description="The seller contact the partner filled in; null when left to the seller. "
        "On an offer made for one seller, only that seller, the partner and admins see it."
    )
    def contact(self, info: Info) -> SellerContact | None:
        if not sees_offer_privately(info.context.viewer, self.document):
            return None
        return SellerContact.from_document(self.document.get("contact"))

    @strawberry.field(
        description="The Seller the offer was made for (only that seller can accept it); null "
        "for an offer to whoever holds the link, and for callers other than that seller, the "
        "partner and admins."
    )
    def seller_id(self, info: Info) -> strawberry.ID | None:
        seller_id = self.document.get("sellerId")
        if seller_id is None or not sees_offer_privately(info.context.viewer, self.document):
            return None
        return strawberry.ID(seller_id)

    status = strawberry.field(
        resolver=stored_resolver("status", _status, returns=OfferStatus),
        description="OPEN, ACCEPTED, WITHDRAWN, or EXPIRED once the end date has passed while "
        "it was still open.",
    )

    @strawberry.field(
        description="Whether a seller can accept it now in one click: it is OPEN, its end date "
        "has not passed, its partner is active and every service is live. Once the start date "
        "has passed, accepting starts the authorization today. False for a signed-in seller "
        "when the offer was made for another seller."
    )
    async def can_be_accepted(self, info: Info) -> bool:
        viewer = info.context.viewer
        if viewer.seller_id is not None and resolve.is_for_another_seller(
            self.document, viewer.seller_id
        ):
            return False
        partner = await info.context.loaders.partner_by_id.load(self.partner_id)
        services = await info.context.loaders.service_by_id.load_many(
            list(self.document["serviceIds"])
        )
        return resolve.can_be_accepted(self.document, partner, services, info.context.now)

    services = strawberry.field(
        resolver=stored_resolver(
            "services",
            _SERVICES,
            returns=list[Service],
            typed=lambda documents: [Service.from_document(d) for d in documents],
        ),
        description="The offered services, in the order the partner chose.",
    )

    @strawberry.field(description="The partner making the offer.")
    async def partner(self, info: Info) -> Annotated["Partner", strawberry.lazy("schema.partner")]:
        from schema.partner import Partner

        return Partner.from_document(
            await load_required(info.context.loaders.partner_by_id, self.partner_id)
        )

    @strawberry.field(
        description="Token of the offer's link, to share with a seller (only the partner and "
        "admins see it; null for everyone else)."
    )
    def link_token(self, info: Info) -> str | None:
        if not sees_partner_privately(info.context.viewer, self.partner_id):
            return None
        return str(self.document["linkToken"])

    @strawberry.field(
        description="The offer's link as an absolute URL (this gateway's `/authorize/<token>`, "
        "the seller's authorization page); null for whoever does not see the token."
    )
    def authorization_url(self, info: Info) -> str | None:
        if not sees_partner_privately(info.context.viewer, self.partner_id):
            return None
        return offer_authorization_url(info.context.base_url, str(self.document["linkToken"]))

    history: Connection[HistoryEntry] = strawberry.field(
        resolver=history,
        description="Every change of the offer, newest first (the partner, the seller it was "
        "made for, and admins; empty for anyone else).",
    )

    authorizations = strawberry.field(
        resolver=owned_lists.authorizations,
        description="The authorizations the accepting seller granted through this offer, newest "
        "first (the partner and admins; empty for anyone else).",
    )
