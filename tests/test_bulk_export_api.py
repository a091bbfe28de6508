"""Bulk exports through the API: refusals with codes, the JSONL file (exactly the fields asked,
in order, nested nodes with __parentId), tenant isolation, one running export and one start a
minute per caller, idempotency, cancel, the event, and the signed download."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from starlette.types import Message

from datastore import collections as c
from datastore.codec import utc_now
from datastore.files import CHUNK_SIZE
from datastore.ids import new_id
from datastore.store import DocumentStore
from edge.export_worker import _Run
from gateway import create_app, export_worker
from resolvers import bulk_export_runs as runs
from resolvers.bulk_export_links import download_path
from resolvers.identity import Role
from tests.conftest import (
    MAX_PAGES,
    SETTINGS,
    GraphQLClient,
    Make,
    token,
    token_of,
)

START = """mutation($query: String!, $key: String) {
  startBulkExport(input: {query: $query, idempotencyKey: $key}) {
    bulkExport { id status } userErrors { field code message } } }"""
READ = """query($id: ID!) { bulkExport(id: $id) {
  id status objectCount rootObjectCount fileSize sha256 errorCode errorMessage url
  completedAt expiresAt } }"""
CANCEL = """mutation($id: ID!) { cancelBulkExport(id: $id) {
  bulkExport { id status } userErrors { field code } } }"""
AUTHORIZATIONS = "{ authorizations { nodes { id status partner { id } seller { id } } } }"
ADMIN = token(Role.ADMIN)


async def _start(gql: GraphQLClient, query: str, as_: str, key: str | None = None) -> Any:
    body = await gql(START, {"query": query, "key": key}, as_=as_)
    assert "errors" not in body, body
    return body["data"]["startBulkExport"]


async def _run(store: DocumentStore) -> None:
    """Run every waiting export to its end with a worker of the suite's settings."""
    worker = export_worker(store, SETTINGS)
    for _ in range(MAX_PAGES):
        if not await worker.run_once():
            return
    raise AssertionError("exports kept coming")


async def _export(gql: GraphQLClient, store: DocumentStore, query: str, as_: str) -> Any:
    started = await _start(gql, query, as_)
    assert started["userErrors"] == [], started
    await _run(store)
    body = await gql(READ, {"id": started["bulkExport"]["id"]}, as_=as_)
    return body["data"]["bulkExport"]


async def _download(http: httpx.AsyncClient, url: str) -> list[dict[str, Any]]:
    response = await http.get(url)
    assert response.status_code == 200, response.text
    return [orjson.loads(line) for line in response.content.splitlines()]


async def _page_all(gql: GraphQLClient, query: str, path: list[str], as_: str) -> list[Any]:
    """Every node of a connection as the caller's own paging reads it (``query`` takes
    ``$after``; ``path`` leads to the connection)."""
    nodes: list[Any] = []
    after = None
    for _ in range(MAX_PAGES):
        body = await gql(query, {"after": after}, as_=as_)
        assert "errors" not in body, body
        connection = body["data"]
        for key in path:
            connection = connection[key]
        nodes.extend(connection["nodes"])
        if not connection["pageInfo"]["hasNextPage"]:
            return nodes
        after = connection["pageInfo"]["endCursor"]
    raise AssertionError("too many pages")


