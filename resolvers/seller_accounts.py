"""Sellers onboard themselves: registering a business, adding shops and linking TikTok
accounts (seed 002, "Linked Status"). Unlinking lives with the authorizations it ends
(:func:`resolvers.authorization_lifecycle.unlink_tiktok_account`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from datastore import collections as c
from datastore.codec import utc_now
from datastore.documents import SellerDocument, ShopDocument, TikTokAccountDocument
from datastore.enums import LinkedStatus, Market, SellerKind
from datastore.ids import new_id, type_of
from datastore.store import DocumentStore, DuplicateKeyError
from resolvers import history, idempotency
from resolvers.account_lists import seller_terms
from resolvers.errors import unknown_account
from resolvers.identity import Viewer
from resolvers.validation import Checks, fail
from resolvers.writes import atomically


class SellerAccountErrorCode(StrEnum):
    REQUIRED = "REQUIRED"
    TOO_LONG = "TOO_LONG"
    INVALID_ACCOUNT_ID = "INVALID_ACCOUNT_ID"
    ALREADY_REGISTERED = "ALREADY_REGISTERED"
    INVALID_HANDLE = "INVALID_HANDLE"
    ACCOUNT_LINKED_ELSEWHERE = "ACCOUNT_LINKED_ELSEWHERE"
    SHOP_MARKET_MISMATCH = "SHOP_MARKET_MISMATCH"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"


Code = SellerAccountErrorCode
MAX_NAME = 100
# TikTok usernames: letters, digits, underscores and periods, 2 to 24 characters.
_HANDLE = re.compile(r"^@?(?P<name>[A-Za-z0-9_.]{2,24})$")
LINKED_HANDLE_INDEX = "ux_tiktok_accounts_linkedHandle"


@dataclass(frozen=True)
class SellerRegistration:
    """What a merchant states when it registers as a seller."""

    name: str
    kind: SellerKind
    market: Market
    has_shop_account: bool


def _check_name(checks: Checks, field: str, value: str) -> None:
    checks.text([field], value, max_length=MAX_NAME, too_long=Code.TOO_LONG, missing=Code.REQUIRED)


def _caller_id(actor: Viewer) -> str:
    seller_id = actor.seller_id
    if seller_id is None or type_of(seller_id) != "Seller":
        raise fail(
            [],
            "your token's account id is not a seller id (slr_…): ask your identity provider "
            "for a seller account id",
            Code.INVALID_ACCOUNT_ID,
        )
    return seller_id


def _same(seller: SellerDocument, registration: SellerRegistration) -> bool:
    return bool(
        seller["name"] == registration.name.strip()
        and seller["kind"] == registration.kind
        and seller["market"] == registration.market
        and seller["hasShopAccount"] == registration.has_shop_account
    )


async def register(
    store: DocumentStore, actor: Viewer, registration: SellerRegistration
) -> SellerDocument:
    """Register the seller the caller's token names. Registering again with the same input
    returns the seller, with another input is ALREADY_REGISTERED; racing registrations insert
    the same ``_id`` and the primary key lets one commit."""
    seller_id = _caller_id(actor)
    checks = Checks()
    _check_name(checks, "name", registration.name)
    checks.raise_if_any()

    async def existing() -> SellerDocument | None:
        found = (await store.get_many(c.SELLERS, [seller_id])).get(seller_id)
        if found is not None and not _same(found, registration):
            raise fail(
                [],
                "your seller account is already registered (with other details)",
                Code.ALREADY_REGISTERED,
            )
        return found

    async def work() -> SellerDocument:
        found = await existing()
        if found is not None:
            return found
        now = utc_now()
        seller = await store.insert(
            c.SELLERS,
            {
                "_id": seller_id,
                "name": registration.name.strip(),
                "searchTerms": seller_terms({"name": registration.name}),
                "kind": registration.kind,
                "market": registration.market,
                "hasShopAccount": registration.has_shop_account,
                "createdAt": now,
                "updatedAt": now,
            },
        )
        await history.record(store, subject_id=seller_id, action="CREATED", actor=actor)
        return seller

    try:
        return await atomically(store, work)
    except DuplicateKeyError as error:
        if error.collection != c.SELLERS:
            raise
    earlier = await existing()
    if earlier is None:  # pragma: no cover - the insert that won is committed
        raise AssertionError("the winning registration vanished")
    return earlier


async def _current_seller(store: DocumentStore, actor: Viewer) -> SellerDocument:
    seller_id = actor.seller_id
    seller = (await store.get_many(c.SELLERS, [seller_id])).get(seller_id) if seller_id else None
    if seller is None:
        raise unknown_account("seller")
    return seller


async def add_shop(
    store: DocumentStore, actor: Viewer, name: str, market: Market, idempotency_key: str | None
) -> ShopDocument:
    """Add a shop to the caller's seller account. A local seller's shops sell in its own
    market; a cross-border seller's anywhere. A first shop means the seller now has a TikTok
    Shop account (it may send requests)."""
    checks = Checks()
    _check_name(checks, "name", name)
    seller = await _current_seller(store, actor)
    ticket = idempotency.claim(
        checks, seller["_id"], "addShop", idempotency_key, {"name": name, "market": market}
    )
    if seller["kind"] == SellerKind.LOCAL and market != seller["market"]:
        checks.add(
            ["market"],
            f"a local seller's shops sell in its own market ({seller['market']})",
            Code.SHOP_MARKET_MISMATCH,
        )
    checks.raise_if_any()

    async def work() -> ShopDocument:
        current = await _current_seller(store, actor)
        now = utc_now()
        shop = await store.insert(
            c.SHOPS,
            {
                "_id": new_id("shp"),
                "sellerId": current["_id"],
                "name": name.strip(),
                "market": market,
                "createdAt": now,
            },
        )
        # Always written, so a concurrent change of the seller conflicts with this one.
        await store.update(
            c.SELLERS,
            current["_id"],
            expected_version=current["version"],
            changes={"hasShopAccount": True, "updatedAt": now},
        )
        return shop

    async def replay(ids: list[str]) -> ShopDocument:
        return (await store.get_many(c.SHOPS, ids))[ids[0]]

    return await idempotency.once(
        store, ticket, work, ids_of=lambda shop: [shop["_id"]], replay=replay
    )


def normalised_handle(handle: str) -> str | None:
    """``@name`` in lower case (TikTok handles are case-insensitive), or ``None`` if invalid."""
    match = _HANDLE.match(handle.strip())
    return f"@{match.group('name').lower()}" if match else None


async def link_tiktok_account(
    store: DocumentStore, actor: Viewer, handle: str
) -> TikTokAccountDocument:
    """Link a TikTok account to the caller's seller account.

    Linking an account this seller holds linked returns that link. Linking again after an
    unlink creates a new link (a new id): the authorizations the unlink ended named the old
    one and stay ended. An account linked to another seller is ACCOUNT_LINKED_ELSEWHERE; the
    unique index on ``linkedHandle`` (set only while linked) decides races between sellers.
    """
    normal = normalised_handle(handle)
    if normal is None:
        raise fail(
            ["handle"],
            "a TikTok handle is 2 to 24 letters, digits, '_' or '.', optionally after '@'",
            Code.INVALID_HANDLE,
        )
    seller = await _current_seller(store, actor)

    async def holder() -> TikTokAccountDocument | None:
        found = await store.find(c.TIKTOK_ACCOUNTS, {"linkedHandle": normal}, limit=1)
        if found and found[0]["sellerId"] != seller["_id"]:
            raise fail(
                ["handle"],
                "this TikTok account is linked to another seller; it must be unlinked there first",
                Code.ACCOUNT_LINKED_ELSEWHERE,
            )
        return found[0] if found else None

    async def work() -> TikTokAccountDocument:
        linked = await holder()
        if linked is not None:
            return linked
        now = utc_now()
        account = await store.insert(
            c.TIKTOK_ACCOUNTS,
            {
                "_id": new_id("tta"),
                "sellerId": seller["_id"],
                "handle": normal,
                "linkedHandle": normal,
                "linkedStatus": LinkedStatus.LINKED,
                "linkedAt": now,
                "createdAt": now,
            },
        )
        await history.record(
            store,
            subject_id=account["_id"],
            action="CREATED",
            actor=actor,
            to_status=LinkedStatus.LINKED,
        )
        return account

    try:
        return await atomically(store, work)
    except DuplicateKeyError as error:
        if error.index != LINKED_HANDLE_INDEX:
            raise
    # A concurrent link of the same handle committed first: same seller, same answer.
    linked = await holder()
    if linked is None:  # pragma: no cover - unlinked in between; the caller may retry
        raise fail(["handle"], "the account changed; try again", Code.ACCOUNT_LINKED_ELSEWHERE)
    return linked
