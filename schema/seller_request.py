"""Seller requests to partners: the request form, the partner's inbox, "My requests"."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import strawberry

from datastore import collections as c
from datastore.documents import RequestDocument
from datastore.enums import RequestStatus as _RequestStatus
from datastore.loaders import NEWEST_FIRST, ListSpec
from datastore.paging import PageResult, find_page
from resolvers import requests as resolve
from resolvers.context import Info
from resolvers.moments import check_moment
from resolvers.nodes import check_id
from resolvers.pagination import page_from_args
from resolvers.visibility import own_lists_owner
from schema.arguments import RequestSellerFilter, RequestStatusFilter, UpdatedSince
from schema.enums import CompanySize, Currency, ProductCategory, RequestStatus
from schema.history import HistoryEntry, history
from schema.mutations import UserError, run_mutation
from schema.node import Node
from schema.pagination import After, Before, Connection, First, Last, connection_from
from schema.partner import partner_of
from schema.permissions import IsAuthenticated, IsPartner, IsSeller
from schema.roots import mutation_fields, query_fields
from schema.seller import seller_of

strawberry.enum(resolve.RequestErrorCode, description="Why a request change was refused.")
RequestErrorCode = resolve.RequestErrorCode


@strawberry.type(description="An amount of money in a currency.")
class Money:
    amount: Decimal = strawberry.field(description="The amount, exact.")
    currency: Currency = strawberry.field(description="Its currency.")


@strawberry.type(description="How the partner reaches the seller.")
class RequestContact:
    subject: str = strawberry.field(description="The contact name.")
    email: str = strawberry.field(description="The contact email.")
    location: str | None = strawberry.field(description="Where to meet offline, if wanted.")


@strawberry.type(description="The seller's business, as the request form describes it.")
class BusinessProfile:
    company_size: CompanySize = strawberry.field(description="Employees.")
    currency: Currency = strawberry.field(description="The currency of the amounts.")
    shop_monthly_gmv: Money = strawberry.field(description="Average monthly TikTok Shop GMV.")
    other_channels_monthly_gmv: Money | None = strawberry.field(
        description="Monthly GMV on other channels."
    )
    monthly_budget: Money = strawberry.field(description="Budget to pay a partner per month.")
    main_product_category: ProductCategory = strawberry.field(description="Main category.")
    best_selling_product: str | None = strawberry.field(description="The best-selling product.")
    other_details: str | None = strawberry.field(description="Anything else for the partner.")


def _money(amount: str | None, currency: Currency) -> Money | None:
    return None if amount is None else Money(amount=Decimal(amount), currency=currency)


@strawberry.type(description="A seller's request to one partner.")
class SellerRequest(Node):
    status: RequestStatus = strawberry.field(description="Where the request stands.")
    status_reason: str | None = strawberry.field(description="Why, e.g. a rejection's reason.")
    closed_by: str | None = strawberry.field(
        description="Who closed it, once closed: PARTNER or SELLER; ADMIN when it was closed with "
        "its partner (closePartner)."
    )
    contact: RequestContact = strawberry.field(description="How to reach the seller.")
    business: BusinessProfile = strawberry.field(description="The seller's business.")
    created_at: datetime = strawberry.field(description="When the seller sent it.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
    document: strawberry.Private[RequestDocument]

    @classmethod
    def from_document(cls, document: RequestDocument) -> "SellerRequest":
        contact, business = document["contact"], document["business"]
        currency = Currency(business["currency"])
        shop_gmv = _money(business["shopMonthlyGmv"], currency)
        budget = _money(business["monthlyBudget"], currency)
        assert shop_gmv is not None and budget is not None
        return cls(
            id=strawberry.ID(document["_id"]),
            status=RequestStatus(document["status"]),
            status_reason=document.get("statusReason"),
            closed_by=document.get("closedBy"),
            contact=RequestContact(
                subject=contact["subject"], email=contact["email"], location=contact.get("location")
            ),
            business=BusinessProfile(
                company_size=business["companySize"],
                currency=currency,
                shop_monthly_gmv=shop_gmv,
                other_channels_monthly_gmv=_money(
                    business.get("otherChannelsMonthlyGmv"), currency
                ),
                monthly_budget=budget,
                main_product_category=business["mainProductCategory"],
                best_selling_product=business.get("bestSellingProduct"),
                other_details=business.get("otherDetails"),
            ),
            created_at=document["createdAt"],
            updated_at=document["updatedAt"],
            document=document,
        )

    partner = strawberry.field(resolver=partner_of, description="The partner asked.")
    seller = strawberry.field(resolver=seller_of, description="The seller asking.")

    history: Connection[HistoryEntry] = strawberry.field(
        resolver=history, description="Every status change, newest first, with actor and reason."
    )


@strawberry.type(description="A broken rule in a request change.")
class SellerRequestUserError(UserError):
    code: RequestErrorCode = strawberry.field(description="The rule, as a code.")
    code_enum = resolve.RequestErrorCode


@strawberry.input(description="How the partner can reach you.")
class RequestContactInput:
    subject: str = strawberry.field(description="Your contact name (required).")
    email: str = strawberry.field(description="Your contact email (required).")
    location: str | None = strawberry.field(
        default=None, description="Where you would meet offline, if at all."
    )


@strawberry.input(description="Your business; amounts are in `currency`.")
class BusinessProfileInput:
    company_size: CompanySize = strawberry.field(description="Employees.")
    currency: Currency = strawberry.field(description="The currency of every amount below.")
    shop_monthly_gmv: Decimal = strawberry.field(description="Average monthly TikTok Shop GMV.")
    monthly_budget: Decimal = strawberry.field(description="Budget to pay a partner per month.")
    main_product_category: ProductCategory = strawberry.field(description="Main category.")
    other_channels_monthly_gmv: Decimal | None = strawberry.field(
        default=None, description="Monthly GMV on other channels."
    )
    best_selling_product: str | None = strawberry.field(default=None, description="Best seller.")
    other_details: str | None = strawberry.field(default=None, description="Anything else.")


@strawberry.input(description="The request form: one request is sent to each partner chosen.")
class CreateRequestInput:
    contact: RequestContactInput = strawberry.field(description="How to reach you.")
    business: BusinessProfileInput = strawberry.field(description="Your business.")
    partner_ids: list[strawberry.ID] = strawberry.field(description="1 to 10 Partner ids.")
    idempotency_key: str | None = strawberry.field(
        default=None, description="Send the same key on a retry to get the first result back."
    )


@strawberry.type(description="Result of createRequest.")
class CreateRequestPayload:
    requests: list[SellerRequest] = strawberry.field(
        default_factory=list, description="One request per partner, in the order chosen."
    )
    user_errors: list[SellerRequestUserError] = strawberry.field(
        default_factory=list, description="What was wrong; empty on success."
    )


@strawberry.type
class _RequestPayload:
    request: SellerRequest | None = strawberry.field(
        default=None, description="The request after the change."
    )
    user_errors: list[SellerRequestUserError] = strawberry.field(
        default_factory=list, description="What was wrong; empty on success."
    )


@strawberry.type(description="Result of acceptRequest.")
class AcceptRequestPayload(_RequestPayload):
    pass


@strawberry.type(description="Result of rejectRequest.")
class RejectRequestPayload(_RequestPayload):
    pass


@strawberry.type(description="Result of closeRequest.")
class CloseRequestPayload(_RequestPayload):
    pass


_BUSINESS_KEYS = {
    "company_size": "companySize",
    "currency": "currency",
    "shop_monthly_gmv": "shopMonthlyGmv",
    "monthly_budget": "monthlyBudget",
    "main_product_category": "mainProductCategory",
    "other_channels_monthly_gmv": "otherChannelsMonthlyGmv",
    "best_selling_product": "bestSellingProduct",
    "other_details": "otherDetails",
}

IdArgument = Annotated[strawberry.ID, strawberry.argument(description="The SellerRequest id.")]


async def _moved(
    info: Info, payload: Any, request_id: strawberry.ID, action: str, reason: str | None
) -> Any:
    async def work() -> dict[str, Any]:
        check_id(str(request_id), expected="SellerRequest")
        document = await resolve.move(info, str(request_id), action, reason)
        return {"request": SellerRequest.from_document(document)}

    return await run_mutation(info, payload, SellerRequestUserError, work)


@mutation_fields
@strawberry.type
class SellerRequestMutation:
    @strawberry.mutation(
        description="Ask one or more partners for help (sellers with a TikTok Shop account; "
        "others email the partner's contactEmail).",
        permission_classes=[IsSeller],
    )
    async def create_request(
        self,
        info: Info,
        input: Annotated[CreateRequestInput, strawberry.argument(description="The form.")],
    ) -> CreateRequestPayload | None:
        contact = {
            "subject": input.contact.subject,
            "email": input.contact.email,
            "location": input.contact.location,
        }
        business = {_BUSINESS_KEYS[k]: v for k, v in vars(input.business).items()}

        async def work() -> dict[str, Any]:
            created = await resolve.create(
                info, contact, business, [str(p) for p in input.partner_ids], input.idempotency_key
            )
            return {"requests": [SellerRequest.from_document(d) for d in created]}

        return await run_mutation(info, CreateRequestPayload, SellerRequestUserError, work)

    @strawberry.mutation(
        description="Accept a request under review (its partner).", permission_classes=[IsPartner]
    )
    async def accept_request(self, info: Info, id: IdArgument) -> AcceptRequestPayload | None:
        result: AcceptRequestPayload = await _moved(info, AcceptRequestPayload, id, "accept", None)
        return result

    @strawberry.mutation(
        description="Reject a request under review, with a reason (its partner).",
        permission_classes=[IsPartner],
    )
    async def reject_request(
        self,
        info: Info,
        id: IdArgument,
        reason: Annotated[str, strawberry.argument(description="Why, for the seller.")],
    ) -> RejectRequestPayload | None:
        result: RejectRequestPayload = await _moved(
            info, RejectRequestPayload, id, "reject", reason
        )
        return result

    @strawberry.mutation(
        description="Close a request (its seller or its partner).",
        permission_classes=[IsAuthenticated],
    )
    async def close_request(
        self,
        info: Info,
        id: IdArgument,
        reason: Annotated[str | None, strawberry.argument(description="Why, optionally.")] = None,
    ) -> CloseRequestPayload | None:
        result: CloseRequestPayload = await _moved(info, CloseRequestPayload, id, "close", reason)
        return result


async def request_connection(
    info: Info,
    owner: tuple[str, str] | None,
    status: list[_RequestStatus] | None,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    seller_id: strawberry.ID | None = None,
    updated_since: datetime | None = None,
) -> Connection[SellerRequest]:
    """Requests newest first: of ("seller" | "partner", id), or every request (admins); the
    caller has checked that the viewer may read the owner's lists (``resolvers.visibility``)."""
    page = page_from_args(NEWEST_FIRST, first, after, last, before, of=c.REQUESTS)
    if seller_id is not None:
        check_id(str(seller_id), "sellerId", expected="Seller")
    spec = ListSpec(
        page=page,
        statuses=tuple(s.value for s in status) if status else None,
        equals=(("sellerId", str(seller_id)),) if seller_id is not None else (),
        updated_since=check_moment(updated_since, "updatedSince"),
    )
    result: PageResult[RequestDocument]
    if owner is None:
        result = await find_page(info.context.store, c.REQUESTS, spec.filter(), NEWEST_FIRST, page)
    else:
        kind, owner_id = owner
        loaders = info.context.loaders
        loader = loaders.requests_by_seller if kind == "seller" else loaders.requests_by_partner
        result = await loader.load((owner_id, spec))
    return connection_from(result, page, NEWEST_FIRST, SellerRequest.from_document)


@query_fields
@strawberry.type
class SellerRequestQuery:
    @strawberry.field(
        description="Your requests, newest first: a seller's \"My requests\", a partner's inbox, "
        "or (admins) all.",
        permission_classes=[IsAuthenticated],
    )
    async def requests(
        self,
        info: Info,
        status: RequestStatusFilter = None,
        seller_id: RequestSellerFilter = None,
        updated_since: UpdatedSince = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[SellerRequest] | None:
        owner = own_lists_owner(info.context.viewer)
        return await request_connection(
            info, owner, status, first, after, last, before, seller_id, updated_since
        )