# -- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("{ authorizations { nodes { id ", "INVALID_SYNTAX"),
        ("{ authorizations { nodes { nope } } }", "INVALID_QUERY"),
        ('mutation { cancelBulkExport(id: "bex_x") { bulkExport { id } } }', "NOT_A_QUERY"),
        ("subscription { events { id } }", "NOT_A_QUERY"),
        (
            "query($s: [AuthorizationStatus!]) { authorizations(status: $s) { nodes { id } } }",
            "VARIABLES_NOT_SUPPORTED",
        ),
        ("{ viewer { role } }", "NO_CONNECTION"),
        (
            "{ authorizations { nodes { id } } requests { nodes { id } } }",
            "MULTIPLE_TOP_LEVEL_FIELDS",
        ),
        (
            "{ sellers { nodes { serviceOffers { nodes { authorizations { nodes { "
            "history { nodes { action } } } } } } } } }",
            "NESTING_TOO_DEEP",
        ),
        ("{ authorizations(first: 10) { nodes { id } } }", "PAGINATION_ARGUMENT"),
        (
            '{ authorizations { nodes { history(after: "x") { nodes { action } } } } }',
            "PAGINATION_ARGUMENT",
        ),
        ("{ authorizations { totalCount nodes { id } } }", "CONNECTION_FIELD"),
        ("{ authorizations { edges { cursor node { id } } } }", "CONNECTION_FIELD"),
        (
            "{ viewer { partner { serviceOffers { nodes { services { "
            "history { nodes { action } } } } } } } }",
            "CONNECTION_IN_LIST",
        ),
        # Each rule answered by its own code, the one naming what to change, whatever else
        # the query gets wrong.
        ("query($first: Int) { authorizations { nodes { id } } }", "VARIABLES_NOT_SUPPORTED"),
        ("{ authorizations(status: $s) { nodes { id } } }", "VARIABLES_NOT_SUPPORTED"),
        ("query($s: Int) { authorizations { nodes { nope } } }", "VARIABLES_NOT_SUPPORTED"),
        (
            "query { ...F } fragment F on Query { authorizations @skip(if: $s) { nodes { id } } }",
            "VARIABLES_NOT_SUPPORTED",
        ),
        ("{ __typename }", "NO_CONNECTION"),
        ("{ viewer { ... on Viewer { __typename } } }", "NO_CONNECTION"),
        ('{ __type(name: "Partner") { name kind } }', "NO_CONNECTION"),
        ("{ viewer { partner { id name } } }", "NO_CONNECTION"),
        ("{ viewer { role partner { id } } }", "NO_CONNECTION"),
        ("{ __typename authorizations { nodes { id } } }", "MULTIPLE_TOP_LEVEL_FIELDS"),
        (
            "{ viewer { __typename partner { serviceOffers { nodes { id } } } } }",
            "MULTIPLE_TOP_LEVEL_FIELDS",
        ),
        (
            '{ nodes(ids: ["x"]) { id } viewer { partner { serviceOffers { nodes { id } } } } }',
            "MULTIPLE_TOP_LEVEL_FIELDS",
        ),
        ("{ authorizations { __typename nodes { id } } }", "CONNECTION_FIELD"),
        ("{ authorizations { edges { __typename node { id } } } }", "CONNECTION_FIELD"),
        (
            '{ nodes(ids: ["x"]) { ... on Partner { serviceOffers { nodes { id } } } } }',
            "CONNECTION_IN_LIST",
        ),
        (
            '{ nodes(ids: ["x"]) { id ... on Partner { serviceOffers { nodes { id } } } } '
            "viewer { role } }",
            "CONNECTION_IN_LIST",
        ),
        (
            "{ viewer { partner { serviceOffers { nodes { services { "
            'history(after: "x") { totalCount nodes { action } } } } } } } }',
            "CONNECTION_IN_LIST",
        ),
        # A connection under node (an interface) is one the export cannot page.
        (
            '{ node(id: "x") { ... on Partner { serviceOffers { nodes { id } } } } }',
            "INVALID_QUERY",
        ),
    ],
)
async def test_a_query_that_cannot_be_exported_is_refused_with_its_code(
    gql: GraphQLClient, store: DocumentStore, query: str, code: str
) -> None:
    await refused_at_start(gql, store, query, code)


async def refused_at_start(gql: GraphQLClient, store: DocumentStore, query: str, code: str) -> None:
    """Starting an export of ``query`` is refused with ``code`` on the query, and nothing is
    written."""
    started = await _start(gql, query, ADMIN)
    assert started["bulkExport"] is None
    assert [(e["code"], e["field"]) for e in started["userErrors"]] == [(code, ["input", "query"])]
    assert await store.count(c.BULK_EXPORTS) == 0


async def test_anonymous_callers_cannot_start_an_export(gql: GraphQLClient) -> None:
    body = await gql(START, {"query": AUTHORIZATIONS})
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_anonymous_callers_cannot_read_exports(gql: GraphQLClient) -> None:
    body = await gql('{ bulkExport(id: "bex_x") { id } currentBulkExport { id } }')
    assert body["data"] == {"bulkExport": None, "currentBulkExport": None}
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"] * 2


# -- the file ----------------------------------------------------------------------------------


