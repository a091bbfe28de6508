"""Creating and withdrawing service offers, and opening an offer's link."""

from datetime import date
from typing import Annotated, Any

import strawberry

from datastore.documents import ServiceOfferDocument
from resolvers import offers as resolve
from resolvers.context import Info
from resolvers.errors import PublicError, QueryErrorCode
from schema.authorization_settings import AuthorizationSettingsInput, SellerContactInput
from schema.mutations import UserError, run_mutation
from schema.permissions import IsPartner
from schema.roots import mutation_fields, query_fields
from schema.service_offer import ServiceOffer

strawberry.enum(
    resolve.ServiceOfferErrorCode, description="Why a service offer change was refused."
)
ServiceOfferErrorCode = resolve.ServiceOfferErrorCode


@strawberry.type(description="A broken rule in a service offer change.")
class ServiceOfferUserError(UserError):
    code: ServiceOfferErrorCode = strawberry.field(description="The rule, as a code.")
    code_enum = resolve.ServiceOfferErrorCode


@strawberry.type
class _ServiceOfferPayload:
    service_offer: ServiceOffer | None = strawberry.field(
        default=None, description="The offer after the change; null if it was refused."
    )
    user_errors: list[ServiceOfferUserError] = strawberry.field(
        default_factory=list, description="What was wrong with the input; empty on success."
    )


@strawberry.type(description="Result of createServiceOffer.")
class CreateServiceOfferPayload(_ServiceOfferPayload):
    pass


@strawberry.type(description="Result of withdrawServiceOffer.")
class WithdrawServiceOfferPayload(_ServiceOfferPayload):
    pass


@strawberry.input(description="A new service offer (it starts OPEN).")
class CreateServiceOfferInput:
    service_ids: list[strawberry.ID] = strawberry.field(
        description="1 to 10 distinct ids of your own LIVE services (public or custom), in the "
        "order the seller sees them."
    )
    start_date: date = strawberry.field(
        description="First day of the service: today (UTC) or later."
    )
    end_date: date = strawberry.field(
        description="Last day of the service (inclusive): after startDate, at most 3 years later."
    )
    contact: SellerContactInput | None = strawberry.field(
        default=None, description="The seller's contact, if you know it; else the seller fills it."
    )
    settings: AuthorizationSettingsInput = strawberry.field(
        description="The authorization settings offered; every one is required."
    )
    seller_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The one Seller this offer is for: only that seller can accept it, and it "
        "appears in that seller's serviceOffers inbox. Null: whoever holds the link.",
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Send the same key on a retry to get the first offer back (100 characters).",
    )


def _fields(input: CreateServiceOfferInput) -> dict[str, Any]:
    return {
        "serviceIds": [str(service_id) for service_id in input.service_ids],
        "startDate": input.start_date,
        "endDate": input.end_date,
        "contact": input.contact.to_fields() if input.contact is not None else None,
        "settings": input.settings.to_document(),
        "sellerId": str(input.seller_id) if input.seller_id else None,
        "idempotencyKey": input.idempotency_key,
    }


def _offer(document: ServiceOfferDocument) -> dict[str, Any]:
    return {"service_offer": ServiceOffer.from_document(document)}


@query_fields
@strawberry.type
class ServiceOfferQuery:
    @strawberry.field(
        description="The offer behind a link: anyone holding the token may read it, whatever "
        "its status (see `status` and `canBeAccepted`). Null (NOT_FOUND) for an unknown token."
    )
    async def service_offer_by_link(
        self, info: Info, token: Annotated[str, strawberry.argument(description="The link token.")]
    ) -> ServiceOffer | None:
        document = await resolve.by_link(info, token)
        if document is None:
            raise PublicError("No service offer behind this link", QueryErrorCode.NOT_FOUND)
        return ServiceOffer.from_document(document)


@mutation_fields
@strawberry.type
class ServiceOfferMutation:
    @strawberry.mutation(
        description="Offer 1 to 10 of your LIVE services with dates, authorization settings and "
        "an optional seller contact (partners); share the offer's linkToken with the seller.",
        permission_classes=[IsPartner],
    )
    async def create_service_offer(
        self,
        info: Info,
        input: Annotated[CreateServiceOfferInput, strawberry.argument(description="The offer.")],
    ) -> CreateServiceOfferPayload | None:
        async def work() -> dict[str, Any]:
            return _offer(await resolve.create(info, _fields(input)))

        return await run_mutation(info, CreateServiceOfferPayload, ServiceOfferUserError, work)

    @strawberry.mutation(
        description="Withdraw an OPEN offer (partners): its link then says WITHDRAWN. An "
        "accepted, withdrawn or expired offer cannot be withdrawn.",
        permission_classes=[IsPartner],
    )
    async def withdraw_service_offer(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The ServiceOffer id.")],
    ) -> WithdrawServiceOfferPayload | None:
        async def work() -> dict[str, Any]:
            return _offer(await resolve.withdraw(info, str(id)))

        return await run_mutation(info, WithdrawServiceOfferPayload, ServiceOfferUserError, work)
