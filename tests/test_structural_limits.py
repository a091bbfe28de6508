"""Structural limits: each refused before execution, naming the limit, its value and what was
found; the rules are built once so Strawberry's parser and validation caches keep hitting."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import pytest

from datastore.store import DocumentStore
from edge.extension import CACHED_LENGTH, PARSED, VALIDATED, GatewayPolicy
from edge.limits import Limits
from edge.throttle import ThrottlePolicy
from edge.validation import MAX_VALIDATION_ERRORS
from tests.conftest import SETTINGS, Make, serving, token_of
from tests.live import served, ws_client

SMALL = Limits(
    max_depth=3,
    max_aliases=2,
    max_tokens=60,
    max_root_fields=2,
    max_operations=2,
    max_directives_per_field=1,
    max_selections=12,
    max_document_length=400,
)


async def _post(
    store: DocumentStore, body: dict[str, Any], limits: Limits = SMALL
) -> httpx.Response:
    policy = GatewayPolicy(limits=limits, throttle=ThrottlePolicy(enabled=False))
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


def _selections(count: int) -> str:
    return "{ " + "__typename " * count + "}"


def _length(count: int) -> str:
    return "{ __typename }".ljust(count)


CASES = [
    ("depth", _depth, 3, "MAX_DEPTH_EXCEEDED"),
    ("aliases", _aliases, 2, "MAX_ALIASES_EXCEEDED"),
    ("root fields", _root_fields, 2, "MAX_ROOT_FIELDS_EXCEEDED"),
    ("operations", _operations, 2, "MAX_OPERATIONS_EXCEEDED"),
    ("directives per field", _directives, 1, "MAX_DIRECTIVES_EXCEEDED"),
    ("field selections", _selections, 12, "MAX_SELECTIONS_EXCEEDED"),
    ("document length", _length, 400, "MAX_DOCUMENT_LENGTH_EXCEEDED"),
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
    limits = replace(SMALL, max_selections=100, max_document_length=10_000)
    body = (await _post(store, {"query": _tokens(count)}, limits)).json()
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
    assert unknown.status_code == 200  # a GraphQL result under application/json
    assert "data" not in unknown.json()
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


async def test_validation_stops_after_its_error_budget(store: DocumentStore) -> None:
    # Each unknown field's error compares it with every field of its type: a document of
    # nothing but unknown fields would otherwise make validation spend on a hundred of them.
    text = "{ viewer { " + " ".join(f"nope{i}" for i in range(60)) + " } }"
    body = (await _post(store, {"query": text}, Limits())).json()
    errors = body["errors"]
    assert len(errors) == MAX_VALIDATION_ERRORS + 1
    assert "Validation aborted" in errors[-1]["message"]
    assert all("nope" in error["message"] for error in errors[:-1])


async def test_the_caches_keep_hitting(http: httpx.AsyncClient) -> None:
    query = {"query": "{ serviceCategories(first: 2) { nodes { name } } }"}
    # Kept from the second time it is sent...
    for _ in range(2):
        await http.post("/graphql", json=query)
    parsed, validated = PARSED.hits, VALIDATED.hits
    await http.post("/graphql", json=query)
    assert (PARSED.hits, VALIDATED.hits) == (parsed + 1, validated + 1)


async def test_a_document_sent_once_is_not_kept(http: httpx.AsyncClient) -> None:
    # ...so that documents varied on purpose, each sent once, never push the others out (nor
    # make the garbage collector walk them all).
    kept = len(PARSED), len(VALIDATED)
    for number in range(3):
        body = (await http.post("/graphql", json={"query": f"{{ t{number}: __typename }}"})).json()
        assert body["data"] == {f"t{number}": "Query"}
    assert (len(PARSED), len(VALIDATED)) == kept


async def test_the_fifteen_level_query_from_the_issue_is_refused(http: httpx.AsyncClient) -> None:
    inner = "name"
    for _ in range(7):
        inner = f"partner {{ services(first: 100) {{ nodes {{ {inner} }} }} }}"
    response = await http.post(
        "/graphql", json={"query": f"{{ store(first: 100) {{ nodes {{ {inner} }} }} }}"}
    )
    codes = {e["extensions"]["code"] for e in response.json()["errors"]}
    assert "MAX_DEPTH_EXCEEDED" in codes


async def test_long_documents_are_not_kept_in_the_caches(http: httpx.AsyncClient) -> None:
    kept = len(PARSED), len(VALIDATED)
    long = "{ viewer { role } }".ljust(CACHED_LENGTH + 1)
    for _ in range(3):
        body = (await http.post("/graphql", json={"query": long})).json()
        assert body["data"] == {"viewer": {"role": None}}
    assert (len(PARSED), len(VALIDATED)) == kept


DUPLICATED = "{ viewer { " + "partner { id } " * 600 + "} }"
"""The issue's document: every structural limit passed, and graphql-core compared each pair."""


