"""The category catalog through the API."""

from __future__ import annotations

import pytest

from datastore.catalog import get_catalog
from datastore.enums import Market, PartnerType, Region
from tests.conftest import MAX_PAGES, GraphQLClient

CATEGORIES = """query($t: PartnerType, $r: Region, $m: Market, $first: Int, $after: String) {
  serviceCategories(partnerType: $t, registrationRegion: $r, targetMarket: $m,
                    first: $first, after: $after) {
    edges { node { id name mainCategory targetMarkets isShopRegistration } }
    pageInfo { hasNextPage endCursor } } }"""


async def test_filters_match_the_catalog(gql: GraphQLClient) -> None:
    variables = {"t": "TSP", "r": "CN_HK", "m": "GB", "first": 100}
    result = await gql(CATEGORIES, variables)
    names = [e["node"]["name"] for e in result["data"]["serviceCategories"]["edges"]]
    expected = get_catalog().find(PartnerType.TSP, Region.CN_HK, Market.GB)
    assert names == [row.name for row in expected]
    assert "Shop On-boarding Service" in names


async def test_pages_through_the_whole_catalog_without_repeats(gql: GraphQLClient) -> None:
    seen: list[str] = []
    after = None
    for _ in range(MAX_PAGES):  # bounded: a paging bug fails, never hangs
        page = (await gql(CATEGORIES, {"first": 25, "after": after}))["data"]
        connection = page["serviceCategories"]
        seen += [e["node"]["id"] for e in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    else:
        pytest.fail("paging did not reach the end within MAX_PAGES pages")
    assert seen == [row.id for row in get_catalog().all()]
    assert len(seen) == 69


async def test_shop_registration_is_flagged(gql: GraphQLClient) -> None:
    result = await gql(CATEGORIES, {"t": "TSP", "r": "US", "first": 100})
    flagged = [
        e["node"]["name"]
        for e in result["data"]["serviceCategories"]["edges"]
        if e["node"]["isShopRegistration"]
    ]
    assert flagged == ["Shop Registration"]
