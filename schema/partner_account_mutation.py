"""Partner onboarding: registerPartner, createPartner (admins) and updatePartnerProfile."""

from typing import Annotated, Any

import strawberry

from datastore.documents import PartnerDocument
from resolvers import partner_accounts as resolve
from resolvers import partner_admin
from resolvers.context import Info
from schema.enums import Market, PartnerType, Region
from schema.mutations import UserError, run_mutation
from schema.partner import Partner, PartnerUserError
from schema.permissions import IsAdmin, IsAuthenticated, IsPartner
from schema.roots import mutation_fields

strawberry.enum(
    resolve.PartnerAccountErrorCode,
    description="Why a partner registration or profile change was refused.",
)
PartnerAccountErrorCode = resolve.PartnerAccountErrorCode


@strawberry.type(description="A broken rule in a partner registration or profile change.")
class PartnerAccountUserError(UserError):
    code: PartnerAccountErrorCode = strawberry.field(description="The rule, as a code.")
    code_enum = resolve.PartnerAccountErrorCode


@strawberry.type
class _PartnerAccountPayload:
    partner: Partner | None = strawberry.field(
        default=None, description="The partner after the change; null if it was refused."
    )
    user_errors: list[PartnerAccountUserError] = strawberry.field(
        default_factory=list, description="What was wrong with the input; empty on success."
    )


@strawberry.type(description="Result of registerPartner.")
class RegisterPartnerPayload(_PartnerAccountPayload):
    pass


@strawberry.type(description="Result of createPartner.")
class CreatePartnerPayload(_PartnerAccountPayload):
    pass


@strawberry.type(description="Result of updatePartnerProfile.")
class UpdatePartnerProfilePayload(_PartnerAccountPayload):
    pass


@strawberry.input(description="A company registering as a partner.")
class RegisterPartnerInput:
    name: str = strawberry.field(description="Company name, shown to sellers (100 characters).")
    type: PartnerType = strawberry.field(description="The partner programme; fixed afterwards.")
    registration_region: Region = strawberry.field(
        description="Where the company is registered; fixed afterwards."
    )
    target_markets: list[Market] = strawberry.field(
        description="The markets served: at least one, each offered for the type and region "
        "by the category catalog (serviceCategories)."
    )
    contact_email: str = strawberry.field(description="Public contact email.")
    website: str | None = strawberry.field(
        default=None, description="Absolute http(s) URL of the company's website."
    )
    description: str | None = strawberry.field(
        default=None, description="What the company does, for sellers (2000 characters)."
    )

    def to_registration(self) -> resolve.PartnerRegistration:
        return resolve.PartnerRegistration(
            name=self.name,
            type=self.type,
            registration_region=self.registration_region,
            target_markets=tuple(self.target_markets),
            contact_email=self.contact_email,
            website=self.website,
            description=self.description,
        )


@strawberry.input(description="A partner registered by an admin for someone.")
class CreatePartnerInput(RegisterPartnerInput):
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Send the same key on a retry to get the first partner back (100 characters).",
    )


@strawberry.input(
    description="Profile fields to change; a field left out (or null) stays as it is, an empty "
    "text clears description, website or logoUrl. Type and region cannot change."
)
class UpdatePartnerProfileInput:
    id: strawberry.ID | None = strawberry.field(
        default=None, description="The Partner id (admins); partners edit their own."
    )
    name: str | None = strawberry.field(default=None, description="Company name.")
    description: str | None = strawberry.field(default=None, description="About the company.")
    contact_email: str | None = strawberry.field(default=None, description="Public contact email.")
    website: str | None = strawberry.field(default=None, description="http(s) URL.")
    logo_url: str | None = strawberry.field(default=None, description="http(s) URL of the logo.")
    target_markets: list[Market] | None = strawberry.field(
        default=None,
        description="Every target market the partner is to serve: the current ones plus any "
        "the catalog offers for its type and region (markets cannot be dropped).",
    )

    def to_changes(self) -> resolve.ProfileChanges:
        markets = tuple(self.target_markets) if self.target_markets is not None else None
        return resolve.ProfileChanges(
            name=self.name,
            description=self.description,
            contact_email=self.contact_email,
            website=self.website,
            logo_url=self.logo_url,
            target_markets=markets,
        )


