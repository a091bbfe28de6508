"""The GraphQL clients people use, against a real ``tsp-gateway serve`` on 127.0.0.1: urql,
Apollo Client, graphql-ws and graphql-sse (the Node suite in tests/clients/, installed from its
lock file by ``make test``), the GraphQL-over-HTTP audit of ``graphql-http``, and Python's
``gql`` over HTTPX and WebSockets."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gql import Client, GraphQLRequest, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport

from tests.clients_fixture import REGISTER, Prepared, prepare, registration
from tests.servers import running_gateway

CLIENTS = Path(__file__).resolve().parent / "clients"
NODE_TESTS = sorted(str(p) for p in CLIENTS.glob("*.test.mjs"))
# The audits a gateway refuses by design, and the code it refuses them with. With trusted
# documents only, every audit that sends an ad hoc document (all of them `{ __typename }` or
# `__type(name: $name) { name }`) expects it to run or to be parsed; the gateway answers 400
# TRUSTED_DOCUMENT_REQUIRED before parsing. Introspection off refuses none: the four audits
# asking `__type(name: $name) { name }` (2EA1, 28B9, D6D5, 6A70) ask a name lookup, which it
# answers (tests/test_introspection.py).
AD_HOC_DOCUMENT_AUDITS = frozenset(
    {
        "22EB", "4655", "47DE", "80D8", "82A3", "BF61", "78D5", "2C94", "5A70", "03D4",
        "34A2", "13EE", "8161", "B8B3", "94B0", "0220", "94B1", "0221", "94B2", "0222",
        "2EA1", "28B9", "D6D5", "6A70", "428F", "1B7A", "572B", "FDE2", "7B9B",
    }
)  # fmt: skip


def _node_ready() -> None:
    if shutil.which("node") is None or not (CLIENTS / "node_modules" / ".installed").exists():
        pytest.fail("the Node client suite is not installed: run `make tests/clients/node_modules`")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prepared]:
    with running_gateway(tmp_path_factory.mktemp("clients")) as served:
        yield prepare(served)


# Generous: the Node tests bound each of their own waits, and the machine may be busy.
@pytest.mark.timeout(600)
def test_the_node_clients(prepared: Prepared) -> None:
    _node_ready()
    environment = {**os.environ, "TSP_CLIENT_FIXTURES": json.dumps(prepared.as_json())}
    run = subprocess.run(
        ["node", "--test", "--test-reporter=spec", *NODE_TESTS],
        cwd=CLIENTS,
        env=environment,
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def _audit(url: str) -> list[dict[str, Any]]:
    run = subprocess.run(
        ["node", "audit.mjs", f"{url}/graphql"],
        cwd=CLIENTS,
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    results: list[dict[str, Any]] = json.loads(run.stdout)
    assert len(results) > 50, results
    return results


@pytest.mark.parametrize(
    ("env", "refused", "code"),
    [
        ({"TSP_DEMO": "1"}, frozenset(), None),
        ({"TSP_DEMO": "0", "TSP_INTROSPECTION": "1"}, frozenset(), None),
        ({"TSP_DEMO": "0"}, frozenset(), None),
        ({"TSP_TRUSTED_DOCUMENTS_ONLY": "1"}, AD_HOC_DOCUMENT_AUDITS, "TRUSTED_DOCUMENT_REQUIRED"),
    ],
    ids=["demo-on", "demo-off-introspection-on", "demo-off", "trusted-documents-only"],
)
@pytest.mark.timeout(600)
def test_the_graphql_over_http_audit(
    tmp_path: Path, env: dict[str, str], refused: frozenset[str], code: str | None
) -> None:
    _node_ready()
    with running_gateway(tmp_path, env=env) as served:
        results = _audit(served.url)
    failed = {r["id"]: r for r in results if r["status"] != "ok"}
    assert set(failed) == refused, {k: (v["name"], v["reason"]) for k, v in failed.items()}
    for result in failed.values():
        assert f'"code":"{code}"' in result["response"], result


async def test_gql_over_httpx(prepared: Prepared) -> None:
    registrant = prepared.registrants["gql-httpx"]
    transport = HTTPXAsyncTransport(
        url=f"{prepared.url}/graphql",
        headers={"Authorization": f"Bearer {registrant['token']}"},
        timeout=30,
    )
    async with Client(transport=transport) as session:
        categories = await session.execute(
            GraphQLRequest(
                "query Q($n: Int) { serviceCategories(first: $n) { nodes { name } } }",
                variable_values={"n": 1},
            )
        )
        registered = await session.execute(
            GraphQLRequest(REGISTER, variable_values={"input": registration("Gql Registrant")})
        )
        with pytest.raises(TransportQueryError) as refused:
            await session.execute(gql("{ serviceCategories(first: -1) { totalCount } }"))
    assert categories == {"serviceCategories": {"nodes": [{"name": "Shop Management"}]}}
    assert registered["registerPartner"] == {
        "partner": {"id": registrant["id"], "name": "Gql Registrant", "status": "ACTIVE"},
        "userErrors": [],
    }
    assert refused.value.errors
    assert refused.value.errors[0]["extensions"]["code"]


@pytest.mark.parametrize("where", ["connection_init", "header"])
async def test_gql_over_websockets(prepared: Prepared, where: str) -> None:
    # The token in connection_init's payload, or in the upgrade request's header.
    subscriber = prepared.subscribers["gql-ws" if where == "connection_init" else "gql-ws-header"]
    authorization = {"Authorization": f"Bearer {subscriber['token']}"}
    transport = WebsocketsTransport(
        url=prepared.url.replace("http", "ws", 1) + "/graphql",
        init_payload=authorization if where == "connection_init" else {},
        headers=authorization if where == "header" else None,
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )
    events = GraphQLRequest(
        """subscription Events($after: String) {
          events(types: [CATEGORY_APPLICATION_REVIEWED], after: $after) {
            __typename type subjectId partnerId } }""",
        variable_values={"after": "0"},
    )
    async with Client(transport=transport) as session:
        typename = await session.execute(gql("{ __typename }"))
        async for answer in session.subscribe(events):
            event = answer["events"]
            break
    assert typename == {"__typename": "Query"}
    assert event == {
        "__typename": "CategoryApplicationEvent",
        "type": "CATEGORY_APPLICATION_REVIEWED",
        "subjectId": subscriber["applicationId"],
        "partnerId": subscriber["id"],
    }
