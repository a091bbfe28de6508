"""Loading objects by global id, as the caller may see them."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from datastore import collections as c
from datastore.catalog import get_catalog
from datastore.ids import type_of
from resolvers.context import Info
from resolvers.errors import PublicError, QueryErrorCode
from resolvers.visibility import sees_node

MAX_NODE_IDS = 100

COLLECTION_OF_TYPE = {
    "Partner": c.PARTNERS,
    "Service": c.SERVICES,
    "Seller": c.SELLERS,
    "Shop": c.SHOPS,
    "TikTokAccount": c.TIKTOK_ACCOUNTS,
    "CategoryApplication": c.CATEGORY_APPLICATIONS,
    "Authorization": c.AUTHORIZATIONS,
    "SellerRequest": c.REQUESTS,
    "ServiceOffer": c.SERVICE_OFFERS,
}


def check_id(identifier: str, argument: str = "id", expected: str | None = None) -> str:
    """The type named by a global id; malformed ids (or ids of another type) are refused."""
    type_name = type_of(identifier)
    if type_name is None or (expected is not None and type_name != expected):
        wanted = f"a {expected} id" if expected else "a global id"
        raise PublicError(
            f"`{argument}` is not {wanted}: {identifier!r}", QueryErrorCode.INVALID_ID
        )
    return type_name


def not_found(identifier: str) -> PublicError:
    return PublicError(f"No object with id {identifier!r}", QueryErrorCode.NOT_FOUND, id=identifier)


async def visible_document(info: Info, type_name: str, document: Mapping[str, Any] | None) -> bool:
    if document is None:
        return False
    partner = (
        await info.context.loaders.partner_by_id.load(document["partnerId"])
        if type_name == "Service"
        else None
    )
    return sees_node(info.context.viewer, type_name, document, partner)


async def _load_one(info: Info, identifier: str) -> tuple[str, Any] | None:
    type_name = check_id(identifier)
    if type_name == "ServiceCategory":
        category = get_catalog().get(identifier)
        return (type_name, category) if category else None
    collection = COLLECTION_OF_TYPE.get(type_name)
    if collection is None:
        return None
    document = await info.context.loaders.by_id(collection).load(identifier)
    if not await visible_document(info, type_name, document):
        return None
    return type_name, document


async def load_visible_nodes(info: Info, ids: list[str]) -> list[tuple[str, Any] | None]:
    """``(type name, document)`` per id, ``None`` where it is missing or hidden.

    A single missing id raises NOT_FOUND (so ``node`` says why it is null); in a list, missing
    items are nulls, as Relay clients expect.
    """
    for identifier in ids:
        check_id(identifier, "ids" if len(ids) > 1 else "id")
    found = await asyncio.gather(*(_load_one(info, identifier) for identifier in ids))
    missing = [identifier for identifier, item in zip(ids, found, strict=True) if item is None]
    if missing and len(ids) == 1:
        raise not_found(missing[0])
    return list(found)
