"""Partners: agencies, MCNs/CAPs and affiliate partners."""

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from datastore import collections as c
from datastore.catalog import get_catalog
from datastore.documents import (
    CategoryApplicationDocument,
    PartnerDocument,
    ServiceDocument,
    ServiceOfferDocument,
)
from datastore.loaders import NEWEST_FIRST
from resolvers import account_lists, offers, partner_admin
from resolvers import category_applications as applications
from resolvers import partners as resolve
from resolvers.context import Info
from resolvers.pagination import page_from_args
from resolvers.visibility import sees_partner_privately
from schema import owned_lists
from schema.arguments import UpdatedSince
from schema.category_application import ApplicationStatus, CategoryApplication
from schema.document_reads import (
    document_type,
    from_document,
    key,
    member,
    optional,
    reference,
    stored_resolver,
)
from schema.enums import (
    Market,
    OfferStatus,
    PartnerStatus,
    PartnerType,
    Region,
    ServiceStatus,
    ServiceType,
)
from schema.insights import Insights, partner_insights
from schema.mutations import UserError, run_mutation
from schema.node import Node
from schema.pagination import (
    EMPTY_PAGE,
    After,
    Before,
    Connection,
    DocumentPage,
    First,
    Last,
    connection_from,
    document_page,
    empty_document_page,
)
from schema.permissions import IsAdmin
from schema.roots import mutation_fields, query_fields
from schema.service import Service
from schema.service_category import ServiceCategory
from schema.service_offer import ServiceOffer

if TYPE_CHECKING:
    pass


async def _service_offers(
    document: PartnerDocument,
    info: Info,
    status: Annotated[
        list[OfferStatus] | None,
        strawberry.argument(
            description="Only offers in these states, as read: EXPIRED is an offer still "
            "open when its end date passed, OPEN one that has not reached it."
        ),
    ] = None,
    updated_since: UpdatedSince = None,
    archived: Annotated[
        bool,
        strawberry.argument(
            description="List archived offers (archiveServiceOffer) instead of the others."
        ),
    ] = False,
    first: First = None,
    after: After = None,
    last: Last = None,
    before: Before = None,
) -> DocumentPage[ServiceOfferDocument]:
    if not sees_partner_privately(info.context.viewer, document["_id"]):
        return empty_document_page()
    page = page_from_args(NEWEST_FIRST, first, after, last, before, of=c.SERVICE_OFFERS)
    result = await offers.offers_of_partner(
        info, document["_id"], page, status, updated_since, archived
    )
    return document_page(result, page, NEWEST_FIRST)


async def _services(
    document: PartnerDocument,
    info: Info,
    status: Annotated[
        list[ServiceStatus] | None,
        strawberry.argument(description="Only services in these states."),
    ] = None,
    type: Annotated[
        ServiceType | None, strawberry.argument(description="Only services of this type.")
    ] = None,
    updated_since: UpdatedSince = None,
    first: First = None,
    after: After = None,
    last: Last = None,
    before: Before = None,
) -> DocumentPage[ServiceDocument]:
    # A document read, not a resolver making typed services: a planned query fills each
    # page's answer from the documents, a page at a time (a store page of 50 partners with 15
    # services each otherwise built 750 typed objects in one turn of the event loop).
    page = page_from_args(NEWEST_FIRST, first, after, last, before, of=c.SERVICES)
    result = await resolve.services_of_partner(
        info, document["_id"], page, status, type, updated_since
    )
    return document_page(result, page, NEWEST_FIRST)


@strawberry.type(description="A category and market a partner is approved for.")
class ApprovedCategory:
    category: ServiceCategory = strawberry.field(description="The category.")
    market: Market = strawberry.field(description="The market.")
    approved_at: datetime | None = strawberry.field(description="When it was approved.")

    @classmethod
    def from_document(cls, document: CategoryApplicationDocument) -> "ApprovedCategory":
        row = get_catalog().get(document["categoryId"])
        if row is None:
            raise LookupError(f"application {document['_id']} names an unknown category")
        return cls(
            category=ServiceCategory.from_category(row),
            market=Market(document["market"]),
            approved_at=document.get("reviewedAt"),
        )


