"""Partners through the API: visibility by role, admin listing, services, pagination."""

from __future__ import annotations

import pytest

from datastore import collections as c
from datastore.enums import PartnerStatus, PartnerType, Region, ServiceStatus, ServiceType
from datastore.store import DocumentStore
from resolvers.identity import Role
from tests.conftest import (
    MAX_PAGES,
    GraphQLClient,
    Make,
    token,
    token_of,
)

PARTNER = """query($id: ID!) { partner(id: $id) { id name type registrationRegion targetMarkets
  status services { edges { node { id status type } } } } }"""


async def test_anyone_reads_an_active_partner_with_only_store_services(
    gql: GraphQLClient, make: Make
) -> None:
    partner = await make.partner(registrationRegion=Region.UK, type=PartnerType.MCN_CAP)
    live = await make.service(partner)
    await make.service(partner, status=ServiceStatus.DRAFT)
    await make.service(partner, type=ServiceType.CUSTOM)
    result = await gql(PARTNER, {"id": partner["_id"]})
    data = result["data"]["partner"]
    assert data["type"] == "MCN_CAP"
    assert data["registrationRegion"] == "UK"
    assert data["targetMarkets"] == ["GB"]
    assert [e["node"]["id"] for e in data["services"]["edges"]] == [live["_id"]]


async def test_owner_and_admin_see_every_service_other_callers_do_not(
    gql: GraphQLClient, make: Make
) -> None:
    partner = await make.partner()
    other = await make.partner()
    seller = await make.seller()
    await make.service(partner)
    await make.service(partner, status=ServiceStatus.DRAFT)
    await make.service(partner, type=ServiceType.CUSTOM)
    counts = {}
    for name, caller in {
        "owner": token_of(partner),
        "admin": token(Role.ADMIN),
        "other": token(Role.PARTNER, other["_id"]),
        "seller": token_of(seller),
        "anonymous": None,
    }.items():
        result = await gql(PARTNER, {"id": partner["_id"]}, as_=caller)
        counts[name] = len(result["data"]["partner"]["services"]["edges"])
    assert counts == {"owner": 3, "admin": 3, "other": 1, "seller": 1, "anonymous": 1}


async def test_status_filter_cannot_widen_what_others_see(gql: GraphQLClient, make: Make) -> None:
    partner = await make.partner()
    await make.service(partner, status=ServiceStatus.DRAFT)
    query = """query($id: ID!) { partner(id: $id) {
      services(status: [DRAFT]) { edges { node { id } } } } }"""
    anonymous = await gql(query, {"id": partner["_id"]})
    assert anonymous["data"]["partner"]["services"]["edges"] == []
    owner = await gql(query, {"id": partner["_id"]}, as_=token_of(partner))
    assert len(owner["data"]["partner"]["services"]["edges"]) == 1


async def test_closed_partner_reads_as_not_found_except_to_itself_and_admins(
    gql: GraphQLClient, make: Make
) -> None:
    closed = await make.partner(status=PartnerStatus.CLOSED)
    result = await gql(PARTNER, {"id": closed["_id"]})
    assert result["data"]["partner"] is None
    assert result["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    for caller in (token(Role.ADMIN), token(Role.PARTNER, closed["_id"])):
        seen = await gql(PARTNER, {"id": closed["_id"]}, as_=caller)
        assert seen["data"]["partner"]["status"] == "CLOSED"


async def test_partner_lookup_errors(gql: GraphQLClient, make: Make) -> None:
    seller = await make.seller()
    unknown = await gql(PARTNER, {"id": "ptn_01aaaaaaaaaaaaaaaaaaaaaaaa"})
    assert unknown["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    malformed = await gql(PARTNER, {"id": "not-an-id"})
    assert malformed["errors"][0]["extensions"]["code"] == "INVALID_ID"
    wrong_type = await gql(PARTNER, {"id": seller["_id"]})
    assert wrong_type["errors"][0]["extensions"]["code"] == "INVALID_ID"


PARTNERS = """query($first: Int, $after: String, $last: Int, $before: String, $type: PartnerType) {
  partners(first: $first, after: $after, last: $last, before: $before, type: $type) {
    edges { cursor node { id } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""


async def test_partners_listing_is_for_admins_only(gql: GraphQLClient, make: Make) -> None:
    partner = await make.partner()
    seller = await make.seller()
    for caller in (None, token_of(partner), token_of(seller)):
        result = await gql(PARTNERS, as_=caller)
        assert result["data"] == {"partners": None}
        expected = "UNAUTHENTICATED" if caller is None else "FORBIDDEN"
        assert result["errors"][0]["extensions"]["code"] == expected
    allowed = await gql(PARTNERS, as_=token(Role.ADMIN))
    assert [e["node"]["id"] for e in allowed["data"]["partners"]["edges"]] == [partner["_id"]]


async def test_partners_pages_forwards_and_backwards_newest_first(
    gql: GraphQLClient, make: Make, admin: str
) -> None:
    created = [(await make.partner())["_id"] for _ in range(7)]
    newest_first = list(reversed(created))
    seen: list[str] = []
    after = None
    for _ in range(MAX_PAGES):  # bounded: a paging bug fails, never hangs
        page = (await gql(PARTNERS, {"first": 3, "after": after}, as_=admin))["data"]["partners"]
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    else:
        pytest.fail("paging did not reach the end within MAX_PAGES pages")
    assert seen == newest_first
    last = (await gql(PARTNERS, {"last": 2}, as_=admin))["data"]["partners"]
    assert [e["node"]["id"] for e in last["edges"]] == newest_first[-2:]
    assert last["pageInfo"]["hasPreviousPage"] is True
    before = last["pageInfo"]["startCursor"]
    earlier = (await gql(PARTNERS, {"last": 3, "before": before}, as_=admin))["data"]["partners"]
    assert [e["node"]["id"] for e in earlier["edges"]] == newest_first[2:5]


async def test_partners_filter_by_type(gql: GraphQLClient, make: Make, admin: str) -> None:
    await make.partner()
    affiliate = await make.partner(type=PartnerType.AFFILIATE_PARTNER)
    result = await gql(PARTNERS, {"type": "AFFILIATE_PARTNER"}, as_=admin)
    assert [e["node"]["id"] for e in result["data"]["partners"]["edges"]] == [affiliate["_id"]]


async def test_page_size_cursor_and_enum_errors(
    gql: GraphQLClient, make: Make, admin: str, store: DocumentStore
) -> None:
    await make.partner()
    too_big = await gql(PARTNERS, {"first": 101}, as_=admin)
    assert too_big["errors"][0]["extensions"]["code"] == "INVALID_PAGE_SIZE"
    assert "between 0 and 100" in too_big["errors"][0]["message"]
    negative = await gql(PARTNERS, {"last": -1}, as_=admin)
    assert negative["errors"][0]["extensions"]["code"] == "INVALID_PAGE_SIZE"
    bad_cursor = await gql(PARTNERS, {"after": "definitely-not-a-cursor"}, as_=admin)
    assert bad_cursor["errors"][0]["extensions"]["code"] == "INVALID_CURSOR"
    bad_enum = await gql(PARTNERS, {"type": "WIZARD"}, as_=admin)
    assert "data" not in bad_enum  # a request error (variable coercion)
    assert "WIZARD" in bad_enum["errors"][0]["message"]
    assert await store.count(c.PARTNERS) == 1
