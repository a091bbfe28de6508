"""Category applications: a partner asks to publish under a category in a market."""

from datetime import datetime
from typing import Annotated, Any

import strawberry

from datastore.catalog import get_catalog
from datastore.documents import CategoryApplicationDocument
from resolvers import category_applications as resolve
from resolvers.context import Info
from schema.enums import Market
from schema.history import HistoryEntry, history
from schema.mutations import UserError, run_mutation
from schema.node import Node
from schema.pagination import Connection
from schema.permissions import IsAdmin, IsPartner
from schema.roots import mutation_fields
from schema.service_category import ServiceCategory

strawberry.enum(
    resolve.ApplicationStatus, description="REVIEWING until an admin APPROVES or REJECTS it."
)
ApplicationStatus = resolve.ApplicationStatus
strawberry.enum(resolve.ReviewDecision, description="An admin's review outcome.")
ReviewDecision = resolve.ReviewDecision
strawberry.enum(
    resolve.CategoryApplicationErrorCode, description="Why a category application was refused."
)
CategoryApplicationErrorCode = resolve.CategoryApplicationErrorCode


@strawberry.type(description="A partner's application for a service category in a market.")
class CategoryApplication(Node):
    market: Market = strawberry.field(description="The market applied for.")
    status: resolve.ApplicationStatus = strawberry.field(description="Where the review stands.")
    reason: str | None = strawberry.field(description="The reviewer's reason, if any.")
    created_at: datetime = strawberry.field(description="When the partner applied.")
    reviewed_at: datetime | None = strawberry.field(description="When an admin decided.")
    category_id: strawberry.Private[str]
    partner_id: strawberry.Private[str]
    document: strawberry.Private[CategoryApplicationDocument]

    @classmethod
    def from_document(cls, document: CategoryApplicationDocument) -> "CategoryApplication":
        return cls(
            document=document,
            id=strawberry.ID(document["_id"]),
            market=Market(document["market"]),
            status=resolve.ApplicationStatus(document["status"]),
            reason=document.get("reason"),
            created_at=document["createdAt"],
            reviewed_at=document.get("reviewedAt"),
            category_id=document["categoryId"],
            partner_id=document["partnerId"],
        )

    @strawberry.field(description="The category applied for.")
    def category(self) -> ServiceCategory:
        row = get_catalog().get(self.category_id)
        if row is None:
            raise LookupError(f"application {self.id} names unknown category {self.category_id}")
        return ServiceCategory.from_category(row)

    history: Connection[HistoryEntry] = strawberry.field(
        resolver=history, description="Every change of the application, newest first."
    )


@strawberry.type(description="A broken rule in a category application.")
class CategoryApplicationUserError(UserError):
    code: CategoryApplicationErrorCode = strawberry.field(description="The rule, as a code.")
    code_enum = resolve.CategoryApplicationErrorCode


@strawberry.type(description="Result of applyForServiceCategory.")
class ApplyForServiceCategoryPayload:
    category_application: CategoryApplication | None = strawberry.field(
        default=None, description="The new application, or the open one for the same pair."
    )
    user_errors: list[CategoryApplicationUserError] = strawberry.field(
        default_factory=list, description="What was wrong with the input; empty on success."
    )


@strawberry.type(description="Result of reviewCategoryApplication.")
class ReviewCategoryApplicationPayload:
    category_application: CategoryApplication | None = strawberry.field(
        default=None, description="The reviewed application."
    )
    user_errors: list[CategoryApplicationUserError] = strawberry.field(
        default_factory=list, description="What was wrong with the input; empty on success."
    )


@strawberry.input(description="What to apply for.")
class ApplyForServiceCategoryInput:
    category_id: strawberry.ID = strawberry.field(description="A ServiceCategory id.")
    market: Market = strawberry.field(description="The market to serve under it.")
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Send the same key on a retry to get the first application back "
        "(100 characters); the same key with another input is refused.",
    )


@strawberry.input(description="An admin's decision on an application.")
class ReviewCategoryApplicationInput:
    id: strawberry.ID = strawberry.field(description="The CategoryApplication id.")
    decision: ReviewDecision = strawberry.field(description="APPROVE or REJECT.")
    reason: str | None = strawberry.field(
        default=None, description="Why; required to reject (at most 1000 characters)."
    )


def _application(document: CategoryApplicationDocument) -> dict[str, Any]:
    return {"category_application": CategoryApplication.from_document(document)}


@mutation_fields
@strawberry.type
class CategoryApplicationMutation:
    @strawberry.mutation(
        description="Apply for a service category in a market (partners). Applying again for "
        "the same pair returns the open application.",
        permission_classes=[IsPartner],
    )
    async def apply_for_service_category(
        self,
        info: Info,
        input: Annotated[
            ApplyForServiceCategoryInput, strawberry.argument(description="What to apply for.")
        ],
    ) -> ApplyForServiceCategoryPayload | None:
        async def work() -> dict[str, Any]:
            document = await resolve.apply(
                info, str(input.category_id), input.market, input.idempotency_key
            )
            return _application(document)

        return await run_mutation(
            info, ApplyForServiceCategoryPayload, CategoryApplicationUserError, work
        )

    @strawberry.mutation(
        description="Approve or reject an application under review (admins).",
        permission_classes=[IsAdmin],
    )
    async def review_category_application(
        self,
        info: Info,
        input: Annotated[
            ReviewCategoryApplicationInput, strawberry.argument(description="The decision.")
        ],
    ) -> ReviewCategoryApplicationPayload | None:
        async def work() -> dict[str, Any]:
            document = await resolve.review(info, str(input.id), input.decision, input.reason)
            return _application(document)

        return await run_mutation(
            info, ReviewCategoryApplicationPayload, CategoryApplicationUserError, work
        )
