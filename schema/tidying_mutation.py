"""withdrawCategoryApplication, deleteService and archiveServiceOffer: a partner tidying its
own work (rules in ``resolvers.tidying``)."""

from typing import Annotated, Any

import strawberry

from resolvers import tidying as resolve
from resolvers.context import Info
from schema.category_application import CategoryApplication, CategoryApplicationUserError
from schema.mutations import run_mutation
from schema.permissions import IsPartner
from schema.roots import mutation_fields
from schema.service_mutation import ServiceUserError
from schema.service_offer import ServiceOffer
from schema.service_offer_mutation import ServiceOfferUserError


@strawberry.type(description="Result of withdrawCategoryApplication.")
class WithdrawCategoryApplicationPayload:
    category_application: CategoryApplication | None = strawberry.field(
        default=None, description="The withdrawn application; null if refused."
    )
    user_errors: list[CategoryApplicationUserError] = strawberry.field(
        default_factory=list, description="What was wrong with the input; empty on success."
    )


@strawberry.type(description="Result of deleteService.")
class DeleteServicePayload:
    deleted_service_id: strawberry.ID | None = strawberry.field(
        default=None, description="The id of the deleted service; null if refused."
    )
    user_errors: list[ServiceUserError] = strawberry.field(
        default_factory=list, description="What was wrong with the input; empty on success."
    )


@strawberry.type(description="Result of archiveServiceOffer.")
class ArchiveServiceOfferPayload:
    service_offer: ServiceOffer | None = strawberry.field(
        default=None, description="The archived offer; null if refused."
    )
    user_errors: list[ServiceOfferUserError] = strawberry.field(
        default_factory=list, description="What was wrong with the input; empty on success."
    )


_Id = Annotated[strawberry.ID, strawberry.argument(description="The id.")]


@mutation_fields
@strawberry.type
class TidyingMutation:
    @strawberry.mutation(
        description="Withdraw one of your applications while it is REVIEWING (partners); you "
        "may apply for the same category and market again later.",
        permission_classes=[IsPartner],
    )
    async def withdraw_category_application(
        self, info: Info, id: _Id
    ) -> WithdrawCategoryApplicationPayload | None:
        async def work() -> dict[str, Any]:
            document = await resolve.withdraw_application(info, str(id))
            return {"category_application": CategoryApplication.from_document(document)}

        return await run_mutation(
            info, WithdrawCategoryApplicationPayload, CategoryApplicationUserError, work
        )

    @strawberry.mutation(
        description="Delete one of your DRAFT or REJECTED services that no offer, "
        "authorization or referral link names (partners).",
        permission_classes=[IsPartner],
    )
    async def delete_service(self, info: Info, id: _Id) -> DeleteServicePayload | None:
        async def work() -> dict[str, Any]:
            document = await resolve.delete_service(info, str(id))
            return {"deleted_service_id": strawberry.ID(document["_id"])}

        return await run_mutation(info, DeleteServicePayload, ServiceUserError, work)

    @strawberry.mutation(
        description="Archive one of your WITHDRAWN or EXPIRED offers (partners): it leaves the "
        "default list of Partner.serviceOffers (list it with `archived: true`).",
        permission_classes=[IsPartner],
    )
    async def archive_service_offer(self, info: Info, id: _Id) -> ArchiveServiceOfferPayload | None:
        async def work() -> dict[str, Any]:
            return {
                "service_offer": ServiceOffer.from_document(
                    await resolve.archive_offer(info, str(id))
                )
            }

        return await run_mutation(info, ArchiveServiceOfferPayload, ServiceOfferUserError, work)
