"""Reading sellers, their shops and their TikTok accounts."""

from __future__ import annotations

from datastore.documents import ShopDocument, TikTokAccountDocument
from datastore.loaders import ListSpec
from datastore.paging import Page, PageResult
from resolvers.context import Info


async def shops_of_seller(info: Info, seller_id: str, page: Page) -> PageResult[ShopDocument]:
    return await info.context.loaders.shops_by_seller.load((seller_id, ListSpec(page=page)))


async def tiktok_accounts_of_seller(
    info: Info, seller_id: str, page: Page
) -> PageResult[TikTokAccountDocument]:
    spec = ListSpec(page=page)
    return await info.context.loaders.tiktok_accounts_by_seller.load((seller_id, spec))
