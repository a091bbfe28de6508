"""Seller onboarding: registerSeller, addShop and linkTikTokAccount (unlinkTikTokAccount is
with the authorizations it ends, in ``schema.authorization_mutation``)."""

from typing import Annotated, Any

import strawberry

from resolvers import seller_accounts as resolve
from resolvers.context import Info
from schema.enums import Market, SellerKind
from schema.mutations import UserError, run_mutation
from schema.permissions import IsSeller
from schema.roots import mutation_fields
from schema.seller import Seller, Shop, TikTokAccount

strawberry.enum(
    resolve.SellerAccountErrorCode, description="Why a seller registration or change was refused."
)
SellerAccountErrorCode = resolve.SellerAccountErrorCode


@strawberry.type(description="A broken rule in a seller registration or change.")
class SellerAccountUserError(UserError):
    code: SellerAccountErrorCode = strawberry.field(description="The rule, as a code.")
    code_enum = resolve.SellerAccountErrorCode


@strawberry.type(description="Result of registerSeller.")
class RegisterSellerPayload:
    seller: Seller | None = strawberry.field(
        default=None, description="The seller; null if refused."
    )
    user_errors: list[SellerAccountUserError] = strawberry.field(
        default_factory=list, description="What was wrong with the input; empty on success."
    )


@strawberry.type(description="Result of addShop.")
class AddShopPayload:
    shop: Shop | None = strawberry.field(default=None, description="The shop; null if refused.")
    user_errors: list[SellerAccountUserError] = strawberry.field(
        default_factory=list, description="What was wrong with the input; empty on success."
    )


@strawberry.type(description="Result of linkTikTokAccount.")
class LinkTikTokAccountPayload:
    tiktok_account: TikTokAccount | None = strawberry.field(
        default=None, description="The link; null if refused."
    )
    user_errors: list[SellerAccountUserError] = strawberry.field(
        default_factory=list, description="What was wrong with the input; empty on success."
    )


@strawberry.input(description="A merchant registering as a seller.")
class RegisterSellerInput:
    name: str = strawberry.field(description="Business name (100 characters).")
    kind: SellerKind = strawberry.field(
        description="LOCAL (sells in its own country) or CROSS_BORDER (sells abroad)."
    )
    market: Market = strawberry.field(description="The country or region the seller sells in.")
    has_shop_account: bool = strawberry.field(
        description="Whether the seller has a TikTok Shop account (needed to send requests)."
    )


@strawberry.input(description="A shop to add to your seller account.")
class AddShopInput:
    name: str = strawberry.field(description="The shop's name (100 characters).")
    market: Market = strawberry.field(
        description="Where the shop sells: a local seller's own market; any for cross-border."
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Send the same key on a retry to get the first shop back (100 characters).",
    )


@mutation_fields
@strawberry.type
class SellerAccountMutation:
    @strawberry.mutation(
        description="Register the seller account your token names (sellers). Registering "
        "again with the same input returns the seller; with other input it is "
        "ALREADY_REGISTERED.",
        permission_classes=[IsSeller],
    )
    async def register_seller(
        self,
        info: Info,
        input: Annotated[RegisterSellerInput, strawberry.argument(description="The business.")],
    ) -> RegisterSellerPayload | None:
        async def work() -> dict[str, Any]:
            registration = resolve.SellerRegistration(
                name=input.name,
                kind=input.kind,
                market=input.market,
                has_shop_account=input.has_shop_account,
            )
            document = await resolve.register(info.context.store, info.context.viewer, registration)
            return {"seller": Seller.from_document(document)}

        return await run_mutation(info, RegisterSellerPayload, SellerAccountUserError, work)

    @strawberry.mutation(
        description="Add a shop to your seller account (sellers); your first shop means you "
        "have a TikTok Shop account.",
        permission_classes=[IsSeller],
    )
    async def add_shop(
        self,
        info: Info,
        input: Annotated[AddShopInput, strawberry.argument(description="The shop.")],
    ) -> AddShopPayload | None:
        async def work() -> dict[str, Any]:
            document = await resolve.add_shop(
                info.context.store,
                info.context.viewer,
                input.name,
                input.market,
                input.idempotency_key,
            )
            return {"shop": Shop.from_document(document)}

        return await run_mutation(info, AddShopPayload, SellerAccountUserError, work)

    @strawberry.mutation(
        name="linkTikTokAccount",
        description="Link a TikTok account to your seller account (sellers). Linking it again "
        "after an unlink creates a new link; authorizations the unlink ended stay ended.",
        permission_classes=[IsSeller],
    )
    async def link_tiktok_account(
        self,
        info: Info,
        handle: Annotated[
            str, strawberry.argument(description="The account's @handle (the @ is optional).")
        ],
    ) -> LinkTikTokAccountPayload | None:
        async def work() -> dict[str, Any]:
            document = await resolve.link_tiktok_account(
                info.context.store, info.context.viewer, handle
            )
            return {"tiktok_account": TikTokAccount.from_document(document)}

        return await run_mutation(info, LinkTikTokAccountPayload, SellerAccountUserError, work)
