"""`totalCount` on every connection: the whole list's size with the same filters, counted only
when asked for, one grouped count per nesting level."""

from __future__ import annotations

import pytest
from graphql import GraphQLObjectType

from datastore.store import DocumentStore
from resolvers.identity import Role
from tests.conftest import GraphQLClient, Make, token, token_of

NESTED = """query($total: Boolean!) {
  partners(first: 2) {
    totalCount @include(if: $total)
    edges { node { id services(first: 1, status: [LIVE]) {
      totalCount @include(if: $total)
      edges { node { id history(first: 1) { totalCount @include(if: $total) } } }
    } } }
  }
}"""


def test_every_connection_has_a_total_count() -> None:
    from schema.api import schema

    connections = [
        name
        for name, graphql_type in schema._schema.type_map.items()
        if name.endswith("Connection") and isinstance(graphql_type, GraphQLObjectType)
    ]
    assert len(connections) >= 8
    for name in connections:
        graphql_type = schema._schema.type_map[name]
        assert isinstance(graphql_type, GraphQLObjectType)
        assert str(graphql_type.fields["totalCount"].type) == "Int!", name


async def test_totals_count_whole_filtered_lists_in_one_round_trip_per_level(
    gql: GraphQLClient, store: DocumentStore, make: Make
) -> None:
    partners = [await make.partner() for _ in range(3)]
    for count, partner in enumerate(partners, start=2):
        for _ in range(count):
            await make.service(partner)
        await make.service(partner, status="DRAFT")
    admin = token(Role.ADMIN)
    store.stats.reset()
    plain = await gql(NESTED, {"total": False}, as_=admin)
    without = store.stats.round_trips
    store.stats.reset()
    counted = await gql(NESTED, {"total": True}, as_=admin)
    assert "errors" not in counted, counted
    # Three levels of lists, each one more (grouped) round trip, whatever the page sizes.
    assert store.stats.round_trips - without == 3
    listing = counted["data"]["partners"]
    assert listing["totalCount"] == 3
    services = {e["node"]["id"]: e["node"]["services"] for e in listing["edges"]}
    expected = {p["_id"]: n for n, p in enumerate(partners, start=2)}
    assert {pid: s["totalCount"] for pid, s in services.items()} == {
        pid: expected[pid] for pid in services
    }
    assert all(
        e["node"]["history"]["totalCount"] == 0 for s in services.values() for e in s["edges"]
    )
    assert [e["node"]["id"] for e in plain["data"]["partners"]["edges"]] == list(services)


@pytest.mark.parametrize(
    "query",
    [
        "{ serviceCategories(first: 2) { totalCount edges { cursor } } }",
        "{ store(first: 1) { totalCount } }",
        "{ authorizations(first: 1) { totalCount } }",
        "{ requests(first: 1) { totalCount } }",
        "{ viewer { partner { serviceOffers(first: 1) { totalCount } "
        "categoryApplications(first: 1) { totalCount } } } }",
    ],
)
async def test_root_and_nested_totals_answer(gql: GraphQLClient, make: Make, query: str) -> None:
    partner = await make.partner()
    result = await gql(query, as_=token_of(partner))
    assert "errors" not in result, result


async def test_a_list_hidden_from_the_caller_counts_zero(gql: GraphQLClient, make: Make) -> None:
    partner = await make.partner()
    await make.service(partner, status="DRAFT")
    query = """query($id: ID!) { node(id: $id) { ... on Partner {
      services(first: 1) { totalCount } authorizations(first: 1) { totalCount } } } }"""
    outsider = token(Role.PARTNER, (await make.partner())["_id"])
    result = await gql(query, {"id": partner["_id"]}, as_=outsider)
    assert result["data"]["node"] == {
        "services": {"totalCount": 0},
        "authorizations": {"totalCount": 0},
    }
