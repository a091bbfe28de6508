"""GraphQL over HTTP as clients and caches use it: queries by GET (named by text, document id
or APQ hash alone), mutations refused on GET with 405 and ``Allow``, request errors without a
``data`` entry under either JSON media type, and APQ misses said the way Apollo Client and urql
look for them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import Any

import httpx
import pytest

from datastore.store import DocumentStore
from edge.extension import GatewayPolicy
from edge.throttle import ThrottlePolicy
from gateway import trusted_documents
from tests.conftest import SETTINGS, serving

SPEC = "application/graphql-response+json"
CATEGORIES = "query Categories($n: Int) { serviceCategories(first: $n) { nodes { name } } }"
TRUSTED_ONLY = replace(
    SETTINGS,
    policy=GatewayPolicy(trusted_documents_only=True, throttle=ThrottlePolicy(enabled=False)),
)


def _apq(text: str) -> str:
    digest = hashlib.sha256(text.encode()).hexdigest()
    return json.dumps({"persistedQuery": {"version": 1, "sha256Hash": digest}})


async def test_a_query_runs_by_get(http: httpx.AsyncClient) -> None:
    response = await http.get(
        "/graphql",
        params={
            "query": "query Q($n: Int) { serviceCategories(first: $n) { nodes { name } } "
            "__typename }",
            "operationName": "Q",
            "variables": json.dumps({"n": 1}),
            "extensions": "{}",
        },
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["__typename"] == "Query"
    assert response.json()["data"]["serviceCategories"]["nodes"] == [{"name": "Shop Management"}]


async def test_a_query_by_get_from_a_client_accepting_anything_is_answered(
    http: httpx.AsyncClient,
) -> None:
    # curl and CDNs send */*: GraphiQL is for a bare GET only, not one naming a document.
    response = await http.get(
        "/graphql", params={"query": "{ __typename }"}, headers={"Accept": "*/*"}
    )
    assert response.json() == {
        "data": {"__typename": "Query"},
        "extensions": response.json()["extensions"],
    }


async def test_a_registered_document_and_an_apq_hash_run_by_get_alone(
    store: DocumentStore,
) -> None:
    identifier = await trusted_documents(store, SETTINGS).add(CATEGORIES)
    variables = json.dumps({"n": 1})
    for settings in (SETTINGS, TRUSTED_ONLY):
        async with serving(store, settings) as http:
            by_id = await http.get(
                "/graphql", params={"documentId": identifier, "variables": variables}
            )
            by_hash = await http.get(
                "/graphql", params={"extensions": _apq(CATEGORIES), "variables": variables}
            )
        for answer in (by_id, by_hash):
            assert answer.status_code == 200, answer.text
            assert answer.json()["data"] == {
                "serviceCategories": {"nodes": [{"name": "Shop Management"}]}
            }


async def test_a_mutation_by_get_is_405_with_allow(store: DocumentStore) -> None:
    mutation = "mutation M { __typename }"
    identifier = await trusted_documents(store, SETTINGS).add(mutation)
    async with serving(store, SETTINGS) as http:
        by_text = await http.get("/graphql", params={"query": mutation})
        by_id = await http.get("/graphql", params={"documentId": identifier})
        by_post = await http.post("/graphql", json={"query": mutation})
    for refused in (by_text, by_id):
        assert refused.status_code == 405, refused.text
        assert refused.headers["allow"] == "GET, HEAD, POST"
        [error] = refused.json()["errors"]
        assert error["extensions"]["code"] == "METHOD_NOT_ALLOWED"
        assert error["message"] == "A mutation cannot be sent with GET: send it with POST."
    assert by_post.json()["data"] == {"__typename": "Mutation"}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("mutation { __typename }", "A mutation cannot be sent with GET: send it with POST."),
        (
            "subscription { events { id } }",
            "A subscription cannot be sent with GET: send it with POST "
            "('Accept: text/event-stream') or over a WebSocket.",
        ),
    ],
)
async def test_a_get_asking_for_a_stream_is_refused_the_same(
    http: httpx.AsyncClient, query: str, message: str
) -> None:
    # A GET never streams: a mutation streamed would be refused inside the stream, no code.
    refused = await http.get(
        "/graphql", params={"query": query}, headers={"Accept": "text/event-stream"}
    )
    assert refused.status_code == 405
    assert refused.headers["allow"] == "GET, HEAD, POST"
    [error] = refused.json()["errors"]
    assert (error["message"], error["extensions"]["code"]) == (message, "METHOD_NOT_ALLOWED")


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"query": "{ __typename }", "variables": "{not json"}, "INVALID_PARAMETER"),
        ({"query": "{ __typename }", "extensions": "[" * 20_000}, "INVALID_PARAMETER"),
        # More digits than Python converts: a ValueError that is not a JSONDecodeError.
        (
            {"query": "{ __typename }", "variables": '{"n": ' + "1" * 5000 + "}"},
            "INVALID_PARAMETER",
        ),
        ({"query": "{ __typename }", "variables": "[1]"}, "BAD_REQUEST"),
        ({"query": "{ __typename }", "extensions": '"x"'}, "BAD_REQUEST"),
        ({"documentId": "sha256:nope"}, "INVALID_DOCUMENT_ID"),
        ({"variables": "{}"}, "MISSING_QUERY"),
        ([("query", "{ __typename }"), ("query", "{ __typename }")], "INVALID_PARAMETER"),
    ],
)
async def test_a_malformed_get_is_a_400_with_a_code(
    http: httpx.AsyncClient, params: Any, code: str
) -> None:
    response = await http.get("/graphql", params=params, headers={"Accept": "application/json"})
    assert response.status_code == 400, response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == code
    assert "data" not in response.json()


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
async def test_every_405_of_the_endpoint_says_allow(http: httpx.AsyncClient, method: str) -> None:
    response = await http.request(method, "/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, POST"


@pytest.mark.parametrize(
    "path", ["/healthz", "/readyz", "/metrics", "/authorize/abc", "/r/abc", "/favicon.ico"]
)
async def test_every_405_of_the_other_paths_says_allow(http: httpx.AsyncClient, path: str) -> None:
    response = await http.delete(path)
    assert response.status_code == 405
    assert "GET" in response.headers["allow"]


@pytest.mark.parametrize("accept", ["application/json", SPEC])
@pytest.mark.parametrize(
    "request_",
    [
        {"query": "{ nope }"},  # validation
        {"query": "{"},  # parsing
        {"query": "query Q($n: Int!) { serviceCategories(first: $n) { totalCount } }"},
    ],
)
async def test_a_request_error_has_no_data_entry(
    http: httpx.AsyncClient, accept: str, request_: dict[str, Any]
) -> None:
    response = await http.post("/graphql", json=request_, headers={"Accept": accept})
    assert response.status_code == (200 if accept == "application/json" else 400)
    assert response.json()["errors"]
    assert "data" not in response.json()


async def test_an_execution_error_keeps_its_data_entry(http: httpx.AsyncClient) -> None:
    response = await http.post("/graphql", json={"query": '{ node(id: "nope") { id } }'})
    body = response.json()
    assert "data" in body and body["errors"][0]["path"] == ["node"]


@pytest.mark.parametrize(("accept", "status"), [("application/json", 200), (SPEC, 400)])
async def test_an_apq_miss_says_persisted_query_not_found(
    http: httpx.AsyncClient, accept: str, status: int
) -> None:
    text = "{ __typename }"
    digest = hashlib.sha256(text.encode()).hexdigest()
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    by_post = await http.post(
        "/graphql", json={"extensions": extensions}, headers={"Accept": accept}
    )
    by_get = await http.get(
        "/graphql", params={"extensions": json.dumps(extensions)}, headers={"Accept": accept}
    )
    for miss in (by_post, by_get):
        assert miss.status_code == status
        [error] = miss.json()["errors"]
        assert error["message"] == "PersistedQueryNotFound"
        assert error["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
        assert "data" not in miss.json()


async def test_an_unknown_document_id_names_it(http: httpx.AsyncClient) -> None:
    identifier = "sha256:" + "0" * 64
    response = await http.post("/graphql", json={"documentId": identifier})
    assert response.status_code == 200
    [error] = response.json()["errors"]
    assert error["message"] == f"No document is registered as {identifier}."
    assert error["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_sse_lines_end_with_a_line_feed(http: httpx.AsyncClient) -> None:
    # urql splits events on a blank line of LFs: CRLF line ends would hide every event.
    response = await http.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"Accept": "text/event-stream"}
    )
    assert response.headers["content-type"].startswith("text/event-stream")
    assert "\r" not in response.text
    events = [block for block in response.text.split("\n\n") if block.startswith("event:")]
    assert events[0].startswith('event: next\ndata: {"data":{"__typename":"Query"}')
    assert events[-1] == "event: complete\ndata: "


TWO_OPERATIONS = "query A { __typename } query B { __typename }"


@pytest.mark.parametrize(("accept", "status"), [("application/json", 200), (SPEC, 400)])
async def test_an_unknown_operation_name_is_answered_as_a_missing_one_is(
    store: DocumentStore, accept: str, status: int
) -> None:
    # A GraphQL result, like OPERATION_NAME_REQUIRED: 200 for application/json clients, the
    # spec's 400 for a request error under application/graphql-response+json.
    identifier = await trusted_documents(store, SETTINGS).add(TWO_OPERATIONS)
    headers = {"Accept": accept}
    async with serving(store, SETTINGS) as http:
        answers = [
            await http.post(
                "/graphql", json={"query": TWO_OPERATIONS, "operationName": "C"}, headers=headers
            ),
            await http.get(
                "/graphql",
                params={"query": TWO_OPERATIONS, "operationName": "C"},
                headers=headers,
            ),
            await http.get(
                "/graphql", params={"documentId": identifier, "operationName": "C"}, headers=headers
            ),
            await http.post("/graphql", json={"query": TWO_OPERATIONS}, headers=headers),
        ]
    codes = [answer.json()["errors"][0]["extensions"]["code"] for answer in answers]
    assert codes == ["UNKNOWN_OPERATION_NAME"] * 3 + ["OPERATION_NAME_REQUIRED"]
    for answer in answers:
        assert answer.status_code == status, answer.text
        assert "data" not in answer.json()


async def test_an_empty_operation_name_or_a_null_document_id_is_one_left_out(
    store: DocumentStore,
) -> None:
    # GraphQL over HTTP: an empty operationName is equivalent to omitting it; a JSON null is
    # no value.
    identifier = await trusted_documents(store, SETTINGS).add("query Named { __typename }")
    async with serving(store, SETTINGS) as http:
        answers = [
            await http.get("/graphql", params={"query": "{ __typename }", "operationName": ""}),
            await http.get("/graphql", params={"documentId": identifier, "operationName": ""}),
            await http.post("/graphql", json={"query": "{ __typename }", "operationName": ""}),
            await http.post(
                "/graphql",
                json={"query": "{ __typename }", "documentId": None, "operationName": None},
            ),
        ]
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert answer.json()["data"] == {"__typename": "Query"}, answer.text


async def test_a_document_id_sent_with_another_document_s_text_is_refused(
    store: DocumentStore,
) -> None:
    text = "query Named { __typename }"
    identifier = await trusted_documents(store, SETTINGS).add(text)
    async with serving(store, SETTINGS) as http:
        other = await http.post(
            "/graphql",
            json={"documentId": identifier, "query": "{ serviceCategories { totalCount } }"},
        )
        unknown = await http.post(
            "/graphql", json={"documentId": "sha256:" + "0" * 64, "query": "{ __typename }"}
        )
        own = await http.post("/graphql", json={"documentId": identifier, "query": text})
    for refused in (other, unknown):
        assert refused.status_code == 400, refused.text
        [error] = refused.json()["errors"]
        assert error["extensions"]["code"] == "DOCUMENT_ID_MISMATCH"
        assert "data" not in refused.json()
    assert own.json()["data"] == {"__typename": "Query"}
