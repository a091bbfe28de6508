"""Mutations of the service life cycle, and opening a service's authorization link."""

from typing import Annotated, Any

import strawberry

from datastore.documents import ServiceDocument
from resolvers import services as resolve
from resolvers.context import Info
from resolvers.errors import PublicError, QueryErrorCode
from resolvers.service_rules import ServiceErrorCode as _ServiceErrorCode
from schema.category_application import ReviewDecision
from schema.enums import Market, ServiceType
from schema.mutations import UserError, run_mutation
from schema.permissions import IsAdmin, IsPartner
from schema.roots import mutation_fields, query_fields
from schema.service import Service

strawberry.enum(_ServiceErrorCode, description="Why a service change was refused.")
ServiceErrorCode = _ServiceErrorCode
strawberry.enum(resolve.LinkUnavailableReason, description="Why a link cannot be used right now.")
LinkUnavailableReason = resolve.LinkUnavailableReason


@strawberry.type(description="A broken rule in a service change.")
class ServiceUserError(UserError):
    code: ServiceErrorCode = strawberry.field(description="The rule, as a code.")
    code_enum = _ServiceErrorCode


@strawberry.type
class _ServicePayload:
    service: Service | None = strawberry.field(
        default=None, description="The service after the change; null if it was refused."
    )
    user_errors: list[ServiceUserError] = strawberry.field(
        default_factory=list, description="What was wrong with the input; empty on success."
    )


@strawberry.type(description="Result of createService.")
class CreateServicePayload(_ServicePayload):
    pass


@strawberry.type(description="Result of updateService.")
class UpdateServicePayload(_ServicePayload):
    pass


@strawberry.type(description="Result of publishService.")
class PublishServicePayload(_ServicePayload):
    pass


@strawberry.type(description="Result of reviewService.")
class ReviewServicePayload(_ServicePayload):
    pass


@strawberry.type(description="Result of deactivateService.")
class DeactivateServicePayload(_ServicePayload):
    pass


@strawberry.input(description="A new service (it starts as a DRAFT).")
class CreateServiceInput:
    name: str = strawberry.field(description="The name sellers see (at most 100 characters).")
    type: ServiceType = strawberry.field(description="PUBLIC (store-listed) or CUSTOM (by link).")
    category_id: strawberry.ID = strawberry.field(description="An approved ServiceCategory id.")
    market: Market = strawberry.field(description="The market, approved with the category.")
    description: str | None = strawberry.field(default=None, description="What it does (5000).")
    highlights: list[str] | None = strawberry.field(
        default=None, description="Up to 10 selling points (200 characters each)."
    )
    pricing: str | None = strawberry.field(default=None, description="Pricing text (500).")
    contact_email: str | None = strawberry.field(default=None, description="Contact email.")
    idempotency_key: str | None = strawberry.field(
        default=None, description="Send the same key on a retry to get the first result back."
    )


@strawberry.input(description="Changes to a service: omitted fields stay; null clears.")
class UpdateServiceInput:
    id: strawberry.ID = strawberry.field(description="The Service id.")
    name: str | None = strawberry.field(default=strawberry.UNSET, description="New name.")
    type: ServiceType | None = strawberry.field(
        default=strawberry.UNSET, description="New type (drafts only)."
    )
    category_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="New category (not while live)."
    )
    market: Market | None = strawberry.field(
        default=strawberry.UNSET, description="New market (not while live)."
    )
    description: str | None = strawberry.field(default=strawberry.UNSET, description="New text.")
    highlights: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="New selling points."
    )
    pricing: str | None = strawberry.field(default=strawberry.UNSET, description="New pricing.")
    contact_email: str | None = strawberry.field(
        default=strawberry.UNSET, description="New contact email."
    )


@strawberry.input(description="An admin's decision on a service in review.")
class ReviewServiceInput:
    id: strawberry.ID = strawberry.field(description="The Service id.")
    decision: ReviewDecision = strawberry.field(description="APPROVE (goes live) or REJECT.")
    reason: str | None = strawberry.field(default=None, description="Why; required to reject.")


