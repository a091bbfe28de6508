"""Query cost (Shopify's model): computed before execution, reported on every response,
refused over the single-query maximum without touching the store."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import pytest
from graphql import get_introspection_query, parse

from datastore.store import DocumentStore
from edge.cost import requested_cost, select_operation
from edge.extension import GatewayPolicy
from edge.introspection_cost import OBJECTS_PER_POINT
from edge.limits import Limits
from edge.throttle import ThrottlePolicy
from resolvers.identity import Role
from schema.api import schema
from tests.conftest import SETTINGS, GraphQLClient, Make, serving, token

OFF = ThrottlePolicy(enabled=False)


def _cost(body: dict[str, Any]) -> dict[str, Any]:
    cost: dict[str, Any] = body["extensions"]["cost"]
    return cost


async def test_every_response_reports_its_cost(gql: GraphQLClient) -> None:
    body = await gql("{ __typename }")
    assert _cost(body) == {
        "requestedQueryCost": 0,
        "actualQueryCost": 0,
        "throttleStatus": {
            "maximumAvailable": 2000,
            "currentlyAvailable": 2000,
            "restoreRate": 100,
        },
    }
    refused = await gql("{ nope }")
    assert "cost" in refused["extensions"]


async def test_a_connection_costs_two_plus_its_page_and_actual_counts_what_was_read(
    gql: GraphQLClient, make: Make
) -> None:
    for _ in range(3):
        await make.partner()
    body = await gql(
        "{ partners(first: 5) { nodes { name } pageInfo { hasNextPage } } }",
        as_=token(Role.ADMIN),
    )
    assert len(body["data"]["partners"]["nodes"]) == 3
    # 2 for the page + 5 partners of 1 each; three were really read.
    assert _cost(body)["requestedQueryCost"] == 7
    assert _cost(body)["actualQueryCost"] == 5


async def test_page_size_comes_from_variables_and_defaults(gql: GraphQLClient) -> None:
    query = "query($n: Int) { serviceCategories(first: $n) { nodes { name } } }"
    assert _cost(await gql(query, {"n": 8}))["requestedQueryCost"] == 10
    # No first/last: the default page size (20).
    assert _cost(await gql(query))["requestedQueryCost"] == 22
    defaulted = "query($n: Int = 4) { serviceCategories(first: $n) { nodes { name } } }"
    assert _cost(await gql(defaulted))["requestedQueryCost"] == 6


async def test_fragments_nesting_and_skipped_fields_are_costed(gql: GraphQLClient) -> None:
    query = """query($skip: Boolean!) {
      store(first: 10) { edges { node { ...S partner @skip(if: $skip) { name } } } }
    }
    fragment S on Service { name partner { services(first: 5) { nodes { name } } } }"""
    # 2 + 10 x (service 1 + partner 1 + services (2 + 5 x 1)) = 92; the skipped partner adds
    # nothing, and when included it merges with the fragment's partner field.
    assert _cost(await gql(query, {"skip": True}))["requestedQueryCost"] == 92
    assert _cost(await gql(query, {"skip": False}))["requestedQueryCost"] == 92


def _fragment_diamond(links: int, leaf: str) -> str:
    """A chain of fragments each spreading the next one twice: ``links`` fragments of a few
    selections that name 2^links spreads of the last one."""
    chain = " ".join(f"fragment F{i} on Viewer {{ ...F{i + 1} ...F{i + 1} }}" for i in range(links))
    return f"{{ viewer {{ ...F0 }} }} {chain} fragment F{links} on Viewer {{ {leaf} }}"


async def test_a_fragment_spread_twice_is_costed_once(gql: GraphQLClient) -> None:
    """As execution collects it: the cost walk expanding each spread afresh took 2^n steps on
    the event loop (a 926-character anonymous query, n = 22, held a served gateway 24 s, past
    its request timeout). With 64 links it could not end before the suite's timeout."""
    body = await gql(_fragment_diamond(64, "role"))
    assert body["data"] == {"viewer": {"role": None}}
    document = parse(_fragment_diamond(64, "partner { services(first: 5) { nodes { name } } }"))
    operation = select_operation(document, None)
    assert operation is not None
    # The viewer 1, its partner 1 and the partner's services (2 + 5 x 1), once.
    assert requested_cost(schema._schema, document, operation, None) == 9


