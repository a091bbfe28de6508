"""The HTTP surface: health, readiness, request ids, bearer tokens, GraphiQL, error masking."""

from __future__ import annotations

import gc
import logging
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import httpx
import jwt
import pytest
from graphql import GraphQLError, OperationDefinitionNode, parse
from graphql.execution.values import get_variable_values

from datastore import collections as c
from datastore.connect import DatabaseURLError
from datastore.sqlite import SQLiteStore
from datastore.store import DocumentStore
from edge.gateway_settings import Settings, SettingsError
from edge.startup_heap import FULL_COLLECTION_EVERY, YOUNG_COLLECTION_EVERY
from gateway import create_app
from resolvers.identity import Role, issue_token
from schema.api import schema
from schema.extensions import is_public_error
from tests.conftest import (
    JWT_SECRET,
    SETTINGS,
    GraphQLClient,
    Make,
)
from tests.polling import until


async def test_healthz_and_readyz(http: httpx.AsyncClient) -> None:
    assert (await http.get("/healthz")).json() == {"status": "ok"}
    ready = await http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}


async def test_readyz_is_503_when_the_store_is_unreachable(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "gone.sqlite3")
    await store.connect()
    app = create_app(SETTINGS, store=store)
    async with app.router.lifespan_context(app):
        await store.close()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            response = await client.get("/readyz")
            assert (await client.get("/healthz")).status_code == 200
    assert response.status_code == 503
    # The store's own words ("the SQLite store is not connected", "database or disk is
    # full") stay in the log.
    assert response.json() == {
        "status": "unavailable",
        "code": "STORE_UNAVAILABLE",
        "reason": "the store refused a write; the gateway's log says why",
    }


