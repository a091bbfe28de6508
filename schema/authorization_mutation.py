"""Authorizing (from an offer, a service link or the store), renewing, canceling, unlinking."""

from datetime import date
from enum import Enum
from typing import Annotated, Any

import strawberry

from datastore import collections as c
from datastore.enums import AuthorizationChannel
from resolvers import authorization_lifecycle as lifecycle
from resolvers import authorizations as resolve
from resolvers.authorization_rules import AuthorizationErrorCode as _Code
from resolvers.context import Info
from resolvers.nodes import check_id
from schema.arguments import (
    AuthorizationFilter,
    AuthorizationFilterArgument,
    AuthorizationStatusFilter,
    ExpiringWithinDays,
    Reverse,
    SortKeyArgument,
)
from schema.authorization import (
    Authorization,
    authorization_documents,
)
from schema.authorization_settings import AuthorizationSettingsInput, SellerContactInput
from schema.mutations import UserError, run_mutation
from schema.pagination import After, Before, Connection, First, Last
from schema.permissions import IsAuthenticated, IsSeller
from schema.roots import mutation_fields, query_fields
from schema.seller import TikTokAccount

strawberry.enum(_Code, description="Why an authorization change was refused.")
AuthorizationErrorCode = _Code


@strawberry.enum(description="How far a renewal extends the end date.")
class RenewalPeriod(Enum):
    ONE_MONTH = 1
    THREE_MONTHS = 3
    SIX_MONTHS = 6
    TWELVE_MONTHS = 12


@strawberry.type(description="A broken rule in an authorization change.")
class AuthorizationUserError(UserError):
    code: AuthorizationErrorCode = strawberry.field(description="The rule, as a code.")
    code_enum = _Code


@strawberry.input(
    description="What the seller changes from the offer before authorizing; leave it out to "
    "authorize in one click as offered (covering all your shops and linked TikTok accounts "
    "that the authorize object needs)."
)
class AuthorizeServiceOfferInput:
    service_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="The offer's services to keep (default: all)."
    )
    start_date: date | None = strawberry.field(default=None, description="Within the offer's.")
    end_date: date | None = strawberry.field(default=None, description="Within the offer's.")
    settings: AuthorizationSettingsInput | None = strawberry.field(
        default=None, description="Changed permissions (default: as offered)."
    )
    contact: SellerContactInput | None = strawberry.field(
        default=None, description="Your contact details (default: as offered)."
    )
    shop_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Which of your shops (default: all, if the object needs shops)."
    )
    tiktok_account_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Which linked TikTok accounts (default: all, if needed)."
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Send the same key on a retry to get the first result back (100 "
        "characters); the same key with another input is refused.",
    )


@strawberry.input(description="Every detail of a default authorization application.")
class AuthorizeServiceInput:
    start_date: date = strawberry.field(description="First day (today or later).")
    end_date: date = strawberry.field(description="Last day (after the start).")
    settings: AuthorizationSettingsInput = strawberry.field(description="What the partner may do.")
    contact: SellerContactInput | None = strawberry.field(default=None, description="Contact.")
    shop_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Which of your shops (default: all, if the object needs shops)."
    )
    tiktok_account_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Which linked TikTok accounts (default: all, if needed)."
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Send the same key on a retry to get the first result back (100 "
        "characters); the same key with another input is refused.",
    )


@strawberry.type(description="Result of authorizeServiceOffer.")
class AuthorizeServiceOfferPayload:
    authorizations: list[Authorization] = strawberry.field(
        default_factory=list, description="One per service kept (the first ones, when repeated)."
    )
    user_errors: list[AuthorizationUserError] = strawberry.field(
        default_factory=list, description="What was wrong; empty on success."
    )


@strawberry.type
class _AuthorizationPayload:
    authorization: Authorization | None = strawberry.field(
        default=None, description="The authorization after the change."
    )
    user_errors: list[AuthorizationUserError] = strawberry.field(
        default_factory=list, description="What was wrong; empty on success."
    )