async def test_a_mutation_costs_ten_plus_its_selection(gql: GraphQLClient) -> None:
    body = await gql(
        'mutation { withdrawServiceOffer(id: "ofr_x") {'
        " serviceOffer { id } userErrors { code } } }",
        as_=token(Role.PARTNER, "ptn_x"),
    )
    # 10 for the mutation, 1 for the offer, 1 for (at most) one user error.
    assert _cost(body)["requestedQueryCost"] == 12


DEEP = (
    "{ store(first: 100) { nodes { partner { services(first: 100) { nodes { partner { "
    "services(first: 100) { nodes { name } } } } } } } } }"
)


async def test_over_the_maximum_is_refused_before_any_store_round_trip(
    gql: GraphQLClient, store: DocumentStore
) -> None:
    store.stats.reset()
    body = await gql(DEEP)
    assert store.stats.round_trips == 0
    assert "data" not in body  # refused before execution: a request error
    [error] = body["errors"]
    assert error["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert error["extensions"]["maximum"] == 1000
    assert error["extensions"]["cost"] == _cost(body)["requestedQueryCost"] > 1000
    assert _cost(body)["actualQueryCost"] == 0


@pytest.mark.parametrize(("maximum", "refused"), [(9, True), (10, False), (11, False)])
async def test_the_maximum_at_just_under_and_just_over(
    store: DocumentStore, maximum: int, refused: bool
) -> None:
    settings = replace(SETTINGS, policy=GatewayPolicy(max_query_cost=maximum, throttle=OFF))
    async with serving(store, settings) as http:
        response = await http.post(
            "/graphql", json={"query": "{ serviceCategories(first: 8) { nodes { name } } }"}
        )
    body = response.json()
    assert response.status_code == 200
    codes = [e["extensions"]["code"] for e in body.get("errors", [])]
    assert codes == (["MAX_COST_EXCEEDED"] if refused else [])


async def test_lists_count_their_assumed_size_and_nodes_its_ids(http: httpx.AsyncClient) -> None:
    ids = ["ptn_a", "ptn_b", "ptn_c"]
    response = await http.post(
        "/graphql",
        json={
            "query": "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            "variables": {"ids": ids},
        },
    )
    assert _cost(response.json())["requestedQueryCost"] == 3


def _objects(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + sum(_objects(item) for item in value.values())
    if isinstance(value, list):
        return sum(_objects(item) for item in value)
    return 0


async def test_introspection_costs_the_objects_it_answers(store: DocumentStore) -> None:
    """Counted over the schema before it runs, so requested and actual agree: a caller
    repeating 15 aliased ``__schema`` selections once cost nothing (400 ms of CPU each)."""
    policy = GatewayPolicy(limits=Limits(introspection=True), throttle=OFF)
    queries = [
        get_introspection_query(descriptions=True),
        "{ __schema { types { name fields { name args { name } type { name } } } } }",
        '{ __type(name: "Partner") { fields(includeDeprecated: true) { type { ofType { name }'
        " } } } }",
        '{ __type(name: "NoSuchType") { name } }',
    ]
    async with serving(store, replace(SETTINGS, policy=policy)) as http:
        for query in queries:
            for _ in range(3):  # from the third time, validated already: no fee beside
                body = (await http.post("/graphql", json={"query": query})).json()
            assert "errors" not in body, body
            objects = _objects(body["data"]) - 1  # the data itself is no object
            cost = _cost(body)
            assert cost["requestedQueryCost"] == cost["actualQueryCost"]
            assert cost["actualQueryCost"] == -(-objects // OBJECTS_PER_POINT)
        assert objects == 0
        heavy = "{ __schema { types { name fields { name args { name } type { name } } } } }"
        many = "{ " + " ".join(f"a{n}: {heavy[2:-2]}" for n in range(15)) + " }"
        body = (await http.post("/graphql", json={"query": many})).json()
        assert [e["extensions"]["code"] for e in body["errors"]] == ["MAX_COST_EXCEEDED"]