_DOCUMENT_KEYS = {
    "category_id": "categoryId",
    "contact_email": "contactEmail",
    "idempotency_key": "idempotencyKey",
}


def _fields(input: object, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    values = {
        _DOCUMENT_KEYS.get(name, name): value
        for name, value in vars(input).items()
        if value is not strawberry.UNSET and name not in skip
    }
    return {k: str(v) if k == "categoryId" and v is not None else v for k, v in values.items()}


def _service(document: ServiceDocument) -> dict[str, Any]:
    return {"service": Service.from_document(document)}


@strawberry.type(description="Where a default authorization link leads.")
class ServiceLink:
    service: Service = strawberry.field(description="The service behind the link.")
    available: bool = strawberry.field(description="Whether a seller can authorize it now.")
    unavailable_reason: LinkUnavailableReason | None = strawberry.field(
        description="Why not, when it cannot be authorized now."
    )


@query_fields
@strawberry.type
class ServiceLinkQuery:
    @strawberry.field(
        description="The service behind a default authorization link: anyone holding the "
        "token may read it. Null (NOT_FOUND) for an unknown token."
    )
    async def service_by_authorization_link(
        self, info: Info, token: Annotated[str, strawberry.argument(description="The link token.")]
    ) -> ServiceLink | None:
        found = await resolve.by_authorization_link(info, token)
        if found is None:
            raise PublicError("No service behind this link", QueryErrorCode.NOT_FOUND)
        document, reason = found
        return ServiceLink(
            service=Service.from_document(document),
            available=reason is None,
            unavailable_reason=reason,
        )


@mutation_fields
@strawberry.type
class ServiceMutation:
    @strawberry.mutation(
        description="Create a DRAFT service (partners).", permission_classes=[IsPartner]
    )
    async def create_service(
        self,
        info: Info,
        input: Annotated[CreateServiceInput, strawberry.argument(description="The service.")],
    ) -> CreateServicePayload | None:
        async def work() -> dict[str, Any]:
            return _service(await resolve.create(info, _fields(input)))

        return await run_mutation(info, CreateServicePayload, ServiceUserError, work)

    @strawberry.mutation(
        description="Change a service's fields (not while in review; a live public service must "
        "be deactivated first).",
        permission_classes=[IsPartner],
    )
    async def update_service(
        self,
        info: Info,
        input: Annotated[UpdateServiceInput, strawberry.argument(description="The changes.")],
    ) -> UpdateServicePayload | None:
        async def work() -> dict[str, Any]:
            return _service(await resolve.update(info, str(input.id), _fields(input, skip=("id",))))

        return await run_mutation(info, UpdateServicePayload, ServiceUserError, work)

    @strawberry.mutation(
        description='Publish ("On"): CUSTOM goes LIVE at once; PUBLIC goes to review unless its '
        "listing is unchanged since it was approved.",
        permission_classes=[IsPartner],
    )
    async def publish_service(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The Service id.")],
    ) -> PublishServicePayload | None:
        async def work() -> dict[str, Any]:
            return _service(await resolve.publish(info, str(id)))

        return await run_mutation(info, PublishServicePayload, ServiceUserError, work)

    @strawberry.mutation(
        description="Approve or reject a service in review (admins).", permission_classes=[IsAdmin]
    )
    async def review_service(
        self,
        info: Info,
        input: Annotated[ReviewServiceInput, strawberry.argument(description="The decision.")],
    ) -> ReviewServicePayload | None:
        async def work() -> dict[str, Any]:
            return _service(await resolve.review(info, str(input.id), input.decision, input.reason))

        return await run_mutation(info, ReviewServicePayload, ServiceUserError, work)

    @strawberry.mutation(
        description='Deactivate a live service ("Off").', permission_classes=[IsPartner]
    )
    async def deactivate_service(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The Service id.")],
    ) -> DeactivateServicePayload | None:
        async def work() -> dict[str, Any]:
            return _service(await resolve.deactivate(info, str(id)))

        return await run_mutation(info, DeactivateServicePayload, ServiceUserError, work)