@strawberry.type(description="Result of authorizeService.")
class AuthorizeServicePayload(_AuthorizationPayload):
    pass


@strawberry.type(description="Result of authorizeStoreService.")
class AuthorizeStoreServicePayload(_AuthorizationPayload):
    pass


@strawberry.type(description="Result of renewAuthorization.")
class RenewAuthorizationPayload(_AuthorizationPayload):
    pass


@strawberry.type(description="Result of cancelAuthorization.")
class CancelAuthorizationPayload(_AuthorizationPayload):
    pass


@strawberry.type(description="Result of unlinkTikTokAccount.")
class UnlinkTikTokAccountPayload:
    tiktok_account: TikTokAccount | None = strawberry.field(
        default=None, description="The account, now UNLINKED."
    )
    ended_authorizations: list[Authorization] = strawberry.field(
        default_factory=list,
        description="The active authorizations that covered this account, now ended.",
    )
    user_errors: list[AuthorizationUserError] = strawberry.field(
        default_factory=list, description="What was wrong; empty on success."
    )


def _settings(value: AuthorizationSettingsInput | None) -> dict[str, Any] | None:
    return None if value is None else value.to_document()


def _contact(value: SellerContactInput | None) -> dict[str, str | None] | None:
    return None if value is None else value.to_fields()


def _ids(values: list[strawberry.ID] | None) -> list[str] | None:
    return None if values is None else [str(v) for v in values]


def _authorization(document: Any) -> dict[str, Any]:
    return {"authorization": Authorization.from_document(document)}


