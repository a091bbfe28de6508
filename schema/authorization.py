"""Authorizations: a seller lets a partner work on its shops and TikTok accounts."""

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
from datastore.store import D
from resolvers import authorization_queries as queries
from resolvers.authorization_rules import days_remaining, effective_status, grants_access
from resolvers.context import Context, Info
from resolvers.offer_dates import last_day
from schema.authorization_settings import AuthorizationSettings, SellerContact
from schema.changes import ChangedValue, changed_value
from schema.document_reads import (
    Loads,
    document_type,
    from_document,
    key,
    member,
    optional,
    reference,
    references,
    stored_resolver,
)
from schema.enums import AuthorizationChannel, AuthorizationReason, AuthorizationStatus
from schema.history import HistoryEntry, history
from schema.node import Node
from schema.pagination import Connection, DocumentPage, document_page
from schema.partner import partner_of
from schema.seller import Shop, TikTokAccount, seller_of
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
    # A canceled or closed authorization has no days left, whatever its end date said.
    if effective_status(document, context.now) is not enums.AuthorizationStatus.ACTIVE:
        return 0
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
    def from_document(cls, document: AuthorizationDocument) -> "Authorization":
        return from_document(cls, document)

    status = strawberry.field(
        resolver=stored_resolver("status", _status, returns=AuthorizationStatus),
        description="The status now: an active one past its end reads COMPLETED.",
    )
    status_reason = strawberry.field(
        resolver=stored_resolver("status_reason", _status_reason, returns=AuthorizationReason),
        description="The reason code of the current status, e.g. EXPIRED.",
    )
    grants_access = strawberry.field(
        resolver=stored_resolver("grants_access", _GRANTS_ACCESS, returns=bool),
        description="Whether the partner may access the seller's data now: active, started, and "
        "the partner not removed.",
    )
    days_remaining = strawberry.field(
        resolver=stored_resolver("days_remaining", _days_remaining, returns=int),
        description="Calendar days (UTC) from today to the last day: 0 on the last day and once "
        "ended. `authorizations(expiringWithinDays: n)` lists those with at most n.",
    )
    service = strawberry.field(
        resolver=stored_resolver("service", _SERVICE, returns=Service, typed=Service.from_document),
        description="The service authorized.",
    )
    partner = strawberry.field(resolver=partner_of, description="The partner authorized.")
    seller = strawberry.field(resolver=seller_of, description="The seller who authorized.")
    shops = strawberry.field(
        resolver=stored_resolver(
            "shops", _SHOPS, returns=list[Shop], typed=_each(Shop.from_document)
        ),
        description="The seller's shops it covers.",
    )
    tiktok_accounts = strawberry.field(
        resolver=stored_resolver(
            "tiktok_accounts",
            _TIKTOK_ACCOUNTS,
            returns=list[TikTokAccount],
            typed=_each(TikTokAccount.from_document),
        ),
        description="The seller's TikTok accounts it covers, with their linked status (an "
        "unlinked account no longer counts).",
    )

    @strawberry.field(description="The offer it came from, if any.")
    async def service_offer(
        self, info: Info
    ) -> Annotated["ServiceOffer", strawberry.lazy("schema.service_offer")] | None:
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
