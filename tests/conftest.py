"""Shared fixtures: one real SQLite store per session, cleaned between tests, factory fixtures
that build documents, and a client that talks to the whole app in-process."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest

from datastore import collections as c
from datastore.catalog import get_catalog
from datastore.codec import Document, utc_now
from datastore.enums import (
    REGION_MARKETS,
    LinkedStatus,
    Market,
    PartnerStatus,
    PartnerType,
    Region,
    SellerKind,
    ServiceStatus,
    ServiceType,
)
from datastore.ids import new_id, new_token
from datastore.search import search_fields
from datastore.sqlite import SQLiteStore
from datastore.store import DocumentStore
from edge.extension import GatewayPolicy
from edge.throttle import ThrottlePolicy
from gateway import Settings, create_app
from resolvers.identity import Role, issue_token

JWT_SECRET = "test-secret-" + "x" * 40
# Throttling is off for the suite (its many requests per caller would drain a bucket and
# its round-trip counts are about resolvers); tests/test_throttle.py turns it on.
SETTINGS = Settings(
    jwt_secret=JWT_SECRET, policy=GatewayPolicy(throttle=ThrottlePolicy(enabled=False))
)


@pytest.fixture(scope="session")
async def store(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DocumentStore]:
    from datastore.collections import INDEXES

    opened = SQLiteStore(Path(tmp_path_factory.mktemp("store")) / "tsp.sqlite3")
    await opened.connect()
    await opened.ensure_indexes(INDEXES)
    yield opened
    await opened.close()


@pytest.fixture(autouse=True)
async def clean_store(store: DocumentStore) -> AsyncIterator[None]:
    for collection in c.ALL_COLLECTIONS:
        await store.delete_all(collection)
    store.stats.reset()
    yield


def token(role: Role, subject: str = "admin", ttl: timedelta = timedelta(hours=1)) -> str:
    return issue_token(JWT_SECRET, role, subject, ttl)


class GraphQLClient:
    """Posts GraphQL to the app as a given caller."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, *, as_: str | None = None
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {as_}"} if as_ else {}
        return await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )

    async def __call__(
        self, query: str, variables: dict[str, Any] | None = None, *, as_: str | None = None
    ) -> dict[str, Any]:
        response = await self.post(query, variables, as_=as_)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
async def http(store: DocumentStore) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(SETTINGS, store=store)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield client


@pytest.fixture
def gql(http: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(http)


@contextlib.asynccontextmanager
async def serving(
    store: DocumentStore, settings: Settings, client: tuple[str, int] = ("127.0.0.1", 50000)
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app with ``settings`` on ``store``, calling from ``client``."""
    app = create_app(settings, store=store)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            yield http


class PartnerFactory(Protocol):
    def __call__(self, **fields: Any) -> Awaitable[Document]: ...


class ServiceFactory(Protocol):
    def __call__(self, partner: Document, **fields: Any) -> Awaitable[Document]: ...


class SellerFactory(Protocol):
    def __call__(self, **fields: Any) -> Awaitable[Document]: ...


@pytest.fixture
def make_partner(store: DocumentStore) -> PartnerFactory:
    counter = iter(range(1_000_000))

    async def build(**fields: Any) -> Document:
        region = fields.pop("registrationRegion", Region.US)
        now = utc_now() + timedelta(milliseconds=next(counter))
        document = {
            "_id": new_id("ptn"),
            "name": f"Partner {new_token()[:8]}",
            "type": PartnerType.TSP,
            "registrationRegion": region,
            "targetMarkets": list(REGION_MARKETS[region]),
            "status": PartnerStatus.ACTIVE,
            "contactEmail": "team@partner.example",
            "createdAt": now,
            "updatedAt": now,
            **fields,
        }
        return await store.insert(c.PARTNERS, document)

    return build


@pytest.fixture
def make_service(store: DocumentStore) -> ServiceFactory:
    counter = iter(range(1_000_000))

    async def build(partner: Document, **fields: Any) -> Document:
        category = get_catalog().find(partner["type"], partner["registrationRegion"])[0]
        now = utc_now() + timedelta(milliseconds=next(counter))
        document = {
            "_id": new_id("svc"),
            "partnerId": partner["_id"],
            "name": f"Service {new_token()[:8]}",
            "type": ServiceType.PUBLIC,
            "status": ServiceStatus.LIVE,
            "categoryId": category.id,
            "market": partner["targetMarkets"][0],
            "description": "Full-service shop management.",
            "highlights": ["Fast onboarding"],
            "pricing": "USD 300 / month",
            "contactEmail": "svc@partner.example",
            "authorizationLinkToken": new_token(),
            "createdAt": now,
            "updatedAt": now,
            **fields,
        }
        # What the service life cycle maintains, derived unless the caller set it.
        live = document["status"] == ServiceStatus.LIVE
        derived = {
            "listed": live
            and document["type"] == ServiceType.PUBLIC
            and partner["status"] == PartnerStatus.ACTIVE,
            "publishedAt": document["createdAt"] if live else None,
            **search_fields(document["name"], document.get("description"), partner["name"]),
        }
        return await store.insert(c.SERVICES, {**derived, **document})

    return build


@pytest.fixture
def make_seller(store: DocumentStore) -> SellerFactory:
    async def build(**fields: Any) -> Document:
        now = utc_now()
        seller = await store.insert(
            c.SELLERS,
            {
                "_id": new_id("slr"),
                "name": f"Seller {new_token()[:8]}",
                "kind": SellerKind.LOCAL,
                "market": Market.US,
                "hasShopAccount": True,
                "createdAt": now,
                "updatedAt": now,
                **fields,
            },
        )
        await store.insert(
            c.SHOPS,
            {
                "_id": new_id("shp"),
                "sellerId": seller["_id"],
                "name": "Main shop",
                "market": seller["market"],
                "createdAt": now,
            },
        )
        await store.insert(
            c.TIKTOK_ACCOUNTS,
            {
                "_id": new_id("tta"),
                "sellerId": seller["_id"],
                "handle": "@seller",
                "linkedStatus": LinkedStatus.LINKED,
                "linkedAt": now,
                "createdAt": now,
            },
        )
        return seller

    return build


AdminToken = Callable[[], str]


@pytest.fixture
def admin() -> str:
    return token(Role.ADMIN)