@mutation_fields
@strawberry.type
class AuthorizationMutation:
    @strawberry.mutation(
        description="Accept a service offer through its link: one ACTIVE authorization per "
        "service, all or none. Accepting again returns the first result.",
        permission_classes=[IsSeller],
    )
    async def authorize_service_offer(
        self,
        info: Info,
        token: Annotated[str, strawberry.argument(description="The offer's link token.")],
        input: Annotated[
            AuthorizeServiceOfferInput | None,
            strawberry.argument(description="Changes from the offer; omit for one click."),
        ] = None,
    ) -> AuthorizeServiceOfferPayload | None:
        given = input or AuthorizeServiceOfferInput()
        consent = resolve.Consent(
            start_date=given.start_date,
            end_date=given.end_date,
            settings=_settings(given.settings),
            contact=_contact(given.contact),
            shop_ids=_ids(given.shop_ids),
            tiktok_account_ids=_ids(given.tiktok_account_ids),
            service_ids=_ids(given.service_ids),
        )

        async def work() -> dict[str, Any]:
            _offer, granted = await resolve.authorize_offer(
                info, token, consent, given.idempotency_key
            )
            return {"authorizations": [Authorization.from_document(d) for d in granted]}

        return await run_mutation(info, AuthorizeServiceOfferPayload, AuthorizationUserError, work)

    @strawberry.mutation(
        description="The default authorization application: authorize one live service through "
        "its link, filling in every detail.",
        permission_classes=[IsSeller],
    )
    async def authorize_service(
        self,
        info: Info,
        service_link_token: Annotated[str, strawberry.argument(description="The link token.")],
        input: Annotated[AuthorizeServiceInput, strawberry.argument(description="The details.")],
    ) -> AuthorizeServicePayload | None:
        async def work() -> dict[str, Any]:
            found = (
                await info.context.store.find(
                    c.SERVICES, {"authorizationLinkToken": service_link_token}, limit=1
                )
                if service_link_token
                else []
            )
            document = await resolve.authorize_service(
                info,
                found[0] if found else None,
                _consent(input),
                AuthorizationChannel.SERVICE_LINK,
                input.idempotency_key,
            )
            return _authorization(document)

        return await run_mutation(info, AuthorizeServicePayload, AuthorizationUserError, work)

    @strawberry.mutation(
        description="Authorize a public service found in the store (not for UK/US local or "
        "cross-border sellers, who authorize through a partner's link).",
        permission_classes=[IsSeller],
    )
    async def authorize_store_service(
        self,
        info: Info,
        service_id: Annotated[strawberry.ID, strawberry.argument(description="A Service id.")],
        input: Annotated[AuthorizeServiceInput, strawberry.argument(description="The details.")],
    ) -> AuthorizeStoreServicePayload | None:
        check_id(str(service_id), "serviceId", "Service")

        async def work() -> dict[str, Any]:
            found = await info.context.store.get_many(c.SERVICES, [str(service_id)])
            document = await resolve.authorize_service(
                info,
                found.get(str(service_id)),
                _consent(input),
                AuthorizationChannel.STORE,
                input.idempotency_key,
            )
            return _authorization(document)

        return await run_mutation(info, AuthorizeStoreServicePayload, AuthorizationUserError, work)

    @strawberry.mutation(
        description="Extend an active authorization's end date (UK/US local and cross-border "
        "sellers renew through a partner's renewal offer or link instead).",
        permission_classes=[IsSeller],
    )
    async def renew_authorization(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The Authorization id.")],
        period: Annotated[RenewalPeriod, strawberry.argument(description="How much longer.")],
        idempotency_key: Annotated[
            str | None,
            strawberry.argument(
                description="Send the same key on a retry: the authorization is extended once "
                "(100 characters); the same key with another input is refused."
            ),
        ] = None,
    ) -> RenewAuthorizationPayload | None:
        async def work() -> dict[str, Any]:
            document = await resolve.renew(info, str(id), period.value, idempotency_key)
            return _authorization(document)

        return await run_mutation(info, RenewAuthorizationPayload, AuthorizationUserError, work)

    @strawberry.mutation(
        description="Cancel an active authorization: the partner loses access at once.",
        permission_classes=[IsSeller],
    )
    async def cancel_authorization(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The Authorization id.")],
    ) -> CancelAuthorizationPayload | None:
        async def work() -> dict[str, Any]:
            return _authorization(await resolve.cancel(info, str(id)))

        return await run_mutation(info, CancelAuthorizationPayload, AuthorizationUserError, work)

    @strawberry.mutation(
        name="unlinkTikTokAccount",
        description="Unlink one of your TikTok accounts: every active authorization that "
        "covered it ends from this moment (reason ACCOUNT_UNLINKED).",
        permission_classes=[IsSeller],
    )
    async def unlink_tiktok_account(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The TikTokAccount id.")],
    ) -> UnlinkTikTokAccountPayload | None:
        async def work() -> dict[str, Any]:
            account, ended = await lifecycle.unlink_tiktok_account(info, str(id))
            return {
                "tiktok_account": TikTokAccount.from_document(account),
                "ended_authorizations": [Authorization.from_document(d) for d in ended],
            }

        return await run_mutation(info, UnlinkTikTokAccountPayload, AuthorizationUserError, work)


def _consent(input: AuthorizeServiceInput) -> resolve.Consent:
    return resolve.Consent(
        start_date=input.start_date,
        end_date=input.end_date,
        settings=_settings(input.settings),
        contact=_contact(input.contact),
        shop_ids=_ids(input.shop_ids),
        tiktok_account_ids=_ids(input.tiktok_account_ids),
    )


@query_fields
@strawberry.type
class AuthorizationQuery:
    @strawberry.field(
        description="Your authorizations: a seller's own, a partner's granted ones, or (admins) "
        "all. `expiringWithinDays: 15` lists what ends soon.",
        permission_classes=[IsAuthenticated],
    )
    async def authorizations(
        self,
        info: Info,
        status: AuthorizationStatusFilter = None,
        expiring_within_days: ExpiringWithinDays = None,
        filter: AuthorizationFilterArgument = None,
        sort_key: SortKeyArgument = None,
        reverse: Reverse = False,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[Authorization] | None:
        query = (filter or AuthorizationFilter()).to_query(sort_key, reverse)
        documents = await authorization_documents(
            info, None, status, expiring_within_days, first, after, last, before, query
        )
        return documents.map(Authorization.from_document)
