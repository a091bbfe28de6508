"""Authorization lists a dashboard syncs from: filters, sort keys, incremental sync, and
cursors that stay stable under each order."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

import pytest

from datastore import collections as c
from datastore.codec import Document, utc_now
from datastore.documents import AuthorizationDocument
from datastore.enums import Market
from datastore.ids import new_id
from datastore.store import Collection, DocumentStore
from resolvers.identity import Role
from resolvers.offer_dates import day_after, day_start
from tests.conftest import GraphQLClient, Make, token, token_of

LIST = """query($filter: AuthorizationFilter, $sortKey: AuthorizationSortKey, $reverse: Boolean!,
  $first: Int, $after: String) {
  authorizations(filter: $filter, sortKey: $sortKey, reverse: $reverse, first: $first,
    after: $after) {
    totalCount edges { cursor node { id endsAt updatedAt createdAt } }
    pageInfo { hasNextPage endCursor } } }"""


async def _authorizations(
    store: DocumentStore,
    partner: Mapping[str, Any],
    sellers: Sequence[Mapping[str, Any]],
    services: Sequence[Mapping[str, Any]],
) -> list[AuthorizationDocument]:
    """One authorization per (seller, service), with distinct ends and update times."""
    made = []
    base = utc_now()
    for index, (seller, service) in enumerate(
        (seller, service) for seller in sellers for service in services
    ):
        created = base - timedelta(hours=index)
        made.append(
            await store.insert(
                c.AUTHORIZATIONS,
                {
                    "_id": new_id("aut"),
                    "sellerId": seller["_id"],
                    "partnerId": partner["_id"],
                    "serviceId": service["_id"],
                    "settings": {
                        "authorizeObject": "SHOP",
                        "ticketAuthorization": True,
                        "tspAccess": False,
                        "dataCompassAccess": False,
                    },
                    "shopIds": [],
                    "tiktokAccountIds": [],
                    "channel": "STORE",
                    "startsAt": day_start(base.date()),
                    # Ends in reverse order of creation, changes in yet another order.
                    "endsAt": day_after(base.date() + timedelta(days=10 + 7 * index)),
                    "status": "ACTIVE",
                    "statusReason": "AUTHORIZED",
                    "activeKey": f"{seller['_id']}|{service['_id']}",
                    "createdAt": created,
                    "updatedAt": base - timedelta(minutes=(index * 37) % 11),
                },
            )
        )
    return made


@pytest.fixture
async def setup(store: DocumentStore, make: Make) -> dict[str, Any]:
    partner = await make.partner()
    sellers = [await make.seller(market=Market.ID) for _ in range(2)]
    services = [await make.service(partner) for _ in range(3)]
    made = await _authorizations(store, partner, sellers, services)
    return {"partner": partner, "sellers": sellers, "services": services, "made": made}


async def _all_pages(
    gql: GraphQLClient, caller: str, variables: dict[str, Any], size: int = 2
) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    after = None
    for _ in range(20):  # bounded: at most 20 pages
        result = await gql(LIST, {**variables, "first": size, "after": after}, as_=caller)
        assert "errors" not in result, result
        page = result["data"]["authorizations"]
        nodes += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]
    raise AssertionError("too many pages")


@pytest.mark.parametrize(
    ("sort_key", "field", "descending"),
    [
        (None, "createdAt", True),
        ("CREATED_AT", "createdAt", True),
        ("UPDATED_AT", "updatedAt", True),
        ("ENDS_AT", "endsAt", False),
    ],
)
@pytest.mark.parametrize("reverse", [False, True])
async def test_each_sort_key_pages_through_everything_once_in_order(
    gql: GraphQLClient,
    setup: dict[str, Any],
    sort_key: str | None,
    field: str,
    descending: bool,
    reverse: bool,
) -> None:
    caller = token(Role.PARTNER, setup["partner"]["_id"])
    nodes = await _all_pages(gql, caller, {"sortKey": sort_key, "reverse": reverse})
    assert sorted(n["id"] for n in nodes) == sorted(a["_id"] for a in setup["made"])
    values = [(n[field], n["id"]) for n in nodes]
    assert values == sorted(values, reverse=descending != reverse)


async def test_a_cursor_from_another_order_is_refused(
    gql: GraphQLClient, setup: dict[str, Any]
) -> None:
    caller = token(Role.PARTNER, setup["partner"]["_id"])
    first = await gql(LIST, {"sortKey": "ENDS_AT", "reverse": False, "first": 1}, as_=caller)
    cursor = first["data"]["authorizations"]["pageInfo"]["endCursor"]
    for sort_key, reverse in (("UPDATED_AT", False), ("ENDS_AT", True), (None, False)):
        refused = await gql(
            LIST, {"sortKey": sort_key, "reverse": reverse, "first": 1, "after": cursor}, as_=caller
        )
        assert refused["errors"][0]["extensions"]["code"] == "INVALID_CURSOR"


async def test_filters_narrow_the_list_and_its_total(
    gql: GraphQLClient, setup: dict[str, Any]
) -> None:
    caller = token(Role.PARTNER, setup["partner"]["_id"])
    made = setup["made"]
    seller, service = setup["sellers"][1], setup["services"][0]
    middle = sorted(a["endsAt"] for a in made)[1:4]
    since = sorted(a["updatedAt"] for a in made)[3]
    cases: dict[str, tuple[dict[str, Any], Callable[[Document], bool]]] = {
        "sellerId": ({"sellerId": seller["_id"]}, lambda a: a["sellerId"] == seller["_id"]),
        "serviceId": ({"serviceId": service["_id"]}, lambda a: a["serviceId"] == service["_id"]),
        "both": (
            {"sellerId": seller["_id"], "serviceId": service["_id"]},
            lambda a: a["sellerId"] == seller["_id"] and a["serviceId"] == service["_id"],
        ),
        "endsAt range": (
            {"endsAtFrom": middle[0].isoformat(), "endsAtTo": middle[-1].isoformat()},
            lambda a: middle[0] <= a["endsAt"] <= middle[-1],
        ),
        "updatedSince": (
            {"updatedSince": since.isoformat()},
            lambda a: a["updatedAt"] >= since,
        ),
        "another partner": ({"partnerId": new_id("ptn")}, lambda a: False),
    }
    for name, (filter, wanted) in cases.items():
        result = await gql(LIST, {"filter": filter, "reverse": False, "first": 50}, as_=caller)
        assert "errors" not in result, (name, result)
        listing = result["data"]["authorizations"]
        expected = {a["_id"] for a in made if wanted(a)}
        assert {e["node"]["id"] for e in listing["edges"]} == expected, name
        assert listing["totalCount"] == len(expected), name


async def test_a_seller_filter_cannot_widen_what_the_caller_sees(
    gql: GraphQLClient, setup: dict[str, Any], make: Make
) -> None:
    mine = setup["sellers"][0]
    other = setup["sellers"][1]
    result = await gql(
        LIST,
        {"filter": {"sellerId": other["_id"]}, "reverse": False},
        as_=token(Role.SELLER, mine["_id"]),
    )
    assert result["data"]["authorizations"]["edges"] == []


async def test_malformed_filter_ids_are_refused_with_a_code(
    gql: GraphQLClient, setup: dict[str, Any]
) -> None:
    caller = token(Role.PARTNER, setup["partner"]["_id"])
    for filter in ({"sellerId": "nope"}, {"serviceId": setup["sellers"][0]["_id"]}):
        result = await gql(LIST, {"filter": filter, "reverse": False}, as_=caller)
        assert result["errors"][0]["extensions"]["code"] == "INVALID_ID", result


async def _touch(
    store: DocumentStore,
    collection: Collection[Mapping[str, Any]],
    document: Mapping[str, Any],
    when: Any,
) -> None:
    current = (await store.get_many(collection, [document["_id"]]))[document["_id"]]
    await store.update(
        collection,
        document["_id"],
        expected_version=current["version"],
        changes={"updatedAt": when},
    )


async def test_every_synced_list_takes_updated_since(
    gql: GraphQLClient, store: DocumentStore, make: Make
) -> None:
    partner = await make.partner()
    old, recent = await make.service(partner), await make.service(partner)
    long_ago, now = utc_now() - timedelta(days=30), utc_now()
    await _touch(store, c.SERVICES, old, long_ago)
    await _touch(store, c.SERVICES, recent, now)
    await _touch(store, c.PARTNERS, partner, now)
    other = await make.partner()
    await _touch(store, c.PARTNERS, other, long_ago)
    since = (now - timedelta(days=1)).isoformat()
    query = """query($since: DateTime, $id: ID!) {
      partners(updatedSince: $since) { totalCount edges { node { id } } }
      node(id: $id) { ... on Partner {
        services(updatedSince: $since) { totalCount edges { node { id } } }
        serviceOffers(updatedSince: $since) { totalCount }
        categoryApplications(updatedSince: $since) { totalCount }
        requests(updatedSince: $since) { totalCount } } } }"""
    result = await gql(query, {"since": since, "id": partner["_id"]}, as_=token(Role.ADMIN))
    assert "errors" not in result, result
    assert [e["node"]["id"] for e in result["data"]["partners"]["edges"]] == [partner["_id"]]
    services = result["data"]["node"]["services"]
    assert [e["node"]["id"] for e in services["edges"]] == [recent["_id"]]
    assert services["totalCount"] == 1


async def test_a_partner_filters_its_inbox_by_seller(
    gql: GraphQLClient, store: DocumentStore, make: Make
) -> None:
    partner = await make.partner()
    sellers = [await make.seller() for _ in range(2)]
    now = utc_now()
    for seller in sellers:
        await store.insert(
            c.REQUESTS,
            {
                "_id": new_id("req"),
                "sellerId": seller["_id"],
                "partnerId": partner["_id"],
                "partnerIndex": 0,
                "contact": {"subject": "Mia", "email": "mia@shop.example"},
                "business": {
                    "companySize": "SIZE_1_10",
                    "currency": "USD",
                    "shopMonthlyGmv": "100",
                    "monthlyBudget": "10",
                    "mainProductCategory": "HEALTH",
                },
                "status": "PARTNER_REVIEWING",
                "createdAt": now,
                "updatedAt": now,
            },
        )
    query = """query($seller: ID) { requests(sellerId: $seller) {
      totalCount edges { node { seller { id } } } } }"""
    caller = token_of(partner)
    result = await gql(query, {"seller": sellers[1]["_id"]}, as_=caller)
    inbox = result["data"]["requests"]
    assert [e["node"]["seller"]["id"] for e in inbox["edges"]] == [sellers[1]["_id"]]
    assert inbox["totalCount"] == 1
    bad = await gql(query, {"seller": partner["_id"]}, as_=caller)
    assert bad["errors"][0]["extensions"]["code"] == "INVALID_ID"
