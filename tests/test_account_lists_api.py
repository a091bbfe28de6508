"""Admins list partners and sellers (search, filters, Relay paging) and reopen partners."""

from __future__ import annotations

from typing import Any

from datastore import collections as c
from datastore.ids import new_id
from datastore.store import DocumentStore
from resolvers.identity import Role
from tests.conftest import GraphQLClient, Make, accept, insert_offer, token
from tests.test_partner_accounts_api import REGISTER as REGISTER_PARTNER
from tests.test_partner_accounts_api import registration
from tests.test_seller_accounts_api import REGISTER as REGISTER_SELLER
from tests.test_seller_accounts_api import business

PARTNERS = """query($query: String, $type: PartnerType, $region: Region, $status: PartnerStatus,
  $first: Int, $after: String) {
  partners(query: $query, type: $type, registrationRegion: $region, status: $status,
    first: $first, after: $after) {
    edges { node { id name } } pageInfo { hasNextPage endCursor } } }"""
SELLERS = """query($query: String, $kind: SellerKind, $market: Market, $first: Int,
  $after: String) {
  sellers(query: $query, kind: $kind, market: $market, first: $first, after: $after) {
    edges { node { id name kind market } } pageInfo { hasNextPage endCursor } } }"""
CLOSE = """mutation($input: ClosePartnerInput!) { closePartner(input: $input) {
  partner { status } userErrors { code } } }"""
REOPEN = """mutation($input: ReopenPartnerInput!) { reopenPartner(input: $input) {
  partner { id status } userErrors { field code } } }"""
ADMIN = token(Role.ADMIN)


async def register_partner(gql: GraphQLClient, **overrides: Any) -> str:
    partner_id = new_id("ptn")
    await gql(
        REGISTER_PARTNER, {"input": registration(**overrides)}, as_=token(Role.PARTNER, partner_id)
    )
    return partner_id


async def register_seller(gql: GraphQLClient, **overrides: Any) -> str:
    seller_id = new_id("slr")
    result = await gql(
        REGISTER_SELLER, {"input": business(**overrides)}, as_=token(Role.SELLER, seller_id)
    )
    assert result["data"]["registerSeller"]["userErrors"] == []
    return seller_id


async def names(gql: GraphQLClient, document: str, field: str, **variables: Any) -> list[str]:
    result = await gql(document, variables, as_=ADMIN)
    assert "errors" not in result, result
    return [e["node"]["name"] for e in result["data"][field]["edges"]]


