"""Sellers onboard through the API: registerSeller, addShop, linkTikTokAccount and unlinking."""

from __future__ import annotations

import asyncio
from typing import Any

from datastore import collections as c
from datastore.ids import new_id
from datastore.store import DocumentStore
from resolvers.identity import Role
from tests.conftest import GraphQLClient, Make, accept, insert_offer, token
from tests.test_authorization_api import SETTINGS, UNLINK

REGISTER = """mutation($input: RegisterSellerInput!) { registerSeller(input: $input) {
  seller { id name kind market hasShopAccount authorizesOnlyThroughLinks }
  userErrors { field message code } } }"""
ADD_SHOP = """mutation($input: AddShopInput!) { addShop(input: $input) {
  shop { id name market } userErrors { field message code } } }"""
LINK = """mutation($handle: String!) { linkTikTokAccount(handle: $handle) {
  tiktokAccount { id handle linkedStatus } userErrors { field message code } } }"""
MINE = """{ viewer { seller { hasShopAccount shops { edges { node { id } } }
  tiktokAccounts { edges { node { id handle linkedStatus } } } } } }"""


def business(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "Harbour Candles",
        "kind": "LOCAL",
        "market": "ID",
        "hasShopAccount": False,
        **overrides,
    }


async def registered(gql: GraphQLClient, **overrides: Any) -> tuple[str, str]:
    seller_id = new_id("slr")
    caller = token(Role.SELLER, seller_id)
    result = await gql(REGISTER, {"input": business(**overrides)}, as_=caller)
    assert result["data"]["registerSeller"]["userErrors"] == []
    return seller_id, caller


async def counts(store: DocumentStore) -> list[int]:
    collections = (c.SELLERS, c.SHOPS, c.TIKTOK_ACCOUNTS, c.HISTORY, c.IDEMPOTENCY)
    return [await store.count(name) for name in collections]


async def test_register_and_the_region_rule_follows_from_kind_and_market(
    gql: GraphQLClient,
) -> None:
    expectations = [
        ({"kind": "LOCAL", "market": "ID"}, False),
        ({"kind": "LOCAL", "market": "US"}, True),
        ({"kind": "LOCAL", "market": "GB"}, True),
        ({"kind": "CROSS_BORDER", "market": "MY"}, True),
    ]
    for overrides, link_only in expectations:
        seller_id = new_id("slr")
        result = await gql(
            REGISTER, {"input": business(**overrides)}, as_=token(Role.SELLER, seller_id)
        )
        seller = result["data"]["registerSeller"]["seller"]
        assert seller["id"] == seller_id
        assert seller["authorizesOnlyThroughLinks"] is link_only, overrides


async def test_registering_twice_and_concurrently(gql: GraphQLClient, store: DocumentStore) -> None:
    seller_id, caller = await registered(gql)
    before = await counts(store)
    again = await gql(REGISTER, {"input": business()}, as_=caller)
    assert again["data"]["registerSeller"]["seller"]["id"] == seller_id
    other = await gql(REGISTER, {"input": business(kind="CROSS_BORDER")}, as_=caller)
    assert other["data"]["registerSeller"]["userErrors"][0]["code"] == "ALREADY_REGISTERED"
    assert await counts(store) == before
    for _ in range(5):
        racer = token(Role.SELLER, new_id("slr"))
        results = await asyncio.gather(
            *(gql(REGISTER, {"input": business()}, as_=racer) for _ in range(6))
        )
        assert len({r["data"]["registerSeller"]["seller"]["id"] for r in results}) == 1
    assert await store.count(c.SELLERS) == 6