async def test_the_duplicated_fields_document_is_refused_naming_a_limit(
    store: DocumentStore,
) -> None:
    defaults = (await _post(store, {"query": DUPLICATED}, Limits())).json()
    assert [e["extensions"]["code"] for e in defaults["errors"]] == ["MAX_TOKENS_EXCEEDED"]
    # With the token limit raised, the selections limit refuses it before any rule runs.
    raised = Limits(max_tokens=10_000)
    body = (await _post(store, {"query": DUPLICATED}, raised)).json()
    [error] = body["errors"]
    assert error["extensions"] == {
        "code": "MAX_SELECTIONS_EXCEEDED",
        "limit": "field selections",
        "maximum": 1000,
        "found": 1201,
    }
    assert "data" not in body  # a request error (GraphQL over HTTP)


async def test_within_the_limits_the_duplicated_fields_are_answered(
    store: DocumentStore,
) -> None:
    text = "{ viewer { " + "partner { id } " * 240 + "role } }"
    body = (await _post(store, {"query": text}, Limits())).json()
    assert body.get("errors") is None
    assert body["data"] == {"viewer": {"partner": None, "role": None}}


async def test_selections_count_every_place_a_fragment_is_spread(store: DocumentStore) -> None:
    spreads = " ".join(f"v{i}: viewer {{ ...V ...V }}" for i in range(5))
    text = "{ " + spreads + " } fragment V on Viewer { role partner { id } }"
    limits = Limits(max_selections=22)
    body = (await _post(store, {"query": text}, limits)).json()
    # 5 viewers, each with V once (spread twice in one selection, collected once): 5 + 5 * 3;
    # and V's own 3, which validation walks in its definition too.
    [error] = body["errors"]
    assert error["extensions"]["found"] == 23
    assert error["extensions"]["code"] == "MAX_SELECTIONS_EXCEEDED"
    allowed = (await _post(store, {"query": text}, replace(limits, max_selections=23))).json()
    assert allowed.get("errors") is None


async def test_limits_refuse_before_the_rules_run(store: DocumentStore) -> None:
    # Over the root-field limit and full of unknown fields: only the limit is reported, as the
    # specification's rules never saw the document.
    text = "{ " + "viewer { nope } " * 1_000 + "}"
    limits = Limits(max_tokens=10_000, max_selections=5_000, max_document_length=50_000)
    body = (await _post(store, {"query": text}, limits)).json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["MAX_ROOT_FIELDS_EXCEEDED"]


async def test_a_long_chain_of_fragments_is_measured_without_recursion(
    store: DocumentStore,
) -> None:
    count = 3_000
    chain = " ".join(f"fragment F{i} on Viewer {{ role ...F{i + 1} }}" for i in range(count))
    text = "{ viewer { ...F0 } } " + chain + f" fragment F{count} on Viewer {{ role }}"
    limits = Limits(max_tokens=100_000, max_document_length=200_000)
    body = (await _post(store, {"query": text}, limits)).json()
    [error] = body["errors"]
    assert error["extensions"]["code"] == "MAX_SELECTIONS_EXCEEDED"
    # The operation's viewer and roles, and each fragment's roles with the chain after it:
    # validation walks the rest of the chain again from each link.
    links = count + 1
    assert error["extensions"]["found"] == count + 2 + links * (links + 1) // 2


async def test_subscriptions_meet_the_same_limits_on_the_websocket(
    store: DocumentStore, make: Make
) -> None:
    policy = GatewayPolicy(limits=SMALL, throttle=ThrottlePolicy(enabled=False))
    partner = await make.partner()
    long = "subscription { events { id } }".ljust(SMALL.max_document_length + 1)
    wide = "subscription { events { " + "id " * 13 + "} }"
    async with (
        served(store, replace(SETTINGS, policy=policy)) as url,
        ws_client(url, token_of(partner)) as client,
    ):
        assert (await client.receive())["type"] == "connection_ack"
        codes = []
        for text in (long, wide):
            await client.subscribe(text)
            refused = await client.receive()
            assert refused["type"] in ("error", "next"), refused
            errors = refused["payload"] if refused["type"] == "error" else None
            errors = errors or refused["payload"]["errors"]
            codes.append(errors[0]["extensions"]["code"])
            if refused["type"] == "next":
                assert (await client.receive())["type"] == "complete"
    assert codes == ["MAX_DOCUMENT_LENGTH_EXCEEDED", "MAX_SELECTIONS_EXCEEDED"]


@pytest.mark.parametrize("name", ["Q", None, "not a name"])
async def test_a_document_too_long_is_refused_whatever_operation_it_names(
    store: DocumentStore, name: str | None
) -> None:
    text = "query Q { __typename }".ljust(SMALL.max_document_length + 1)
    response = await _post(store, {"query": text, "operationName": name})
    codes = [e["extensions"]["code"] for e in response.json()["errors"]]
    # Not read, it is taken for a stand-in answering to any name, even one no operation can
    # have: refused for its length, as on every transport.
    assert codes == ["MAX_DOCUMENT_LENGTH_EXCEEDED"]