async def test_admins_search_and_filter_partners(gql: GraphQLClient) -> None:
    await register_partner(gql, name="Harbour Commerce", contactEmail="hi@harbour.example")
    await register_partner(gql, name="Lakeside Growth", type="TSP", registrationRegion="US",
                           targetMarkets=["US"], contactEmail="team@lakeside.example")  # fmt: skip
    await register_partner(gql, name="Harbour Creators", type="MCN_CAP",
                           registrationRegion="SEA", targetMarkets=["ID"])  # fmt: skip
    assert await names(gql, PARTNERS, "partners", query="harbour") == [
        "Harbour Creators",
        "Harbour Commerce",
    ]
    assert await names(gql, PARTNERS, "partners", query="HARBOUR commerce") == ["Harbour Commerce"]
    assert await names(gql, PARTNERS, "partners", query="lakeside.example") == ["Lakeside Growth"]
    assert await names(gql, PARTNERS, "partners", query="harb") == []
    assert await names(gql, PARTNERS, "partners", query="harbour", type="MCN_CAP") == [
        "Harbour Creators"
    ]
    assert await names(gql, PARTNERS, "partners", region="US") == ["Lakeside Growth"]
    assert await names(gql, PARTNERS, "partners", status="CLOSED") == []
    too_long = await gql(PARTNERS, {"query": "x" * 201}, as_=ADMIN)
    assert too_long["errors"][0]["extensions"]["code"] == "INVALID_SEARCH"
    seller = await gql(PARTNERS, {}, as_=token(Role.SELLER, "slr_x"))
    assert seller["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_admins_page_through_sellers_with_filters(
    gql: GraphQLClient, store: DocumentStore
) -> None:
    for index in range(7):
        await register_seller(gql, name=f"Candle Shop {index}", kind="LOCAL", market="ID")
    await register_seller(gql, name="Global Candle Export", kind="CROSS_BORDER", market="US")
    seen: list[str] = []
    after = None
    store.stats.reset()
    pages = 0
    while True:
        result = await gql(SELLERS, {"query": "candle", "first": 3, "after": after}, as_=ADMIN)
        connection = result["data"]["sellers"]
        seen += [e["node"]["name"] for e in connection["edges"]]
        pages += 1
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert pages == 3
    assert seen == ["Global Candle Export", *[f"Candle Shop {i}" for i in range(6, -1, -1)]]
    # One read per page, each of at most a page and one more.
    assert store.stats.round_trips == pages
    assert store.stats.documents_read <= pages * 4
    assert await names(gql, SELLERS, "sellers", kind="CROSS_BORDER") == ["Global Candle Export"]
    assert await names(gql, SELLERS, "sellers", market="ID", query="shop 3") == ["Candle Shop 3"]
    partner = await gql(SELLERS, {}, as_=token(Role.PARTNER, new_id("ptn")))
    assert partner["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    anonymous = await gql(SELLERS, {})
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_reopening_a_partner_keeps_ended_authorizations_ended(
    gql: GraphQLClient, store: DocumentStore, make: Make
) -> None:
    partner_id = await register_partner(gql, name="Mistaken Partner")
    partner = (await store.get_many(c.PARTNERS, [partner_id]))[partner_id]
    service = await make.service(partner)
    offer = await insert_offer(store, partner, [service])
    seller_id = await register_seller(gql, name="Loyal Seller", market="ID")
    await gql(
        "mutation($h: String!) { linkTikTokAccount(handle: $h) { tiktokAccount { id } } }",
        {"h": "@loyal"},
        as_=token(Role.SELLER, seller_id),
    )
    await gql(
        "mutation($i: AddShopInput!) { addShop(input: $i) { shop { id } } }",
        {"i": {"name": "Loyal", "market": "ID"}},
        as_=token(Role.SELLER, seller_id),
    )
    (authorization_id,) = await accept(gql, offer, {"_id": seller_id})
    before = await store.find(c.PARTNERS)
    not_closed = await gql(REOPEN, {"input": {"id": partner_id, "reason": "x"}}, as_=ADMIN)
    assert not_closed["data"]["reopenPartner"]["userErrors"] == [
        {"field": ["input", "id"], "code": "NOT_CLOSED"}
    ]
    assert await store.find(c.PARTNERS) == before
    await gql(CLOSE, {"input": {"id": partner_id, "reason": "Policy violation"}}, as_=ADMIN)
    blank = await gql(REOPEN, {"input": {"id": partner_id, "reason": " "}}, as_=ADMIN)
    assert blank["data"]["reopenPartner"]["userErrors"][0]["code"] == "REASON_REQUIRED"
    reopened = await gql(
        REOPEN, {"input": {"id": partner_id, "reason": "Closed by mistake"}}, as_=ADMIN
    )
    assert reopened["data"]["reopenPartner"]["partner"] == {"id": partner_id, "status": "ACTIVE"}
    stored = (await store.get_many(c.AUTHORIZATIONS, [authorization_id]))[authorization_id]
    assert stored["status"] == "CLOSED"
    listed = (await store.get_many(c.SERVICES, [service["_id"]]))[service["_id"]]
    assert listed["listed"] is True
    store_page = await gql("{ store { edges { node { id } } } }")
    assert [e["node"]["id"] for e in store_page["data"]["store"]["edges"]] == [service["_id"]]
    partner_caller = await gql(
        REOPEN, {"input": {"id": partner_id, "reason": "x"}}, as_=token(Role.PARTNER, partner_id)
    )
    assert partner_caller["errors"][0]["extensions"]["code"] == "FORBIDDEN"