async def test_bad_registrations_write_nothing(gql: GraphQLClient, store: DocumentStore) -> None:
    before = await counts(store)
    caller = token(Role.SELLER, new_id("slr"))
    for name, code in (("", "REQUIRED"), ("x" * 101, "TOO_LONG")):
        result = await gql(REGISTER, {"input": business(name=name)}, as_=caller)
        assert result["data"]["registerSeller"]["userErrors"][0]["field"] == ["input", "name"]
        assert result["data"]["registerSeller"]["userErrors"][0]["code"] == code
    odd = await gql(REGISTER, {"input": business()}, as_=token(Role.SELLER, "auth0|abc"))
    assert odd["data"]["registerSeller"]["userErrors"][0]["code"] == "INVALID_ACCOUNT_ID"
    partner = await gql(REGISTER, {"input": business()}, as_=token(Role.PARTNER, new_id("ptn")))
    assert partner["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await counts(store) == before


async def test_shops_are_added_once_per_key_and_local_shops_stay_home(
    gql: GraphQLClient, store: DocumentStore
) -> None:
    _, caller = await registered(gql)
    shop = {"name": "Harbour Candles Official", "market": "ID", "idempotencyKey": "shop-1"}
    first = await gql(ADD_SHOP, {"input": shop}, as_=caller)
    again = await gql(ADD_SHOP, {"input": shop}, as_=caller)
    assert first["data"]["addShop"]["userErrors"] == []
    assert again["data"]["addShop"] == first["data"]["addShop"]
    mine = (await gql(MINE, as_=caller))["data"]["viewer"]["seller"]
    assert mine["hasShopAccount"] is True
    assert len(mine["shops"]["edges"]) == 1
    before = await counts(store)
    abroad = await gql(ADD_SHOP, {"input": {"name": "Abroad", "market": "MY"}}, as_=caller)
    assert abroad["data"]["addShop"]["userErrors"] == [
        {
            "field": ["input", "market"],
            "message": "a local seller's shops sell in its own market (ID)",
            "code": "SHOP_MARKET_MISMATCH",
        }
    ]
    reused = await gql(ADD_SHOP, {"input": {**shop, "name": "Other"}}, as_=caller)
    assert reused["data"]["addShop"]["userErrors"][0]["code"] == "IDEMPOTENCY_KEY_REUSED"
    blank = await gql(ADD_SHOP, {"input": {"name": " ", "market": "ID"}}, as_=caller)
    assert blank["data"]["addShop"]["userErrors"][0]["code"] == "REQUIRED"
    assert await counts(store) == before
    # A cross-border seller's shops sell anywhere.
    _, global_caller = await registered(gql, kind="CROSS_BORDER", market="US")
    for market in ("US", "GB"):
        added = await gql(
            ADD_SHOP, {"input": {"name": market, "market": market}}, as_=global_caller
        )
        assert added["data"]["addShop"]["userErrors"] == []
    # A token naming a seller that was never registered must sign in again.
    ghost = await gql(ADD_SHOP, {"input": shop}, as_=token(Role.SELLER, new_id("slr")))
    assert ghost["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_linking_accounts_one_seller_at_a_time(
    gql: GraphQLClient, store: DocumentStore
) -> None:
    _, first = await registered(gql)
    _, second = await registered(gql)
    linked = (await gql(LINK, {"handle": "@Harbour.Candles"}, as_=first))["data"]
    account = linked["linkTikTokAccount"]["tiktokAccount"]
    assert account["handle"] == "@harbour.candles"
    assert account["linkedStatus"] == "LINKED"
    # Linking again what you hold returns the link; another seller is refused.
    again = await gql(LINK, {"handle": "harbour.candles"}, as_=first)
    assert again["data"]["linkTikTokAccount"]["tiktokAccount"]["id"] == account["id"]
    before = await counts(store)
    taken = await gql(LINK, {"handle": "@HARBOUR.candles"}, as_=second)
    assert taken["data"]["linkTikTokAccount"]["userErrors"][0]["code"] == (
        "ACCOUNT_LINKED_ELSEWHERE"
    )
    for bad in ("@", "a", "has space", "@" + "x" * 25, "emoji🙂"):
        refused = await gql(LINK, {"handle": bad}, as_=second)
        assert refused["data"]["linkTikTokAccount"]["userErrors"][0]["code"] == "INVALID_HANDLE"
    assert await counts(store) == before
    # Once unlinked there, the other seller may link it.
    await gql(UNLINK, {"id": account["id"]}, as_=first)
    moved = await gql(LINK, {"handle": "@harbour.candles"}, as_=second)
    assert moved["data"]["linkTikTokAccount"]["tiktokAccount"]["id"] != account["id"]


async def test_two_sellers_racing_for_one_account_one_wins(
    gql: GraphQLClient, store: DocumentStore
) -> None:
    callers = [(await registered(gql))[1] for _ in range(4)]
    for round_ in range(5):
        handle = f"@race{round_}"
        attempts = [gql(LINK, {"handle": handle}, as_=caller) for caller in callers * 2]
        results = await asyncio.gather(*attempts)
        winners = [r for r in results if r["data"]["linkTikTokAccount"]["tiktokAccount"]]
        losers = [r for r in results if r["data"]["linkTikTokAccount"]["userErrors"]]
        assert len({w["data"]["linkTikTokAccount"]["tiktokAccount"]["id"] for w in winners}) == 1
        assert 1 <= len(winners) <= 2 and len(winners) + len(losers) == 8
        assert all(
            r["data"]["linkTikTokAccount"]["userErrors"][0]["code"] == "ACCOUNT_LINKED_ELSEWHERE"
            for r in losers
        )
        assert await store.count(c.TIKTOK_ACCOUNTS, {"handle": handle}) == 1


async def test_relinking_creates_a_new_link_and_revives_nothing(
    gql: GraphQLClient, store: DocumentStore, make: Make
) -> None:
    seller_id, caller = await registered(gql)
    old = (await gql(LINK, {"handle": "@candles"}, as_=caller))["data"]["linkTikTokAccount"]
    partner = await make.partner()
    offer = await insert_offer(
        store,
        partner,
        [await make.service(partner)],
        settings={**SETTINGS, "authorizeObject": "TTUID"},
    )
    accounts = [old["tiktokAccount"]["id"]]
    (authorization_id,) = await accept(gql, offer, {"_id": seller_id}, tiktokAccountIds=accounts)
    unlinked = await gql(UNLINK, {"id": old["tiktokAccount"]["id"]}, as_=caller)
    ended = unlinked["data"]["unlinkTikTokAccount"]["endedAuthorizations"]
    assert [e["id"] for e in ended] == [authorization_id]
    again = await gql(UNLINK, {"id": old["tiktokAccount"]["id"]}, as_=caller)
    assert again["data"]["unlinkTikTokAccount"]["userErrors"][0]["code"] == "ALREADY_UNLINKED"
    relinked = (await gql(LINK, {"handle": "@candles"}, as_=caller))["data"]["linkTikTokAccount"]
    assert relinked["tiktokAccount"]["id"] != old["tiktokAccount"]["id"]
    assert relinked["tiktokAccount"]["linkedStatus"] == "LINKED"
    stored = (await store.get_many(c.AUTHORIZATIONS, [authorization_id]))[authorization_id]
    assert stored["status"] == "CANCELED"
    assert stored["tiktokAccountIds"] == [old["tiktokAccount"]["id"]]
    accounts = (await gql(MINE, as_=caller))["data"]["viewer"]["seller"]["tiktokAccounts"]
    assert sorted(e["node"]["linkedStatus"] for e in accounts["edges"]) == ["LINKED", "UNLINKED"]
    assert seller_id