@strawberry.type(description="Result of reopenPartner.")
class ReopenPartnerPayload:
    partner: Partner | None = strawberry.field(default=None, description="The reopened partner.")
    user_errors: list[PartnerUserError] = strawberry.field(
        default_factory=list, description="What was wrong with the input; empty on success."
    )


@strawberry.input(description="Which partner to reopen, and why.")
class ReopenPartnerInput:
    id: strawberry.ID = strawberry.field(description="The Partner id.")
    reason: str = strawberry.field(description="Why it was closed by mistake (1000 characters).")


def _partner(document: PartnerDocument) -> dict[str, Any]:
    return {"partner": Partner.from_document(document)}


@mutation_fields
@strawberry.type
class PartnerAccountMutation:
    @strawberry.mutation(
        description="Register the partner account your token names (partners): it is ACTIVE at "
        "once and may apply for service categories. Registering again with the same input "
        "returns the partner; with other input it is ALREADY_REGISTERED.",
        permission_classes=[IsPartner],
    )
    async def register_partner(
        self,
        info: Info,
        input: Annotated[RegisterPartnerInput, strawberry.argument(description="The company.")],
    ) -> RegisterPartnerPayload | None:
        async def work() -> dict[str, Any]:
            viewer = info.context.viewer
            return _partner(
                await resolve.register(info.context.store, viewer, input.to_registration())
            )

        return await run_mutation(info, RegisterPartnerPayload, PartnerAccountUserError, work)

    @strawberry.mutation(
        description="Register a partner for someone (admins); put the new partner's id in its "
        "tokens.",
        permission_classes=[IsAdmin],
    )
    async def create_partner(
        self,
        info: Info,
        input: Annotated[CreatePartnerInput, strawberry.argument(description="The company.")],
    ) -> CreatePartnerPayload | None:
        async def work() -> dict[str, Any]:
            document = await resolve.create_for(
                info.context.store,
                info.context.viewer,
                input.to_registration(),
                input.idempotency_key,
            )
            return _partner(document)

        return await run_mutation(info, CreatePartnerPayload, PartnerAccountUserError, work)

    @strawberry.mutation(
        description="Edit a partner profile: your own (partners) or any (admins, with id).",
        permission_classes=[IsAuthenticated],
    )
    async def update_partner_profile(
        self,
        info: Info,
        input: Annotated[
            UpdatePartnerProfileInput, strawberry.argument(description="The changes.")
        ],
    ) -> UpdatePartnerProfilePayload | None:
        async def work() -> dict[str, Any]:
            viewer = info.context.viewer
            partner_id = resolve.profile_owner(viewer, str(input.id) if input.id else None)
            document = await resolve.update_profile(
                info.context.store, viewer, partner_id, input.to_changes()
            )
            return _partner(document)

        return await run_mutation(info, UpdatePartnerProfilePayload, PartnerAccountUserError, work)

    @strawberry.mutation(
        description="Reopen a partner closed by mistake (admins): ACTIVE again, its live public "
        "services back in the store. Authorizations and requests that closing ended stay ended.",
        permission_classes=[IsAdmin],
    )
    async def reopen_partner(
        self,
        info: Info,
        input: Annotated[ReopenPartnerInput, strawberry.argument(description="The partner.")],
    ) -> ReopenPartnerPayload | None:
        async def work() -> dict[str, Any]:
            return _partner(await partner_admin.reopen(info, str(input.id), input.reason))

        return await run_mutation(info, ReopenPartnerPayload, PartnerUserError, work)
