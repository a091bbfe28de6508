"""With introspection off (the default outside demo mode) a gateway answers one piece of it, a
type's name lookup (`__type(name: ...)` asking only `name`, `kind` or `__typename`), which says
only whether a type the caller already named exists; anything more is INTROSPECTION_DISABLED."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from datastore.store import DocumentStore
from tests.conftest import SETTINGS, serving

NAME_LOOKUPS = [
    pytest.param('{ __type(name: "Query") { name } }', {"__type": {"name": "Query"}}, id="name"),
    pytest.param(
        '{ t: __type(name: "Query") { n: name kind __typename } }',
        {"t": {"n": "Query", "kind": "OBJECT", "__typename": "__Type"}},
        id="aliases-kind-typename",
    ),
    pytest.param(
        '{ __type(name: "Query") { ... on __Type { name } ...Kind } }\n'
        "fragment Kind on __Type { kind }",
        {"__type": {"name": "Query", "kind": "OBJECT"}},
        id="fragments",
    ),
    pytest.param('{ __type(name: "Partnr") { name } }', {"__type": None}, id="unknown-type"),
    pytest.param(
        '{ __typename __type(name: "Query") { name } }',
        {"__typename": "Query", "__type": {"name": "Query"}},
        id="beside-typename",
    ),
]

REFUSED = [
    pytest.param('{ __type(name: "Query") { fields { name } } }', id="fields"),
    pytest.param('{ __type(name: "Query") { name description } }', id="description"),
    pytest.param('{ __type(name: "Query") { name f: fields { name } } }', id="aliased-fields"),
    pytest.param('{ __type(name: "Query") { name: fields { name } } }', id="fields-as-name"),
    pytest.param('{ __type(name: "Query") { ... on __Type { fields { name } } } }', id="inline"),
    pytest.param(
        '{ __type(name: "Query") { ...Shape } }\nfragment Shape on __Type { fields { name } }',
        id="fragment",
    ),
    pytest.param(
        '{ __type(name: "Query") { ...A } }\nfragment A on __Type { name ...B }\n'
        "fragment B on __Type { possibleTypes { name } }",
        id="fragment-in-fragment",
    ),
    pytest.param(
        '{ ...Q }\nfragment Q on Query { __type(name: "Query") { fields { name } } }',
        id="lookup-in-fragment",
    ),
    pytest.param('{ __type(name: "Query") { ...Missing } }', id="unknown-fragment"),
    pytest.param(
        '{ a: __type(name: "Query") { name } b: __type(name: "Node") { possibleTypes { name } } }',
        id="second-lookup",
    ),
    pytest.param('{ __type(name: "Query") { nmae } }', id="misspelt"),
    pytest.param("{ __schema { queryType { name } } }", id="schema"),
    pytest.param("{ __schema { __typename } }", id="schema-typename"),
    pytest.param('{ __type(name: "Query") { name } __schema { __typename } }', id="with-schema"),
]


@pytest.fixture
async def http(store: DocumentStore) -> AsyncIterator[httpx.AsyncClient]:
    assert not SETTINGS.policy.limits.introspection
    async with serving(store, SETTINGS) as client:
        yield client


@pytest.mark.parametrize(("query", "data"), NAME_LOOKUPS)
async def test_a_name_lookup_is_answered_with_introspection_off(
    http: httpx.AsyncClient, query: str, data: dict[str, Any]
) -> None:
    answer = (await http.post("/graphql", json={"query": query})).json()
    assert answer.get("errors") is None, answer
    assert answer["data"] == data


async def test_a_name_lookup_by_variable_as_clients_send_it(http: httpx.AsyncClient) -> None:
    query = "query Type($name: String!) { __type(name: $name) { name } }"
    posted = await http.post("/graphql", json={"query": query, "variables": {"name": "Query"}})
    got = await http.get(
        "/graphql",
        params={"query": query, "variables": '{"name": "sometype"}'},
        headers={"accept": "application/graphql-response+json"},
    )
    assert posted.status_code == 200 and posted.json()["data"] == {"__type": {"name": "Query"}}
    assert got.status_code == 200 and got.json() == {
        "data": {"__type": None},
        "extensions": got.json()["extensions"],
    }


@pytest.mark.parametrize("query", REFUSED)
async def test_anything_more_is_refused(http: httpx.AsyncClient, query: str) -> None:
    response = await http.post("/graphql", json={"query": query})
    answer = response.json()
    [error] = answer["errors"]
    assert error["extensions"]["code"] == "INTROSPECTION_DISABLED", answer
    assert "data" not in answer
    assert "Did you mean" not in error["message"]