@document_type(
    {
        "id": key("_id"),
        "name": key("name"),
        "type": member(PartnerType, "type"),
        "registration_region": member(Region, "registrationRegion"),
        "target_markets": lambda d: [Market(market) for market in d["targetMarkets"]],
        "status": member(PartnerStatus, "status"),
        "contact_email": optional("contactEmail"),
        "description": optional("description"),
        "website": optional("website"),
        "logo_url": optional("logoUrl"),
        "created_at": key("createdAt"),
    }
)
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
    description: str | None = strawberry.field(description="What the company does, for sellers.")
    website: str | None = strawberry.field(description="The company's website.")
    logo_url: str | None = strawberry.field(description="The company's logo.")
    created_at: datetime = strawberry.field(description="When the partner joined.")
    document: strawberry.Private[PartnerDocument]

    @classmethod
    def from_document(cls, document: PartnerDocument) -> "Partner":
        return from_document(cls, document)

    services = strawberry.field(
        resolver=stored_resolver(
            "services",
            _services,
            takes_info=True,
            returns=Connection[Service],
            typed=lambda page: page.map(Service.from_document),
        ),
        description="The partner's services, newest first. The partner and admins see every "
        "state; everyone else sees only live public services.",
    )

    @strawberry.field(
        description="Categories the partner may apply for: its type, registration region and "
        "target markets (the partner and admins; empty for anyone else)."
    )
    def eligible_categories(self, info: Info) -> list[ServiceCategory]:
        if not sees_partner_privately(info.context.viewer, str(self.id)):
            return []
        rows = get_catalog().eligible_for(self.type, self.registration_region, self.target_markets)
        return [ServiceCategory.from_category(row) for row in rows]

    @strawberry.field(
        description="The categories and markets the partner holds approvals for (public: it is "
        "the partner's certification)."
    )
    async def approved_categories(self, info: Info) -> list[ApprovedCategory]:
        documents = await applications.approved_applications(info, str(self.id))
        return [ApprovedCategory.from_document(d) for d in documents]

    @strawberry.field(
        description="The partner's category applications, newest first (the partner and admins; "
        "empty for anyone else)."
    )
    async def category_applications(
        self,
        info: Info,
        status: Annotated[
            list[ApplicationStatus] | None,
            strawberry.argument(description="Only applications in these states."),
        ] = None,
        updated_since: UpdatedSince = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[CategoryApplication]:
        if not sees_partner_privately(info.context.viewer, str(self.id)):
            return Connection(edges=[], page_info=EMPTY_PAGE)
        page = page_from_args(NEWEST_FIRST, first, after, last, before, of=c.CATEGORY_APPLICATIONS)
        result = await applications.applications_of_partner(
            info, str(self.id), page, status, updated_since
        )
        return connection_from(result, page, NEWEST_FIRST, CategoryApplication.from_document)

    authorizations = strawberry.field(
        resolver=owned_lists.authorizations,
        description="Authorizations granted to the partner, newest first (the partner and admins; "
        "empty for anyone else).",
    )

    service_offers = strawberry.field(
        resolver=stored_resolver(
            "service_offers",
            _service_offers,
            takes_info=True,
            returns=Connection[ServiceOffer],
            typed=lambda page: page.map(ServiceOffer.from_document),
        ),
        description='The partner\'s service offers ("My service offers"), newest first (the '
        "partner and admins; empty for anyone else).",
    )

    requests = strawberry.field(
        resolver=owned_lists.requests,
        description="The partner's inbox of seller requests, newest first (the partner and admins; "
        "empty for anyone else).",
    )

    insights: Insights | None = strawberry.field(
        resolver=partner_insights,
        description="What the partner's dashboard draws: offers, link opens, authorizations and "
        "requests per day, week or month in a time zone, with the range's conversion, median "
        "time to acceptance, renewal rate and what expires soon (the partner and admins; "
        "refused with FORBIDDEN for anyone else).",
    )


_PARTNER = reference(lambda loaders: loaders.partner_by_id, "partnerId")


partner_of = stored_resolver("partner", _PARTNER, returns=Partner, typed=Partner.from_document)
"""The ``partner`` of every type whose document names one (attached with
``strawberry.field(resolver=partner_of)``)."""


@query_fields
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
        query: Annotated[
            str | None,
            strawberry.argument(
                description="Whole words, any case, that must all appear in the partner's name "
                "or contact email (at most 200 characters and 10 words, else INVALID_SEARCH)."
            ),
        ] = None,
        status: Annotated[
            PartnerStatus | None, strawberry.argument(description="Only partners in this state.")
        ] = None,
        type: Annotated[
            PartnerType | None, strawberry.argument(description="Only partners of this programme.")
        ] = None,
        registration_region: Annotated[
            Region | None, strawberry.argument(description="Only partners registered here.")
        ] = None,
        updated_since: UpdatedSince = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[Partner] | None:
        page = page_from_args(NEWEST_FIRST, first, after, last, before, of=c.PARTNERS)
        result = await account_lists.list_partners(
            info, page, query, status, type, registration_region, updated_since
        )
        return connection_from(result, page, NEWEST_FIRST, Partner.from_document)


strawberry.enum(partner_admin.PartnerErrorCode, description="Why a change was refused.")
PartnerErrorCode = partner_admin.PartnerErrorCode


@strawberry.type(description="A broken rule in a partner change.")
class PartnerUserError(UserError):
    code: PartnerErrorCode = strawberry.field(description="The rule, as a code.")
    code_enum = partner_admin.PartnerErrorCode


@strawberry.type(description="Result of closePartner.")
class ClosePartnerPayload:
    partner: Partner | None = strawberry.field(default=None, description="The closed partner.")
    user_errors: list[PartnerUserError] = strawberry.field(
        default_factory=list, description="What was wrong with the input; empty on success."
    )


@strawberry.input(description="Which partner to close, and why.")
class ClosePartnerInput:
    id: strawberry.ID = strawberry.field(description="The Partner id.")
    reason: str = strawberry.field(description="The policy violation (at most 1000 characters).")


@mutation_fields
@strawberry.type
class PartnerMutation:
    @strawberry.mutation(
        description="Close a partner for violating platform policy (admins): its services leave "
        "the store and cannot be published, and its active authorizations and requests end. "
        "Called again for a partner whose close was cut off midway, it completes that close.",
        permission_classes=[IsAdmin],
    )
    async def close_partner(
        self,
        info: Info,
        input: Annotated[ClosePartnerInput, strawberry.argument(description="The partner.")],
    ) -> ClosePartnerPayload | None:
        async def work() -> dict[str, Any]:
            document = await partner_admin.close(info, str(input.id), input.reason)
            return {"partner": Partner.from_document(document)}

        return await run_mutation(info, ClosePartnerPayload, PartnerUserError, work)
