"""Trusted documents: registered by the CLI into the store, run by id (GraphQL over HTTP
persisted documents or Apollo's APQ), required when the gateway runs trusted documents only,
and never parsed or validated again once a process has loaded them."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from datastore.sqlite import SQLiteStore
from datastore.store import DocumentStore
from edge.documents import DocumentRefused, document_id
from edge.extension import PARSED, VALIDATED, GatewayPolicy
from edge.gateway_settings import Settings
from edge.throttle import ThrottlePolicy
from gateway import trusted_documents
from tests.conftest import JWT_SECRET, SETTINGS, serving

CATEGORIES = "query Categories($n: Int) { serviceCategories(first: $n) { nodes { name } } }"
REPO = Path(__file__).resolve().parent.parent
TRUSTED_ONLY = replace(
    SETTINGS,
    policy=GatewayPolicy(trusted_documents_only=True, throttle=ThrottlePolicy(enabled=False)),
)


def _apq(text: str) -> dict[str, Any]:
    return {
        "persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(text.encode()).hexdigest()}
    }


async def _register(store: DocumentStore, text: str = CATEGORIES) -> str:
    return await trusted_documents(store, SETTINGS).add(text)


async def test_a_registered_document_runs_by_its_id(store: DocumentStore) -> None:
    identifier = await _register(store)
    assert identifier == document_id(CATEGORIES)
    async with serving(store, SETTINGS) as http:
        body = (
            await http.post("/graphql", json={"documentId": identifier, "variables": {"n": 2}})
        ).json()
    assert len(body["data"]["serviceCategories"]["nodes"]) == 2
    assert body["extensions"]["cost"]["requestedQueryCost"] == 4


@pytest.mark.parametrize(
    ("document", "status", "code"),
    [
        ("sha256:" + "0" * 64, 200, "PERSISTED_QUERY_NOT_FOUND"),
        ("sha256:" + "z" * 64, 400, "INVALID_DOCUMENT_ID"),
        ("md5:abc", 400, "INVALID_DOCUMENT_ID"),
        ("sha256:" + "a" * 10_000, 400, "INVALID_DOCUMENT_ID"),
        (None, 400, "MISSING_QUERY"),  # null is no documentId
        (17, 400, "INVALID_DOCUMENT_ID"),
    ],
)
async def test_unknown_or_malformed_document_ids(
    store: DocumentStore, document: object, status: int, code: str
) -> None:
    async with serving(store, SETTINGS) as http:
        response = await http.post("/graphql", json={"documentId": document})
    assert response.status_code == status
    assert response.json()["errors"][0]["extensions"]["code"] == code


async def test_apq_registers_then_runs_by_hash(store: DocumentStore) -> None:
    text = "{ serviceCategories(first: 1) { nodes { name } } }"
    async with serving(store, SETTINGS) as http:
        missing = (await http.post("/graphql", json={"extensions": _apq(text)})).json()
        assert missing["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
        sent = await http.post("/graphql", json={"query": text, "extensions": _apq(text)})
        assert "errors" not in sent.json()
        again = (await http.post("/graphql", json={"extensions": _apq(text)})).json()
        assert again["data"] == sent.json()["data"]
        wrong = await http.post(
            "/graphql", json={"query": "{ __typename }", "extensions": _apq(text)}
        )
        assert wrong.status_code == 400
        assert wrong.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_HASH_MISMATCH"
        bad = await http.post(
            "/graphql", json={"extensions": {"persistedQuery": {"version": 2, "sha256Hash": 1}}}
        )
        assert bad.json()["errors"][0]["extensions"]["code"] == "INVALID_PERSISTED_QUERY"


async def test_trusted_documents_only_refuses_everything_else(store: DocumentStore) -> None:
    identifier = await _register(store)
    async with serving(store, TRUSTED_ONLY) as http:
        other = await http.post("/graphql", json={"query": "{ __typename }"})
        assert other.status_code == 400
        assert other.json()["errors"][0]["extensions"]["code"] == "TRUSTED_DOCUMENT_REQUIRED"
        apq_text = "{ __typename }"
        apq = await http.post("/graphql", json={"query": apq_text, "extensions": _apq(apq_text)})
        assert apq.json()["errors"][0]["extensions"]["code"] == "TRUSTED_DOCUMENT_REQUIRED"
        unknown = await http.post("/graphql", json={"documentId": "sha256:" + "1" * 64})
        assert unknown.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
        # A registered document runs by id, by APQ hash, and as its own text.
        by_id = await http.post("/graphql", json={"documentId": identifier})
        by_hash = await http.post("/graphql", json={"extensions": _apq(CATEGORIES)})
        by_text = await http.post("/graphql", json={"query": CATEGORIES})
    for answer in (by_id, by_hash, by_text):
        assert "errors" not in answer.json(), answer.text


async def test_trusted_documents_skip_parsing_and_validation(store: DocumentStore) -> None:
    identifier = await _register(store)
    async with serving(store, SETTINGS) as http:
        await http.post("/graphql", json={"documentId": identifier})
        before = (PARSED.hits, PARSED.misses, VALIDATED.hits, VALIDATED.misses)
        store.stats.reset()
        for _ in range(3):
            body = (await http.post("/graphql", json={"documentId": identifier})).json()
            assert "errors" not in body
        after = (PARSED.hits, PARSED.misses, VALIDATED.hits, VALIDATED.misses)
    # Neither cache was even consulted (no hit, no miss): the parsed, validated tree was reused,
    # and the registry was not read again (the categories come from the catalog, not the store).
    assert before == after
    assert store.stats.round_trips == 0


async def test_documents_that_do_not_parse_or_validate_are_not_registered(
    store: DocumentStore,
) -> None:
    registry = trusted_documents(store, SETTINGS)
    with pytest.raises(DocumentRefused, match="does not parse"):
        await registry.add("{ nope")
    with pytest.raises(DocumentRefused, match="does not validate"):
        await registry.add("{ nope }")
    deep = "name"
    for _ in range(7):
        deep = f"partner {{ services {{ nodes {{ {deep} }} }} }}"
    deep = f"{{ store {{ nodes {{ {deep} }} }} }}"
    with pytest.raises(DocumentRefused, match="depth"):
        await registry.add(deep)
    # The same bounds as a request's: selections (counted before any rule) and length.
    with pytest.raises(DocumentRefused, match="the limit for field selections is 1000"):
        # 600 roles in the fragment and 600 where it is spread, within the token limit.
        await registry.add("{ viewer { ...F } } fragment F on Viewer { " + "role " * 600 + "}")
    with pytest.raises(DocumentRefused, match="the limit for document length is 20000"):
        await registry.add("{ viewer { role } }" + " " * 20_000)
    assert await registry.list() == []


def test_the_cli_adds_and_lists_documents(tmp_path: Path) -> None:
    database = tmp_path / "docs.sqlite3"
    good = tmp_path / "categories.graphql"
    good.write_text(CATEGORIES, encoding="utf-8")
    bad = tmp_path / "bad.graphql"
    bad.write_text("{ nope }", encoding="utf-8")
    env = {**os.environ, "TSP_JWT_SECRET": JWT_SECRET, "TSP_DATABASE_URL": f"sqlite:///{database}"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cli", "documents", *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    added = cli("add", str(good), str(bad))
    assert added.returncode == 1
    assert f"{document_id(CATEGORIES)}  {good}" in added.stdout
    assert "bad.graphql" in added.stderr and "does not validate" in added.stderr
    listed = cli("list")
    assert listed.returncode == 0
    assert listed.stdout.startswith(document_id(CATEGORIES))
    assert "bad" not in listed.stdout


async def test_every_replica_sees_a_document_added_through_another(tmp_path: Path) -> None:
    first, second = SQLiteStore(tmp_path / "s.sqlite3"), SQLiteStore(tmp_path / "s.sqlite3")
    for store in (first, second):
        await store.connect()
    try:
        identifier = await trusted_documents(first, Settings(jwt_secret=JWT_SECRET)).add(CATEGORIES)
        async with serving(second, SETTINGS) as http:
            body = (await http.post("/graphql", json={"documentId": identifier})).json()
        assert "errors" not in body
    finally:
        for store in (first, second):
            await store.close()
