"""Structural limits: each refused before execution, naming the limit, its value and what was
found; the rules are built once so Strawberry's parser and validation caches keep hitting."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import pytest
from strawberry.extensions.parser_cache import _get_parse_cache
from strawberry.extensions.validation_cache import _get_validate_cache

from datastore.store import DocumentStore
from edge.extension import CACHE_SIZE, GatewayPolicy
from edge.limits import Limits, structural_rules
from edge.throttle import ThrottlePolicy
from tests.conftest import SETTINGS, serving

SMALL = Limits(
    max_depth=3,
    max_aliases=2,
    max_tokens=60,
    max_root_fields=2,
    max_operations=2,
    max_directives_per_field=1,
)


async def _post(store: DocumentStore, body: dict[str, Any]) -> httpx.Response:
    policy = GatewayPolicy(limits=SMALL, throttle=ThrottlePolicy(enabled=False))
    async with serving(store, replace(SETTINGS, policy=policy)) as http:
        return await http.post("/graphql", json=body)


def _depth(levels: int) -> str:
    # viewer > partner > services > nodes > ... : build exactly ``levels`` nested fields.
    inner = "__typename"
    fields = ["viewer", "partner", "services", "nodes", "partner", "services", "nodes"]
    for name in reversed(fields[:levels]):
        inner = f"{name} {{ {inner} }}"
    return "{ " + inner + " }"


def _aliases(count: int) -> str:
    return "{ " + " ".join(f"a{i}: __typename" for i in range(count)) + " }"


def _tokens(count: int) -> str:
    # "{", "}" and one name per __typename: count - 2 names.
    return "{ " + " ".join("__typename" for _ in range(count - 2)) + " }"


def _root_fields(count: int) -> str:
    fields = " ".join(
        f"f{i}: serviceCategories(first: 1) {{ nodes {{ name }} }}" for i in range(count)
    )
    return "{ " + fields + " }"


def _operations(count: int) -> str:
    return " ".join(f"query Q{i} {{ __typename }}" for i in range(count))


def _directives(count: int) -> str:
    directives = ["@include(if: true)", "@skip(if: false)", "@deprecated"][:count]
    return "{ __typename " + " ".join(directives) + " }"


CASES = [
    ("depth", _depth, 3, "MAX_DEPTH_EXCEEDED"),
    ("aliases", _aliases, 2, "MAX_ALIASES_EXCEEDED"),
    ("root fields", _root_fields, 2, "MAX_ROOT_FIELDS_EXCEEDED"),
    ("operations", _operations, 2, "MAX_OPERATIONS_EXCEEDED"),
    ("directives per field", _directives, 1, "MAX_DIRECTIVES_EXCEEDED"),
]


@pytest.mark.parametrize(("limit", "build", "maximum", "code"), CASES)
@pytest.mark.parametrize("offset", [-1, 0, 1])
async def test_each_limit_at_under_and_over_its_value(
    store: DocumentStore, limit: str, build: Any, maximum: int, code: str, offset: int
) -> None:
    found = maximum + offset
    if found < 1:
        pytest.skip("a document needs at least one of these")
    body: dict[str, Any] = {"query": build(found)}
    if limit == "operations":
        body["operationName"] = "Q0"
    response = await _post(store, body)
    assert response.status_code == 200
    errors = [e for e in response.json().get("errors", []) if e["extensions"]["code"] == code]
    if offset <= 0:
        assert errors == []
        return
    [error] = errors
    assert error["extensions"] == {"code": code, "limit": limit, "maximum": maximum, "found": found}
    assert str(maximum) in error["message"] and str(found) in error["message"]
    assert "data" not in response.json()  # a request error


@pytest.mark.parametrize(("count", "refused"), [(59, False), (60, False), (61, True)])
async def test_tokens_at_under_and_over_the_limit(
    store: DocumentStore, count: int, refused: bool
) -> None:
    body = (await _post(store, {"query": _tokens(count)})).json()
    codes = [e["extensions"]["code"] for e in body.get("errors", [])]
    assert codes == (["MAX_TOKENS_EXCEEDED"] if refused else [])
    if refused:
        assert body["errors"][0]["extensions"]["maximum"] == 60


async def test_several_operations_without_a_name_is_an_error_not_the_first_run(
    http: httpx.AsyncClient,
) -> None:
    response = await http.post(
        "/graphql", json={"query": "query A { __typename } query B { __typename }"}
    )
    assert "data" not in response.json()
    assert response.json()["errors"][0]["extensions"]["code"] == "OPERATION_NAME_REQUIRED"
    unknown = await http.post(
        "/graphql", json={"query": "query A { __typename }", "operationName": "C"}
    )
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["extensions"]["code"] == "UNKNOWN_OPERATION_NAME"
    named = await http.post(
        "/graphql",
        json={"query": "query A { __typename } query B { __typename }", "operationName": "B"},
    )
    assert named.json()["data"] == {"__typename": "Query"}


async def test_batching_stays_off(http: httpx.AsyncClient) -> None:
    response = await http.post("/graphql", json=[{"query": "{ __typename }"}] * 2)
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BATCHING_NOT_SUPPORTED"


async def test_rules_are_built_once_so_the_caches_keep_hitting(http: httpx.AsyncClient) -> None:
    limits = Limits()
    assert structural_rules(limits) is structural_rules(Limits())
    parse_cache: Any = _get_parse_cache(CACHE_SIZE)
    validate_cache: Any = _get_validate_cache(CACHE_SIZE)
    query = {"query": "{ serviceCategories(first: 2) { nodes { name } } }"}
    await http.post("/graphql", json=query)
    parsed, validated = parse_cache.cache_info().hits, validate_cache.cache_info().hits
    await http.post("/graphql", json=query)
    assert parse_cache.cache_info().hits == parsed + 1
    assert validate_cache.cache_info().hits == validated + 1


async def test_the_fifteen_level_query_from_the_issue_is_refused(http: httpx.AsyncClient) -> None:
    inner = "name"
    for _ in range(7):
        inner = f"partner {{ services(first: 100) {{ nodes {{ {inner} }} }} }}"
    response = await http.post(
        "/graphql", json={"query": f"{{ store(first: 100) {{ nodes {{ {inner} }} }} }}"}
    )
    codes = {e["extensions"]["code"] for e in response.json()["errors"]}
    assert "MAX_DEPTH_EXCEEDED" in codes
