"""Authorizations: a seller lets a partner work on its shops and TikTok accounts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, TypeVar

import strawberry

from datastore import collections as c
from datastore import enums
from datastore.documents import (
    AuthorizationDocument,
    offer_changes_of,
)
from datastore.loaders import Eventually, then
from datastore.store import D
from resolvers import authorization_queries as queries
from resolvers.authorization_rules import days_remaining, effective_status, grants_access
from resolvers.context import Context, Info
from resolvers.offer_dates import last_day
from schema.authorization_settings import AuthorizationSettings, SellerContact
from schema.changes import ChangedValue, changed_value
from schema.document_reads import (
    Loads,
    document_loads,
    document_read,
    document_type,
    from_document,
    key,
    member,
    optional,
    reference,
    references,
)
from schema.enums import AuthorizationChannel, AuthorizationReason, AuthorizationStatus
from schema.history import HistoryEntry, history
from schema.node import Node
from schema.pagination import Connection, DocumentPage, document_page
from schema.partner import Partner, partner_of
from schema.seller import Seller, Shop, TikTokAccount, seller_of
from schema.service import Service

if TYPE_CHECKING:
    from schema.service_offer import ServiceOffer

T = TypeVar("T")


@strawberry.type(description="One thing the seller changed from what the offer proposed.")
class OfferChange:
    field: str = strawberry.field(description="What changed, e.g. endDate or settings.tspAccess.")
    offered: ChangedValue | None = strawberry.field(description="What the partner offered.")
    consented: ChangedValue | None = strawberry.field(description="What the seller agreed to.")


def _status(document: AuthorizationDocument, context: Context) -> AuthorizationStatus:
    return effective_status(document, context.now)


def _status_reason(document: AuthorizationDocument, context: Context) -> AuthorizationReason:
    if effective_status(document, context.now) is not enums.AuthorizationStatus(document["status"]):
        return AuthorizationReason.EXPIRED
    return AuthorizationReason(document["statusReason"])


def _days_remaining(document: AuthorizationDocument, context: Context) -> int:
    return days_remaining(document["endsAt"], context.now)


_GRANTS_ACCESS = Loads(
    lambda loaders: loaders.partner_by_id,
    lambda document, context: document["partnerId"],
    lambda loaded, document, context: grants_access(document, loaded, context.now),
    one=True,
)
_SERVICE = reference(lambda loaders: loaders.service_by_id, "serviceId")
_SHOPS = references(lambda loaders: loaders.shop_by_id, "shopIds")
_TIKTOK_ACCOUNTS = references(lambda loaders: loaders.tiktok_account_by_id, "tiktokAccountIds")


def _each(convert: Callable[[D], T]) -> Callable[[list[D]], list[T]]:
    return lambda documents: [convert(d) for d in documents]


@document_type(
    {
        "id": key("_id"),
        "channel": member(AuthorizationChannel, "channel"),
        "start_date": lambda d: d["startsAt"].date(),
        "end_date": lambda d: last_day(d["endsAt"]),
        "ends_at": key("endsAt"),
        "settings": lambda d: AuthorizationSettings.from_document(d["settings"]),
        "contact": lambda d: SellerContact.from_document(d.get("contact")),
        "created_at": key("createdAt"),
        "updated_at": key("updatedAt"),
        "ended_at": optional("endedAt"),
    }
)
@strawberry.type(description="A seller's authorization of one partner service.")
class Authorization(Node):
    channel: AuthorizationChannel = strawberry.field(description="How it was granted.")
    start_date: date = strawberry.field(description="First day it is in force.")
    end_date: date = strawberry.field(description="Last day it is in force.")
    ends_at: datetime = strawberry.field(description="The moment it ends (after the end date).")
    settings: AuthorizationSettings = strawberry.field(description="What the partner may do.")
    contact: SellerContact | None = strawberry.field(description="Whom the partner contacts.")
    created_at: datetime = strawberry.field(description="When the seller authorized.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
    ended_at: datetime | None = strawberry.field(description="When it was canceled or closed.")
    document: strawberry.Private[AuthorizationDocument]

    @classmethod
    def from_document(cls, document: AuthorizationDocument) -> Authorization:
        return from_document(cls, document)

    @strawberry.field(description="The status now: an active one past its end reads COMPLETED.")
    @document_read(_status)
    def status(self, info: Info) -> AuthorizationStatus:
        return _status(self.document, info.context)

    @strawberry.field(description="The reason code of the current status, e.g. EXPIRED.")
    @document_read(_status_reason)
    def status_reason(self, info: Info) -> AuthorizationReason:
        return _status_reason(self.document, info.context)

    @strawberry.field(
        description="Whether the partner may access the seller's data now: active, started, and "
        "the partner not removed.",
        graphql_type=bool,
    )
    @document_loads(_GRANTS_ACCESS)
    def grants_access(self, info: Info) -> Eventually[bool]:
        granted: Eventually[bool] = _GRANTS_ACCESS.read(self.document, info.context)
        return granted

    @strawberry.field(
        description="Calendar days (UTC) from today to the last day: 0 on the last day and once "
        "ended. `authorizations(expiringWithinDays: n)` lists those with at most n."
    )
    @document_read(_days_remaining)
    def days_remaining(self, info: Info) -> int:
        return _days_remaining(self.document, info.context)

    @strawberry.field(description="The service authorized.", graphql_type=Service)
    @document_loads(_SERVICE)
    def service(self, info: Info) -> Eventually[Service]:
        return then(_SERVICE.read(self.document, info.context), Service.from_document)

    partner = strawberry.field(
        resolver=partner_of, graphql_type=Partner, description="The partner authorized."
    )
    seller = strawberry.field(
        resolver=seller_of, graphql_type=Seller, description="The seller who authorized."
    )

    @strawberry.field(description="The seller's shops it covers.", graphql_type=list[Shop])
    @document_loads(_SHOPS)
    def shops(self, info: Info) -> Eventually[list[Shop]]:
        return then(_SHOPS.read(self.document, info.context), _each(Shop.from_document))

    @strawberry.field(
        description="The seller's TikTok accounts it covers, with their linked status (an "
        "unlinked account no longer counts).",
        graphql_type=list[TikTokAccount],
    )
    @document_loads(_TIKTOK_ACCOUNTS)
    def tiktok_accounts(self, info: Info) -> Eventually[list[TikTokAccount]]:
        accounts = _TIKTOK_ACCOUNTS.read(self.document, info.context)
        return then(accounts, _each(TikTokAccount.from_document))

    @strawberry.field(description="The offer it came from, if any.")
    async def service_offer(
        self, info: Info
    ) -> Annotated[ServiceOffer, strawberry.lazy("schema.service_offer")] | None:
        from schema.service_offer import ServiceOffer

        offer_id = self.document.get("offerId")
        if offer_id is None:
            return None
        document = await info.context.loaders.service_offer_by_id.load(offer_id)
        return ServiceOffer.from_document(document) if document else None

    @strawberry.field(description="What the seller changed from the offer (empty if nothing).")
    def changes_from_offer(self) -> list[OfferChange]:
        return [
            OfferChange(
                field=change["path"],
                offered=changed_value(change.get("offered")),
                consented=changed_value(change.get("consented")),
            )
            for change in offer_changes_of(self.document)
        ]

    history: Connection[HistoryEntry] = strawberry.field(
        resolver=history, description="Every change of the authorization, newest first."
    )


async def authorization_documents(
    info: Info,
    owner: tuple[str, str] | None,
    status: list[AuthorizationStatus] | None,
    expiring_within_days: int | None,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    query: queries.AuthorizationQuery = queries.AuthorizationQuery(),  # noqa: B008
) -> DocumentPage[AuthorizationDocument]:
    """A page of authorizations, as documents. ``owner`` is ("seller" | "partner" | "offer",
    id), or None for the caller's own; the caller has checked that the viewer may read the
    owner's lists (``resolvers.visibility``)."""
    from resolvers.pagination import page_from_args

    sort, ordering = queries.list_order(expiring_within_days, query)
    page = page_from_args(sort, first, after, last, before, of=c.AUTHORIZATIONS, ordering=ordering)
    spec = queries.list_spec(info, page, status, expiring_within_days, query)
    if owner is None:
        result = await queries.of_viewer(info, spec)
    else:
        kind, owner_id = owner
        reader = {
            "seller": queries.of_seller,
            "partner": queries.of_partner,
            "offer": queries.of_offer,
        }
        result = await reader[kind](info, owner_id, spec)
    return document_page(result, page, sort)