async def test_the_file_holds_every_node_with_exactly_the_fields_asked_and_nested_parents(
    gql: GraphQLClient, http: httpx.AsyncClient, store: DocumentStore, make: Make
) -> None:
    # More than a page of services under one partner: the nested connection's further pages
    # are read too.
    busy = await make.partner()
    for _ in range(103):
        await make.service(busy)
    quiet = await make.partner()
    await make.service(quiet)
    await make.partner()  # no services: no nested lines
    query = "{ partners { edges { node { name id services { nodes { status name id } } } } } }"
    export = await _export(gql, store, query, ADMIN)
    assert export["status"] == "COMPLETED", export
    lines = await _download(http, export["url"])

    partners = await _page_all(
        gql,
        "query($after: String) { partners(first: 100, after: $after) { nodes { name id } "
        "pageInfo { hasNextPage endCursor } } }",
        ["partners"],
        ADMIN,
    )
    expected: list[dict[str, Any]] = []
    for partner in partners:
        expected.append(partner)
        services = await _page_all(
            gql,
            "query($after: String) { partner(id: "
            f'"{partner["id"]}"'
            ") { services(first: 100, after: $after) { nodes { status name id } "
            "pageInfo { hasNextPage endCursor } } } }",
            ["partner", "services"],
            ADMIN,
        )
        expected.extend({**service, "__parentId": partner["id"]} for service in services)
    assert lines == expected
    # Exactly the fields asked, in the query's order; __parentId last on nested lines.
    assert list(lines[0]) == ["name", "id"]
    nested = next(line for line in lines if "__parentId" in line)
    assert list(nested) == ["status", "name", "id", "__parentId"]
    assert sum(1 for line in lines if line.get("__parentId") == busy["_id"]) == 103
    assert export["objectCount"] == len(lines)
    assert export["rootObjectCount"] == len(partners)


async def test_a_nested_connection_given_first_or_last_is_that_one_page(
    gql: GraphQLClient, http: httpx.AsyncClient, store: DocumentStore, make: Make
) -> None:
    partner = await make.partner()
    for _ in range(5):
        await make.service(partner)
    query = "{ partners { nodes { id services(first: 2) { nodes { id } } } } }"
    export = await _export(gql, store, query, ADMIN)
    lines = await _download(http, export["url"])
    assert sum(1 for line in lines if line.get("__parentId") == partner["_id"]) == 2


