"""Whatever a client sends, the answer is GraphQL JSON with a code: never a 500, never plain
text, never a traceback; and the production posture (no introspection, no suggestions, client
errors logged briefly at INFO)."""

from __future__ import annotations

import logging
from dataclasses import replace

import httpx
import pytest

from datastore.store import DocumentStore
from edge.extension import GatewayPolicy
from edge.limits import Limits
from edge.throttle import ThrottlePolicy
from tests.conftest import SETTINGS, Make, serving, token_of
from tests.live import PATIENCE, served, ws_client

NESTED = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 400, "INVALID_BODY"),
        (b"null", "application/json", 400, "INVALID_BODY"),
        (b'"a string"', "application/json", 400, "INVALID_BODY"),
        (b"42", "application/json", 400, "INVALID_BODY"),
        (b'{"query": "{ __typename }"}\xff', "application/json", 400, "INVALID_BODY"),
        (b'{"query": "\xc3\x28"}', "application/json", 400, "INVALID_BODY"),
        (NESTED, "application/json", 400, "INVALID_BODY"),
        (b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "application/json", 400, "INVALID_BODY"),
        (b"{}", "application/json", 400, "MISSING_QUERY"),
        (b'{"query": 42}', "application/json", 400, "BAD_REQUEST"),
        (b'{"query": "{ __typename }", "variables": [1]}', "application/json", 400, "BAD_REQUEST"),
        (
            b'{"query": "{ __typename }", "operationName": 7}',
            "application/json",
            400,
            "BAD_REQUEST",
        ),
        (b"query { __typename }", "application/graphql", 415, "UNSUPPORTED_MEDIA_TYPE"),
        (b"query=1", "application/x-www-form-urlencoded", 415, "UNSUPPORTED_MEDIA_TYPE"),
        (b'{"query": "{ __typename }"}', "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE"),
    ],
)
async def test_malformed_requests_get_a_graphql_error_with_a_code(
    http: httpx.AsyncClient, body: bytes, content_type: str, status: int, code: str
) -> None:
    response = await http.post("/graphql", content=body, headers={"content-type": content_type})
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == code
    assert "Traceback" not in response.text
    assert response.json()["extensions"]["cost"]["requestedQueryCost"] == 0


async def test_unserved_methods_answer_in_graphql_json(http: httpx.AsyncClient) -> None:
    put = await http.put("/graphql", json={"query": "{ __typename }"})
    assert put.status_code == 405
    assert put.headers["allow"] == "GET, HEAD, POST"
    assert put.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"


async def test_introspection_is_off_unless_enabled(store: DocumentStore) -> None:
    query = {"query": "{ __schema { queryType { name } } }"}
    async with serving(store, SETTINGS) as http:
        off = (await http.post("/graphql", json=query)).json()
        typename = (await http.post("/graphql", json={"query": "{ __typename }"})).json()
    assert off["errors"][0]["extensions"]["code"] == "INTROSPECTION_DISABLED"
    assert typename["data"] == {"__typename": "Query"}
    policy = GatewayPolicy(limits=Limits(introspection=True), throttle=ThrottlePolicy(False))
    async with serving(store, replace(SETTINGS, policy=policy)) as http:
        on = (await http.post("/graphql", json=query)).json()
    assert on["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_suggestions_are_hidden_unless_introspection_is_on(store: DocumentStore) -> None:
    query = {"query": "{ partnr(id: 1) { name } }"}
    async with serving(store, SETTINGS) as http:
        hidden = (await http.post("/graphql", json=query)).json()["errors"][0]["message"]
    assert "Did you mean" not in hidden and "partnr" in hidden
    policy = GatewayPolicy(limits=Limits(introspection=True), throttle=ThrottlePolicy(False))
    async with serving(store, replace(SETTINGS, policy=policy)) as http:
        shown = (await http.post("/graphql", json=query)).json()["errors"][0]["message"]
    assert "Did you mean" in shown


async def test_suggestions_are_hidden_over_websocket_and_in_bulk_export_errors(
    store: DocumentStore, make: Make
) -> None:
    """Every transport and every place a document is checked: the WebSocket sends Strawberry's
    own messages, and startBulkExport answers a query's problem as a userError."""
    partner = await make.partner()
    start = """mutation($query: String!) { startBulkExport(input: {query: $query}) {
      userErrors { message } } }"""
    async with served(store, SETTINGS) as base_url:
        async with ws_client(base_url, token_of(partner)) as client:
            assert (await client.receive())["type"] == "connection_ack"
            await client.subscribe("subscription { evnts { type } }")
            refused = await client.receive()
        async with httpx.AsyncClient(base_url=base_url, timeout=PATIENCE) as http:
            exported = await http.post(
                "/graphql",
                json={"query": start, "variables": {"query": "{ authorizatons { nodes { id } } }"}},
                headers={"Authorization": f"Bearer {token_of(partner)}"},
            )
    [error] = refused["payload"]
    assert "evnts" in error["message"] and "Did you mean" not in error["message"]
    [problem] = exported.json()["data"]["startBulkExport"]["userErrors"]
    assert "authorizatons" in problem["message"] and "Did you mean" not in problem["message"]


async def test_client_errors_are_logged_briefly_at_info_without_tracebacks(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    huge_name = "x" * 1_000_000
    with caplog.at_level(logging.INFO):
        await http.post("/graphql", json={"query": "{ " + huge_name + " }"})
        await http.post("/graphql", json={"query": '{ partner(id: "ptn_missing") { name } }'})
        await http.post("/graphql", content=b"{", headers={"content-type": "application/json"})
    graphql_records = [r for r in caplog.records if r.name.startswith("tsp.")]
    assert graphql_records
    assert all(r.levelno < logging.ERROR for r in graphql_records)
    assert all(r.exc_info is None for r in graphql_records)
    assert all(len(r.getMessage()) < 1_000 for r in caplog.records)


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (
            {
                "query": "query($n: Int) { serviceCategories(first: $n) { totalCount } }",
                "variables": {"n": "x"},
            },
            "BAD_USER_INPUT",
        ),
        ({"query": "{ nope }"}, "GRAPHQL_VALIDATION_FAILED"),
        ({"query": "{"}, "GRAPHQL_PARSE_FAILED"),
    ],
)
async def test_a_client_error_is_logged_with_the_code_the_client_got(
    http: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    request_: dict[str, object],
    code: str,
) -> None:
    with caplog.at_level(logging.INFO, logger="tsp.graphql"):
        response = await http.post("/graphql", json=request_)
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == code
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("client error")]
    assert logged == [f"client error {code} at operation: {error['message']}"]