async def test_request_id_is_echoed_or_generated(http: httpx.AsyncClient) -> None:
    given = await http.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    generated = await http.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert len(generated.headers["x-request-id"]) == 32


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Bearer not-a-jwt", "token is invalid"),
        ("Basic dXNlcjpwYXNz", "must be 'Bearer <token>'"),
        (
            "Bearer "
            + issue_token("another-secret-" + "y" * 40, Role.ADMIN, "admin", timedelta(hours=1)),
            "signature is invalid",
        ),
        (
            "Bearer " + issue_token(JWT_SECRET, Role.ADMIN, "admin", timedelta(seconds=-5)),
            "expired",
        ),
        (
            "Bearer "
            + jwt.encode(
                {"iss": "tsp-gateway", "sub": "x", "role": "GOD", "exp": 4102444800},
                JWT_SECRET,
                algorithm="HS256",
            ),
            "no valid role",
        ),
        *(
            (
                "Bearer "
                + jwt.encode(
                    {"iss": "tsp-gateway", "sub": subject, "role": role, "exp": 4102444800},
                    JWT_SECRET,
                    algorithm="HS256",
                ),
                "names no account",
            )
            # Signed, but naming nobody: once read as "no owner", it saw every owner's lists.
            for subject, role in (("", "PARTNER"), ("", "SELLER"), (" ", "ADMIN"))
        ),
    ],
)
async def test_bad_tokens_get_401_not_anonymous_access(
    http: httpx.AsyncClient, header: str, message: str
) -> None:
    response = await http.post(
        "/graphql", json={"query": "{ viewer { role } }"}, headers={"Authorization": header}
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    error = response.json()["errors"][0]
    assert message in error["message"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


async def test_two_authorization_headers_are_refused_whichever_comes_first(
    http: httpx.AsyncClient,
) -> None:
    good = "Bearer " + issue_token(JWT_SECRET, Role.ADMIN, "admin", timedelta(hours=1))
    for headers in (
        [("Authorization", good), ("Authorization", "Bearer x")],
        [("Authorization", "Bearer x"), ("Authorization", good)],
    ):
        response = await http.post(
            "/graphql", json={"query": "{ viewer { role } }"}, headers=headers
        )
        assert response.status_code == 401
        error = response.json()["errors"][0]
        assert (error["extensions"]["code"], error["message"]) == (
            "UNAUTHENTICATED",
            "send one Authorization header, not several",
        )


async def test_unexpected_errors_are_masked_and_logged_with_the_request_id(
    gql: GraphQLClient, http: httpx.AsyncClient, make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    partner = await make.partner()
    broken = await make.service(partner, categoryId="scat_doesnotexist")
    query = "query($id: ID!) { node(id: $id) { ... on Service { category { name } } } }"
    with caplog.at_level(logging.ERROR, logger="tsp.graphql"):
        response = await http.post(
            "/graphql",
            json={"query": query, "variables": {"id": broken["_id"]}},
            headers={"X-Request-ID": "req-masked-1"},
        )
    error = response.json()["errors"][0]
    assert error["message"] == "Unexpected error. Request id: req-masked-1"
    assert "scat_doesnotexist" not in response.text
    assert error["extensions"] == {"code": "INTERNAL", "requestId": "req-masked-1"}
    logged = [r for r in caplog.records if getattr(r, "request_id", None) == "req-masked-1"]
    assert logged and "scat_doesnotexist" in str(logged[0].exc_info[1])  # type: ignore[index]


def test_an_exception_of_a_hook_before_execution_is_masked_but_a_bad_variable_is_not() -> None:
    """Strawberry wraps an exception raised before execution (by the gateway's own hooks, such
    as the cost's walk) as it is, with no path: it once reached the client as a bare "date
    value out of range" with no code. A variable's value that its scalar refuses also has no
    path and keeps what the scalar raised, but names the variable."""
    hook_bug = OverflowError("date value out of range")
    assert not is_public_error(GraphQLError(str(hook_bug), original_error=hook_bug))
    document = parse("query($day: Date!) { __typename }")
    operation = document.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    coerced = get_variable_values(
        schema._schema, operation.variable_definitions or (), {"day": "not a day"}
    )
    assert isinstance(coerced, list) and coerced[0].original_error is not None
    assert is_public_error(coerced[0])


async def test_graphiql_page_is_served_offline(store: DocumentStore) -> None:
    app = create_app(replace(SETTINGS, graphiql=True), store=store)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            page = await http.get("/graphql", headers={"Accept": "text/html"})
            assert page.status_code == 200
            assert "/static/graphiql/graphiql.min.js" in page.text
            assert "https://" not in page.text and "http://" not in page.text
            script = await http.get("/static/graphiql/graphiql.min.js")
            assert script.status_code == 200


async def test_graphiql_is_not_served_outside_demo_mode_unless_enabled(
    http: httpx.AsyncClient,
) -> None:
    page = await http.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 404
    assert page.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_graphiql_in_demo_mode_shows_demo_tokens(store: DocumentStore, make: Make) -> None:
    await make.partner()
    app = create_app(Settings(jwt_secret=JWT_SECRET, demo=True), store=store)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            page = await client.get("/graphql", headers={"Accept": "text/html"})
    assert "Demo mode" in page.text
    assert set(app.state.demo_tokens) == {"admin", "partner"}


def test_settings_from_env_validates() -> None:
    secret = "s" * 40
    settings = Settings.from_env({"TSP_JWT_SECRET": secret, "PORT": "9001", "HOST": "0.0.0.0"})
    assert (settings.port, settings.host, settings.database_url) == (
        9001,
        "0.0.0.0",
        "sqlite:///var/tsp.sqlite3",
    )
    with pytest.raises(SettingsError, match="TSP_JWT_SECRET"):
        Settings.from_env({})
    with pytest.raises(SettingsError, match="PORT"):
        Settings.from_env({"TSP_JWT_SECRET": secret, "PORT": "http"})
    for url in ("postgres://db/x", "sqlite:relative.db", "mongodb://host:notaport/db", "nonsense"):
        with pytest.raises(DatabaseURLError):
            Settings.from_env({"TSP_JWT_SECRET": secret, "TSP_DATABASE_URL": url})


async def test_nothing_is_written_by_rejected_requests(
    http: httpx.AsyncClient, store: DocumentStore
) -> None:
    await http.post("/graphql", json={"query": "{ partners(first: 1000) { edges { cursor } } }"})
    await http.post("/graphql", json={"query": "{ nope }"})
    await http.post("/graphql", content=b"{not json", headers={"content-type": "application/json"})
    for collection in c.ALL_COLLECTIONS:
        assert await store.count(collection) == 0


async def test_lifespan_opens_and_closes_its_own_store(tmp_path: Path) -> None:
    settings = Settings(jwt_secret=JWT_SECRET, database_url=f"sqlite:///{tmp_path}/own.sqlite3")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        store = app.state.store
        await store.ping()
        assert (tmp_path / "own.sqlite3").exists()
    from datastore.store import StoreUnavailableError

    with pytest.raises(StoreUnavailableError):
        await store.ping()


_COUNT_COLLECTIONS = """
import gc
started = []
gc.callbacks.append(lambda phase, info: started.append(phase) if phase == "start" else None)
import {module}
print(len(started))
"""


@pytest.mark.parametrize("module", ["cli", "gateway"])
def test_what_serving_imports_is_made_without_the_collector_walking_it(module: str) -> None:
    # The command line (serve) and a worker's app (gateway) pause the collector while they
    # import (schema.long_lived): it ran 110-120 times before, finding next to nothing.
    imported = subprocess.run(
        [sys.executable, "-c", _COUNT_COLLECTIONS.format(module=module)],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert int(imported.stdout) <= 2


async def test_a_serving_app_keeps_its_start_up_heap_out_of_full_collections_and_those_rare(
    store: DocumentStore,
) -> None:
    # Only the app of a serving process freezes (tests build many apps in one process); the
    # schema's modules froze what they made when imported (schema.long_lived).
    frozen_by_imports = gc.get_freeze_count()
    plain = create_app(SETTINGS, store=store)
    async with plain.router.lifespan_context(plain):
        assert gc.get_freeze_count() <= frozen_by_imports  # frozen objects may still be freed
    thresholds = gc.get_threshold()
    served = create_app(SETTINGS, store=store, freeze_heap_at_start=True)
    try:
        async with served.router.lifespan_context(served):
            # Everything alive at start-up (the schema, the store) is among the frozen objects.
            assert gc.get_freeze_count() > frozen_by_imports + 10_000
            gc.collect()
            assert not any(o is served.state.store for o in gc.get_objects(generation=2))
            # Full collections (which walk every request in flight) are kept rare.
            assert gc.get_threshold()[2] == FULL_COLLECTION_EVERY > thresholds[2]
            # Nor is a request's working set walked while it runs (young collections).
            assert gc.get_threshold()[0] == YOUNG_COLLECTION_EVERY > thresholds[0]
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


async def test_the_gateway_sweeps_expired_authorizations_in_the_background(
    store: DocumentStore, make: Make
) -> None:
    from datetime import timedelta

    from datastore.codec import utc_now

    partner = await make.partner()
    expired = await make.authorization(
        await make.seller(),
        await make.service(partner),
        startsAt=utc_now() - timedelta(days=1),
        endsAt=utc_now() - timedelta(seconds=1),
    )
    app = create_app(Settings(jwt_secret=JWT_SECRET, sweep_interval_seconds=3600), store=store)

    async def completed() -> bool:
        found = await store.get_many(c.AUTHORIZATIONS, [expired["_id"]])
        return found[expired["_id"]]["status"] == "COMPLETED"

    async with app.router.lifespan_context(app):
        await until(completed, "the start-up sweep completing the expired authorization")


def test_sweep_interval_setting() -> None:
    secret = "s" * 40
    assert Settings.from_env({"TSP_JWT_SECRET": secret}).sweep_interval_seconds == 300
    assert (
        Settings.from_env(
            {"TSP_JWT_SECRET": secret, "TSP_SWEEP_INTERVAL_SECONDS": "0"}
        ).sweep_interval_seconds
        == 0
    )
    with pytest.raises(SettingsError, match="TSP_SWEEP_INTERVAL_SECONDS"):
        Settings.from_env({"TSP_JWT_SECRET": secret, "TSP_SWEEP_INTERVAL_SECONDS": "soon"})


def test_request_limits_are_configurable() -> None:
    secret = "s" * 40
    defaults = Settings.from_env({"TSP_JWT_SECRET": secret}).request_limits
    assert (defaults.max_open_per_partner, defaults.max_open) == (1, 20)
    custom = Settings.from_env(
        {
            "TSP_JWT_SECRET": secret,
            "TSP_MAX_OPEN_REQUESTS_PER_PARTNER": "2",
            "TSP_MAX_OPEN_REQUESTS": "5",
        }
    ).request_limits
    assert (custom.max_open_per_partner, custom.max_open) == (2, 5)
    with pytest.raises(SettingsError, match="TSP_MAX_OPEN_REQUESTS"):
        Settings.from_env({"TSP_JWT_SECRET": secret, "TSP_MAX_OPEN_REQUESTS": "0"})