def _readme_example() -> str:
    """The query of the README's bulk export example."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Bulk exports", 1)[1]
    found = re.search(r'startBulkExport\(input: \{\s*query: "([^"]*)"', section)
    assert found is not None, "the README's bulk export example moved"
    return " ".join(found.group(1).split())


async def test_the_readme_s_example_exports_each_authorization_s_latest_history_entry(
    gql: GraphQLClient, http: httpx.AsyncClient, store: DocumentStore, make: Make
) -> None:
    partner = await make.partner()
    authorization = await make.authorization(await make.seller(), await make.service(partner))
    authorized = utc_now() - timedelta(days=30)
    for action, at in (("AUTHORIZED", authorized), ("RENEWED", authorized + timedelta(days=1))):
        await store.insert(
            c.HISTORY,
            {
                "_id": new_id("hst"),
                "subjectId": authorization["_id"],
                "action": action,
                "createdAt": at,
            },
        )
    export = await _export(gql, store, _readme_example(), token_of(partner))
    assert export["status"] == "COMPLETED", export
    lines = await _download(http, export["url"])
    assert [line["action"] for line in lines if "__parentId" in line] == ["RENEWED"]


async def test_typename_in_nodes_is_written_as_the_caller_s_own_paging_answers_it(
    gql: GraphQLClient, http: httpx.AsyncClient, store: DocumentStore, make: Make
) -> None:
    partner = await make.partner()
    await make.service(partner)
    paging = (
        "{ partners(first: 5) { nodes { __typename id "
        "services(first: 5) { nodes { __typename id } } } } }"
    )
    paged = await gql.ok(paging, as_=ADMIN)
    expected: list[dict[str, Any]] = []
    for node in paged["partners"]["nodes"]:
        services = node.pop("services")["nodes"]
        expected.append(node)
        expected.extend({**service, "__parentId": node["id"]} for service in services)
    query = "{ partners { nodes { __typename id services { nodes { __typename id } } } } }"
    export = await _export(gql, store, query, ADMIN)
    assert export["status"] == "COMPLETED", export
    assert await _download(http, export["url"]) == expected
    assert {line["__typename"] for line in expected} == {"Partner", "Service"}


# -- tenant isolation --------------------------------------------------------------------------


async def test_each_caller_exports_exactly_what_its_own_paging_sees(
    gql: GraphQLClient, http: httpx.AsyncClient, store: DocumentStore, make: Make
) -> None:
    partners = [await make.partner(), await make.partner()]
    services = [await make.service(p) for p in partners]
    sellers = [await make.seller(), await make.seller()]
    for seller in sellers:
        for service in services:
            await make.authorization(seller, service)
    callers = {
        "partner": token_of(partners[0]),
        "seller": token_of(sellers[1]),
        "admin": ADMIN,
    }
    paging = (
        "query($after: String) { authorizations(first: 100, after: $after) { "
        "nodes { id status partner { id } seller { id } } pageInfo { hasNextPage endCursor } } }"
    )
    seen: dict[str, list[dict[str, Any]]] = {}
    for name, caller in callers.items():
        export = await _export(gql, store, AUTHORIZATIONS, caller)
        assert export["status"] == "COMPLETED", export
        seen[name] = await _download(http, export["url"])
        assert seen[name] == await _page_all(gql, paging, ["authorizations"], caller)
    assert {line["partner"]["id"] for line in seen["partner"]} == {partners[0]["_id"]}
    assert {line["seller"]["id"] for line in seen["seller"]} == {sellers[1]["_id"]}
    assert len(seen["partner"]) == 2 and len(seen["seller"]) == 2
    assert len(seen["admin"]) == 4


async def test_an_export_of_a_list_the_caller_may_not_read_fails_with_its_code(
    gql: GraphQLClient, http: httpx.AsyncClient, store: DocumentStore, make: Make
) -> None:
    partner = await make.partner()
    export = await _export(gql, store, "{ sellers { nodes { id name } } }", token_of(partner))
    assert export["status"] == "FAILED"
    assert export["errorCode"] == "FORBIDDEN"
    assert export["url"] is None


# -- one at a time -------------------------------------------------------------------------------


async def test_one_running_export_per_caller_even_when_starts_race(
    gql: GraphQLClient, store: DocumentStore
) -> None:
    for _ in range(5):
        await store.delete_all(c.BULK_EXPORTS)
        await store.delete_all(c.BULK_EXPORT_OWNERS)
        results = await asyncio.gather(*(_start(gql, AUTHORIZATIONS, ADMIN) for _ in range(6)))
        started = [r for r in results if r["bulkExport"] is not None]
        assert len(started) == 1
        codes = {e["code"] for r in results for e in r["userErrors"]}
        assert codes <= {"EXPORT_IN_PROGRESS", "TOO_MANY_STARTS"}
        assert await store.count(c.BULK_EXPORTS, {"status": "CREATED"}) == 1


async def test_a_caller_starts_at_most_one_export_a_minute(
    gql: GraphQLClient, store: DocumentStore, make: Make
) -> None:
    partner = await make.partner()
    caller = token_of(partner)
    first = await _start(gql, AUTHORIZATIONS, caller)
    await gql(CANCEL, {"id": first["bulkExport"]["id"]}, as_=caller)
    again = await _start(gql, AUTHORIZATIONS, caller)
    assert [e["code"] for e in again["userErrors"]] == ["TOO_MANY_STARTS"]
    # Another caller is not held back by it.
    other = await _start(gql, AUTHORIZATIONS, ADMIN)
    assert other["userErrors"] == []
    # A minute later the caller may start again.
    guard = await store.get_many(c.BULK_EXPORT_OWNERS, [f"PARTNER:{partner['_id']}"])
    owner = next(iter(guard.values()))
    await store.update(
        c.BULK_EXPORT_OWNERS,
        owner["_id"],
        expected_version=owner["version"],
        changes={"lastStartedAt": owner["lastStartedAt"] - timedelta(seconds=61)},
    )
    later = await _start(gql, AUTHORIZATIONS, caller)
    assert later["userErrors"] == [] and later["bulkExport"]["status"] == "CREATED"


async def test_a_retried_start_with_the_same_key_returns_the_first_export(
    gql: GraphQLClient, store: DocumentStore
) -> None:
    first = await _start(gql, AUTHORIZATIONS, ADMIN, key="sync-2026-05-17")
    retried = await _start(gql, AUTHORIZATIONS, ADMIN, key="sync-2026-05-17")
    assert retried["bulkExport"]["id"] == first["bulkExport"]["id"]
    other = await _start(gql, "{ requests { nodes { id } } }", ADMIN, key="sync-2026-05-17")
    assert [e["code"] for e in other["userErrors"]] == ["IDEMPOTENCY_KEY_REUSED"]
    assert await store.count(c.BULK_EXPORTS) == 1


# -- cancel, the event, the download ------------------------------------------------------------


async def test_cancel_stops_an_export_and_a_running_one_never_completes(
    gql: GraphQLClient, store: DocumentStore, make: Make
) -> None:
    await make.partner()
    started = await _start(gql, AUTHORIZATIONS, ADMIN)
    export_id = started["bulkExport"]["id"]
    # A worker has claimed it when the caller cancels.
    claimed, _ = await runs.claim_next(store, "exw_test", timedelta(seconds=30))
    assert claimed is not None and claimed["_id"] == export_id
    canceled = await gql(CANCEL, {"id": export_id}, as_=ADMIN)
    assert canceled["data"]["cancelBulkExport"]["bulkExport"]["status"] == "CANCELED"
    await _Run(export_worker(store, SETTINGS), claimed).run()
    read = (await gql(READ, {"id": export_id}, as_=ADMIN))["data"]["bulkExport"]
    assert read["status"] == "CANCELED" and read["url"] is None
    [finished] = await store.find(c.EVENTS, {"type": "BULK_EXPORT_FINISHED"})
    assert finished["changes"]["reasonCode"] == "CANCELED_BY_OWNER"
    again = await gql(CANCEL, {"id": export_id}, as_=ADMIN)
    assert [e["code"] for e in again["data"]["cancelBulkExport"]["userErrors"]] == [
        "NOT_CANCELABLE"
    ]
    missing = await gql(CANCEL, {"id": new_id("bex")}, as_=ADMIN)
    assert [e["code"] for e in missing["data"]["cancelBulkExport"]["userErrors"]] == ["NOT_FOUND"]


async def test_an_export_is_its_callers_alone(
    gql: GraphQLClient, store: DocumentStore, make: Make
) -> None:
    partner = await make.partner()
    started = await _start(gql, AUTHORIZATIONS, ADMIN)
    export_id = started["bulkExport"]["id"]
    other = token_of(partner)
    assert (await gql(READ, {"id": export_id}, as_=other))["data"]["bulkExport"] is None
    body = await gql("{ currentBulkExport { id } }", as_=other)
    assert body["data"]["currentBulkExport"] is None
    canceled = await gql(CANCEL, {"id": export_id}, as_=other)
    assert [e["code"] for e in canceled["data"]["cancelBulkExport"]["userErrors"]] == ["NOT_FOUND"]
    mine = await gql("{ currentBulkExport { id status } }", as_=ADMIN)
    assert mine["data"]["currentBulkExport"] == {"id": export_id, "status": "CREATED"}


async def test_the_finished_export_is_announced_in_the_event_log(
    gql: GraphQLClient, store: DocumentStore, make: Make
) -> None:
    partner = await make.partner()
    await make.authorization(await make.seller(), await make.service(partner))
    caller = token_of(partner)
    export = await _export(gql, store, AUTHORIZATIONS, caller)
    events = await store.find(c.EVENTS, {"type": "BULK_EXPORT_FINISHED"})
    assert len(events) == 1
    event = events[0]
    assert event["subjectId"] == export["id"]
    assert event["partnerId"] == partner["_id"]
    assert event["changes"] == {
        "status": {"from": "RUNNING", "to": "COMPLETED"},
        "reasonCode": "EXPORT_COMPLETED",
        "objectCount": 1,
    }


async def test_the_download_streams_the_file_with_its_length_and_checksum(
    gql: GraphQLClient, http: httpx.AsyncClient, store: DocumentStore, make: Make
) -> None:
    for _ in range(3):
        await make.partner()
    export = await _export(gql, store, "{ partners { nodes { id name } } }", ADMIN)
    response = await http.get(export["url"], headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    body = response.content
    digest = hashlib.sha256(body).digest()
    assert int(response.headers["content-length"]) == len(body) == export["fileSize"]
    assert response.headers["x-checksum-sha256"] == digest.hex() == export["sha256"]
    assert response.headers["repr-digest"] == f"sha-256=:{base64.b64encode(digest).decode()}:"
    assert response.headers["content-type"].startswith("application/jsonl")
    assert len(body.splitlines()) == 3

    path = export["url"].removeprefix("http://gateway")
    forged = path[:-4] + ("0000" if not path.endswith("0000") else "1111")
    refused = await http.get(forged)
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["extensions"]["code"] == "DOWNLOAD_LINK_INVALID"
    # A link naming no export is answered alike: the answer tells no id that exists.
    unknown = await http.get(path.replace(export["id"], new_id("bex")))
    assert (unknown.status_code, unknown.json()) == (refused.status_code, refused.json())
    document = (await store.get_many(c.BULK_EXPORTS, [export["id"]]))[export["id"]]
    stale = download_path(document, utc_now() - timedelta(hours=1))
    expired = await http.get(stale)
    assert expired.status_code == 403
    assert expired.json()["errors"][0]["extensions"]["code"] == "DOWNLOAD_LINK_EXPIRED"


async def test_a_file_deleted_while_it_downloads_ends_the_download_short(
    gql: GraphQLClient, store: DocumentStore, make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    """The sweep deletes a file while a client downloads it: the response, already started,
    ends short (the server closes the connection before Content-Length bytes), said once in
    the log as a warning, with no error or traceback. Driven as the ASGI server would, since
    an in-process HTTP client waits for a whole response."""
    await make.partner()
    export = await _export(gql, store, "{ partners { nodes { id } } }", ADMIN)
    # A file of more chunks than MongoDB sends in a cursor's first batch (16 MiB), in place of
    # the export's, so the chunks after the first batch are read after the delete.
    content = os.urandom(CHUNK_SIZE * 80)
    file_id = f"{export['id']}.replaced"
    writer = store.files.open_writer(file_id)
    await writer.write(content)
    await writer.close()
    document = (await store.get_many(c.BULK_EXPORTS, [export["id"]]))[export["id"]]
    await store.update(
        c.BULK_EXPORTS,
        export["id"],
        expected_version=document["version"],
        changes={
            "fileId": file_id,
            "fileSize": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
        },
    )
    path, _, query = export["url"].removeprefix("http://gateway").partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"gateway")],
        "client": ("127.0.0.1", 50000),
        "server": ("gateway", 80),
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and len(sent) == 2:
            await store.files.delete(file_id)  # the sweep, once the first chunk went out

    app = create_app(SETTINGS, store=store)
    with caplog.at_level(logging.WARNING):
        async with app.router.lifespan_context(app):
            await app(scope, receive, send)
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 200
    assert dict(sent[0]["headers"])[b"content-length"] == str(len(content)).encode()
    bodies = sent[1:]
    assert all(m["type"] == "http.response.body" and m["more_body"] for m in bodies), [
        (m["type"], m.get("more_body")) for m in bodies
    ]
    received = b"".join(m["body"] for m in bodies)
    assert 0 < len(received) < len(content)
    assert content.startswith(received)
    logged = [(r.name, r.levelname, r.getMessage(), r.exc_info) for r in caplog.records]
    assert [entry for entry in logged if entry[1] != "INFO"] == [
        (
            "tsp.exports",
            "WARNING",
            f"download of bulk export {export['id']} ended short after {len(received)} bytes: "
            "the file was deleted",
            None,
        )
    ], logged


async def test_past_its_retention_the_file_is_deleted_and_the_export_expired(
    gql: GraphQLClient, http: httpx.AsyncClient, store: DocumentStore, make: Make
) -> None:
    await make.partner()
    export = await _export(gql, store, "{ partners { nodes { id } } }", ADMIN)
    document = (await store.get_many(c.BULK_EXPORTS, [export["id"]]))[export["id"]]
    await store.update(
        c.BULK_EXPORTS,
        export["id"],
        expected_version=document["version"],
        changes={"expiresAt": utc_now() - timedelta(seconds=1)},
    )
    assert await runs.sweep(store) == 1
    read = (await gql(READ, {"id": export["id"]}, as_=ADMIN))["data"]["bulkExport"]
    assert read["status"] == "EXPIRED" and read["url"] is None
    gone = await http.get(export["url"])
    assert gone.status_code == 410
    assert gone.json()["errors"][0]["extensions"]["code"] == "EXPORT_EXPIRED"
