"""Sellers (TikTok Shop merchants), their shops and linked TikTok accounts."""

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from datastore import collections as c
from datastore.documents import SellerDocument, ShopDocument, TikTokAccountDocument
from datastore.loaders import NEWEST_FIRST
from resolvers import offers
from resolvers import sellers as resolve
from resolvers.authorization_rules import is_link_only
from resolvers.context import Info
from resolvers.pagination import page_from_args
from resolvers.visibility import sees_seller_privately
from schema import owned_lists
from schema.document_reads import (
    document_type,
    from_document,
    key,
    member,
    optional,
    reference,
    stored_resolver,
)
from schema.enums import LinkedStatus, Market, OfferStatus, SellerKind
from schema.node import Node
from schema.pagination import EMPTY_PAGE, After, Before, Connection, First, Last, connection_from

if TYPE_CHECKING:
    from schema.service_offer import ServiceOffer


@document_type(
    {
        "id": key("_id"),
        "name": key("name"),
        "market": member(Market, "market"),
        "created_at": key("createdAt"),
    }
)
@strawberry.type(description="A TikTok Shop shop of a seller.")
class Shop(Node):
    name: str = strawberry.field(description="The shop's name.")
    market: Market = strawberry.field(description="The market the shop sells in.")
    created_at: datetime = strawberry.field(description="When the shop was added.")
    document: strawberry.Private[ShopDocument]

    @classmethod
    def from_document(cls, document: ShopDocument) -> "Shop":
        return from_document(cls, document)


@document_type(
    {
        "id": key("_id"),
        "handle": key("handle"),
        "linked_status": member(LinkedStatus, "linkedStatus"),
        "linked_at": key("linkedAt"),
        "unlinked_at": optional("unlinkedAt"),
    }
)
@strawberry.type(description="A TikTok account (TTUID) linked to a seller.")
class TikTokAccount(Node):
    handle: str = strawberry.field(description="The account's @handle.")
    linked_status: LinkedStatus = strawberry.field(description="LINKED, or UNLINKED since when.")
    linked_at: datetime = strawberry.field(description="When the account was linked.")
    unlinked_at: datetime | None = strawberry.field(description="When it was unlinked, if so.")
    document: strawberry.Private[TikTokAccountDocument]

    @classmethod
    def from_document(cls, document: TikTokAccountDocument) -> "TikTokAccount":
        return from_document(cls, document)


@document_type(
    {
        "id": key("_id"),
        "name": key("name"),
        "kind": member(SellerKind, "kind"),
        "market": member(Market, "market"),
        "has_shop_account": key("hasShopAccount"),
        "created_at": key("createdAt"),
        "authorizes_only_through_links": is_link_only,
    }
)
@strawberry.type(description="A seller: a TikTok Shop merchant (visible to itself and admins).")
class Seller(Node):
    name: str = strawberry.field(description="The seller's business name.")
    kind: SellerKind = strawberry.field(description="LOCAL or CROSS_BORDER.")
    market: Market = strawberry.field(description="The market the seller sells in.")
    has_shop_account: bool = strawberry.field(
        description="Whether the seller has a TikTok Shop account (needed to send requests)."
    )
    created_at: datetime = strawberry.field(description="When the seller joined.")
    authorizes_only_through_links: bool = strawberry.field(
        description="Whether the seller authorizes and renews only through links partners "
        "send (UK and US local sellers and every cross-border seller, seed 002)."
    )
    document: strawberry.Private[SellerDocument]

    @classmethod
    def from_document(cls, document: SellerDocument) -> "Seller":
        return from_document(cls, document)

    @strawberry.field(description="The seller's shops, newest first.")
    async def shops(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[Shop]:
        page = page_from_args(NEWEST_FIRST, first, after, last, before, of=c.SHOPS)
        if not sees_seller_privately(info.context.viewer, str(self.id)):
            # A partner reaches a seller through an authorization: it sees the covered shops
            # there, not every shop the seller has.
            return Connection(edges=[], page_info=EMPTY_PAGE)
        result = await resolve.shops_of_seller(info, str(self.id), page)
        return connection_from(result, page, NEWEST_FIRST, Shop.from_document)

    @strawberry.field(description="The seller's TikTok accounts, linked or not, newest first.")
    async def tiktok_accounts(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[TikTokAccount]:
        page = page_from_args(NEWEST_FIRST, first, after, last, before, of=c.TIKTOK_ACCOUNTS)
        if not sees_seller_privately(info.context.viewer, str(self.id)):
            return Connection(edges=[], page_info=EMPTY_PAGE)
        result = await resolve.tiktok_accounts_of_seller(info, str(self.id), page)
        return connection_from(result, page, NEWEST_FIRST, TikTokAccount.from_document)

    authorizations = strawberry.field(
        resolver=owned_lists.authorizations,
        description="The seller's authorizations, newest first (the seller and admins; empty for "
        "anyone else).",
    )

    @strawberry.field(
        description="Offers partners made for this seller alone, newest first, with no link "
        "needed (the seller and admins; empty for anyone else)."
    )
    async def service_offers(
        self,
        info: Info,
        status: Annotated[
            list[OfferStatus] | None,
            strawberry.argument(description="Only offers in these states, as read."),
        ] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[Annotated["ServiceOffer", strawberry.lazy("schema.service_offer")]]:
        from schema.service_offer import ServiceOffer

        page = page_from_args(NEWEST_FIRST, first, after, last, before, of=c.SERVICE_OFFERS)
        result = await offers.offers_for_seller(info, str(self.id), page, status)
        return connection_from(result, page, NEWEST_FIRST, ServiceOffer.from_document)

    requests = strawberry.field(
        resolver=owned_lists.requests,
        description='"My requests": the seller\'s requests to partners, newest first (the seller '
        "and admins; empty for anyone else).",
    )


_SELLER = reference(lambda loaders: loaders.seller_by_id, "sellerId")


seller_of = stored_resolver("seller", _SELLER, returns=Seller, typed=Seller.from_document)
"""The ``seller`` of every type whose document names one (attached with
``strawberry.field(resolver=seller_of)``)."""
