"""Shared fixtures: one real store per session and adapter, cleaned between tests, factory
fixtures that build documents, and a client that talks to the whole app in-process."""

from __future__ import annotations

import collections
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest

from datastore import collections as c
from datastore.catalog import get_catalog
from datastore.codec import utc_now
from datastore.documents import (
    AuthorizationDocument,
    PartnerDocument,
    RequestDocument,
    SellerDocument,
    ServiceDocument,
    ServiceOfferDocument,
    problems_of,
)
from datastore.enums import (
    REGION_MARKETS,
    AuthorizationChannel,
    AuthorizationReason,
    AuthorizationStatus,
    LinkedStatus,
    Market,
    PartnerStatus,
    PartnerType,
    Region,
    RequestStatus,
    SellerKind,
    ServiceStatus,
    ServiceType,
)
from datastore.ids import new_id, new_token
from datastore.search import search_fields
from datastore.store import DocumentStore
from edge import planned_execution
from edge.export_settings import ExportSettings
from edge.extension import GatewayPolicy
from edge.gateway_settings import Settings
from edge.planned_execution import Execution
from edge.settings import TransportSettings
from edge.stream_settings import StreamSettings
from edge.throttle import ThrottlePolicy
from gateway import create_app
from resolvers.identity import Role, issue_token
from resolvers.offer_dates import day_after, day_start
from tests.stores import (
    MONGODB_SKIP_REASON,
    MONGODB_URI,
    STORE_KINDS,
    adapter_problem,
    drop_store,
    open_store,
)

JWT_SECRET = "test-secret-" + "x" * 40
MAX_PAGES = 100
"""How many pages a test pages through at most before it fails (no test loop is unbounded)."""
# Throttling is off for the suite (its many requests per caller would drain a bucket and
# its round-trip counts are about resolvers); tests/test_throttle.py turns it on. So is the
# webhook worker of the app's lifespan, whose polling would land in those counts; the webhook
# tests run a worker themselves (and so do the bulk export tests, for the export worker).
# Every query the suite sends runs planned and interpreted, and must answer the same bytes
# (see ``planned_and_interpreted_agree``).
PATIENT = TransportSettings(
    request_timeout_seconds=300, header_timeout_seconds=300, body_timeout_seconds=300
)
"""The transport of every gateway the suite serves: generous timeouts, since on a loaded machine
a request can take many seconds, and a test about something else must not fail because the
gateway cut it off (a test about a timeout sets that one short itself)."""
SETTINGS = Settings(
    jwt_secret=JWT_SECRET,
    transport=PATIENT,
    policy=GatewayPolicy(throttle=ThrottlePolicy(enabled=False)),
    streams=StreamSettings(webhook_worker=False),
    execution=Execution.CHECKED,
    exports=ExportSettings(worker=False),
)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    """Fails a test parametrised with an adapter (its id says ``[mongodb]``, ``[sqlite]``)
    whose fixtures hand it no store of that adapter, or one of another (CI counts passed
    ``[mongodb]`` ids as the MongoDB half of the suite: each must really have run there)."""
    if not isinstance(item, pytest.Function) or not hasattr(item, "callspec"):
        return
    if problem := adapter_problem(item.name, item.callspec.params.values(), item.funcargs.values()):
        pytest.fail(problem, pytrace=False)


@pytest.fixture(autouse=True)
def planned_and_interpreted_agree() -> Iterator[None]:
    """Fails a test during which a query's planned answer differed from its interpreted one
    (the whole suite's data and queries are the comparison's test set)."""
    planned_execution.mismatches.clear()
    yield
    found = list(planned_execution.mismatches)
    planned_execution.mismatches.clear()
    assert not found, "planned execution answered differently:\n" + "\n".join(found)


COMPARED_GOAL = 0.90
"""The share of the suite's query executions that must be compared planned against
interpreted (answered from their plan, not unplanned and not fallen back)."""


Tally = collections.Counter[tuple[str, str]]


def _compared_share(tally: Tally) -> tuple[int, int, str]:
    """Query executions compared and run in checked mode, and what the others were."""
    queries = {kind: count for kind, count in tally.items() if kind[1] not in _NOT_QUERIES}
    compared = sum(count for (how, _), count in queries.items() if how == "planned")
    others = ", ".join(
        f"{how} ({why}): {count}"
        for (how, why), count in sorted(queries.items(), key=lambda kv: -kv[1])
        if how != "planned"
    )
    return compared, sum(queries.values()), others


_NOT_QUERIES = {"mutation", "subscription"}


def _whole_suite(session: pytest.Session) -> bool:
    """Whether the session ran every test module (a subset compares what it happens to send:
    its share says nothing of the suite's). Under pytest-xdist each worker collects the whole
    selection, so a worker answers for the run."""
    ran = {item.path for item in session.items}
    every = set(Path(__file__).parent.glob("test_*.py"))
    return every <= ran and not session.config.option.keyword and not session.shouldfail


class _Workers:
    """What pytest-xdist workers tallied, gathered by the controller as each one finishes."""

    tally: Tally = collections.Counter()
    whole_suite: list[bool] = []


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """(pytest-xdist, on the controller) adds a finished worker's tally to the run's."""
    output = getattr(node, "workeroutput", {})
    for how, why, count in output.get("executions", []):
        _Workers.tally[(how, why)] += count
    if "whole_suite" in output:
        _Workers.whole_suite.append(output["whole_suite"])


_share_report: list[str] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Reports the share of query executions compared planned against interpreted, and fails
    a whole-suite run below :data:`COMPARED_GOAL` (a pytest-xdist worker hands its tally to
    the controller, which judges the whole run)."""
    worker_output = getattr(session.config, "workeroutput", None)
    if worker_output is not None:
        tally = planned_execution.executions
        # Plain values: execnet sends no enums (a reason may be one).
        worker_output["executions"] = [[str(how), str(why), n] for (how, why), n in tally.items()]
        worker_output["whole_suite"] = _whole_suite(session)
        return
    if _Workers.whole_suite:
        tally, whole = _Workers.tally, all(_Workers.whole_suite)
    else:
        tally, whole = planned_execution.executions, _whole_suite(session)
    compared, queries, others = _compared_share(tally)
    if not queries:
        return
    share = compared / queries
    at_errors = tally[("planned", "at its error")]
    _share_report.append(
        f"planned execution: {compared} of {queries} query executions compared ({share:.1%}; "
        f"goal {COMPARED_GOAL:.0%}): {compared - at_errors} byte for byte, {at_errors} at the "
        f"field where both ways met an error; the others: {others or 'none'}"
    )
    if share < COMPARED_GOAL and whole and exitstatus == 0:
        _share_report.append(
            f"FAILED: under {COMPARED_GOAL:.0%} of query executions were compared: plan what "
            "runs unplanned, or find why planned runs fall back (tsp_graphql_executions)"
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for line in _share_report:
        terminalreporter.write_line(line)


@pytest.fixture(scope="session", params=STORE_KINDS)
async def session_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[DocumentStore]:
    """One real store per adapter for the whole session: ``[sqlite]`` always, ``[mongodb]``
    when ``MONGODB_URI`` names a replica set (a fresh database, dropped at the end)."""
    from datastore.collections import INDEXES

    if request.param == "mongodb" and not MONGODB_URI:
        pytest.skip(MONGODB_SKIP_REASON)
    opened = await open_store(request.param, Path(tmp_path_factory.mktemp("store")))
    try:
        await opened.ensure_indexes(INDEXES)
        yield opened
    finally:
        await drop_store(opened)


@pytest.fixture
async def store(session_store: DocumentStore) -> AsyncIterator[DocumentStore]:
    """The session's store, emptied for this test (every test that touches data uses it, so
    every such test runs on every adapter). Afterwards every document the test left must have
    its collection's declared shape (``datastore.documents``): a misspelt field fails here."""
    for collection in c.ALL_COLLECTIONS:
        await session_store.delete_all(collection)
    session_store.stats.reset()
    yield session_store
    misshapen = {
        f"{collection}/{document['_id']}": problems
        for collection in c.ALL_COLLECTIONS
        for document in await session_store.find(collection)
        if (problems := problems_of(collection, document))
    }
    assert not misshapen, f"documents that do not match datastore.documents: {misshapen}"


def token(role: Role, subject: str = "admin", ttl: timedelta = timedelta(hours=1)) -> str:
    return issue_token(JWT_SECRET, role, subject, ttl)


_OWNER_ROLES = {"ptn": Role.PARTNER, "slr": Role.SELLER}


def token_of(owner: Mapping[str, Any]) -> str:
    """A bearer token of the partner or seller document ``owner`` (the role by its id)."""
    subject = str(owner["_id"])
    return token(_OWNER_ROLES[subject.partition("_")[0]], subject)


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

    async def ok(
        self, query: str, variables: dict[str, Any] | None = None, *, as_: str | None = None
    ) -> dict[str, Any]:
        """The answer's ``data``, failing the test on any error in it."""
        body = await self(query, variables, as_=as_)
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    async def payload(
        self, query: str, variables: dict[str, Any] | None = None, *, as_: str | None = None
    ) -> Any:
        """The value of the operation's one root field (a mutation's payload), as :meth:`ok`."""
        (value,) = (await self.ok(query, variables, as_=as_)).values()
        return value


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
    def __call__(self, **fields: Any) -> Awaitable[PartnerDocument]: ...


class ServiceFactory(Protocol):
    def __call__(self, partner: Mapping[str, Any], **fields: Any) -> Awaitable[ServiceDocument]: ...


class SellerFactory(Protocol):
    def __call__(self, **fields: Any) -> Awaitable[SellerDocument]: ...


async def insert_partner(
    store: DocumentStore, created_at: datetime | None = None, **fields: Any
) -> PartnerDocument:
    """An active US TSP (unless ``fields`` say otherwise), as registration makes one."""
    region = fields.pop("registrationRegion", Region.US)
    now = created_at or utc_now()
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


@pytest.fixture
def make_partner(store: DocumentStore) -> PartnerFactory:
    """:func:`insert_partner` into the test's store, each a millisecond after the last."""
    counter = iter(range(1_000_000))

    async def build(**fields: Any) -> PartnerDocument:
        now = utc_now() + timedelta(milliseconds=next(counter))
        return await insert_partner(store, now, **fields)

    return build


@pytest.fixture
def make_service(store: DocumentStore) -> ServiceFactory:
    counter = iter(range(1_000_000))

    async def build(partner: Mapping[str, Any], **fields: Any) -> ServiceDocument:
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


async def insert_seller(store: DocumentStore, **fields: Any) -> SellerDocument:
    """A local US seller (unless ``fields`` say otherwise) with a shop and a linked TikTok
    account, as onboarding leaves one."""
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


@pytest.fixture
def make_seller(store: DocumentStore) -> SellerFactory:
    """:func:`insert_seller` into the test's store."""

    async def build(**fields: Any) -> SellerDocument:
        return await insert_seller(store, **fields)

    return build


OFFER_SETTINGS = {
    "authorizeObject": "SHOP",
    "ticketAuthorization": True,
    "tspAccess": False,
    "dataCompassAccess": True,
}


class OfferFactory(Protocol):
    def __call__(
        self,
        partner: Mapping[str, Any],
        services: Sequence[Mapping[str, Any]],
        *,
        days: int = 90,
        **fields: Any,
    ) -> Awaitable[ServiceOfferDocument]: ...


class AuthorizationFactory(Protocol):
    def __call__(
        self,
        seller: Mapping[str, Any],
        service: Mapping[str, Any],
        *,
        days: int = 60,
        **fields: Any,
    ) -> Awaitable[AuthorizationDocument]: ...


class RequestFactory(Protocol):
    def __call__(
        self, seller: Mapping[str, Any], partner: Mapping[str, Any], **fields: Any
    ) -> Awaitable[RequestDocument]: ...


async def insert_offer(
    store: DocumentStore,
    partner: Mapping[str, Any],
    services: Sequence[Mapping[str, Any]],
    *,
    days: int = 90,
    **fields: Any,
) -> ServiceOfferDocument:
    """An OPEN service offer starting today and ending ``days`` later, as a partner makes one."""
    now = utc_now()
    today = now.date()
    document = {
        "_id": new_id("ofr"),
        "partnerId": partner["_id"],
        "serviceIds": [service["_id"] for service in services],
        "startsAt": day_start(today),
        "endsAt": day_after(today + timedelta(days=days)),
        "settings": OFFER_SETTINGS,
        "linkToken": new_token(),
        "status": "OPEN",
        "createdAt": now,
        "updatedAt": now,
        **fields,
    }
    return await store.insert(c.SERVICE_OFFERS, document)


@pytest.fixture
def make_offer(store: DocumentStore) -> OfferFactory:
    """:func:`insert_offer` into the test's store."""

    async def build(
        partner: Mapping[str, Any],
        services: Sequence[Mapping[str, Any]],
        *,
        days: int = 90,
        **fields: Any,
    ) -> ServiceOfferDocument:
        return await insert_offer(store, partner, services, days=days, **fields)

    return build


@pytest.fixture
def make_authorization(store: DocumentStore) -> AuthorizationFactory:
    """An authorization of ``service`` by ``seller`` that started today and ends in ``days``;
    ACTIVE covering the seller's shops unless ``fields`` say otherwise."""

    async def build(
        seller: Mapping[str, Any], service: Mapping[str, Any], *, days: int = 60, **fields: Any
    ) -> AuthorizationDocument:
        now = utc_now()
        today = now.date()
        shops = await store.find(c.SHOPS, {"sellerId": seller["_id"]}, limit=50)
        document = {
            "_id": new_id("aut"),
            "sellerId": seller["_id"],
            "partnerId": service["partnerId"],
            "serviceId": service["_id"],
            "settings": OFFER_SETTINGS,
            "shopIds": [shop["_id"] for shop in shops],
            "tiktokAccountIds": [],
            "channel": AuthorizationChannel.SERVICE_LINK,
            "startsAt": day_start(today),
            "endsAt": day_after(today + timedelta(days=days)),
            "status": AuthorizationStatus.ACTIVE,
            "statusReason": AuthorizationReason.AUTHORIZED,
            "createdAt": now,
            "updatedAt": now,
            **fields,
        }
        if document["status"] == AuthorizationStatus.ACTIVE:
            document.setdefault("activeKey", f"{seller['_id']}|{service['_id']}")
        return await store.insert(c.AUTHORIZATIONS, document)

    return build


@pytest.fixture
def make_request(store: DocumentStore) -> RequestFactory:
    """A request from ``seller`` to ``partner`` awaiting the partner's review."""

    async def build(
        seller: Mapping[str, Any], partner: Mapping[str, Any], **fields: Any
    ) -> RequestDocument:
        now = utc_now()
        document = {
            "_id": new_id("req"),
            "sellerId": seller["_id"],
            "partnerId": partner["_id"],
            "partnerIndex": 0,
            "contact": {"subject": "Mia Chen", "email": "mia@shop.example"},
            "business": {"companySize": "SIZE_11_50", "currency": "USD"},
            "status": RequestStatus.PARTNER_REVIEWING,
            "createdAt": now,
            "updatedAt": now,
            **fields,
        }
        return await store.insert(c.REQUESTS, document)

    return build


@dataclass(frozen=True)
class Make:
    """Every document factory of the test's store, as one fixture (``make.partner()``,
    ``make.service(partner)``, ...): a test asks for ``make`` instead of listing each."""

    partner: PartnerFactory
    service: ServiceFactory
    seller: SellerFactory
    offer: OfferFactory
    authorization: AuthorizationFactory
    request: RequestFactory


@pytest.fixture
def make(
    make_partner: PartnerFactory,
    make_service: ServiceFactory,
    make_seller: SellerFactory,
    make_offer: OfferFactory,
    make_authorization: AuthorizationFactory,
    make_request: RequestFactory,
) -> Make:
    return Make(
        make_partner, make_service, make_seller, make_offer, make_authorization, make_request
    )


@pytest.fixture
async def partner(make_partner: PartnerFactory) -> PartnerDocument:
    """An active US TSP."""
    return await make_partner()


@pytest.fixture
async def seller(make_seller: SellerFactory) -> SellerDocument:
    """A seller allowed to authorize from the store and renew directly (an Indonesian local
    seller)."""
    return await make_seller(market=Market.ID)


def request_form(*partner_ids: str, subject: str = "Mia Chen", **business: Any) -> dict[str, Any]:
    """The variables of ``createRequest``: a seller asks ``partner_ids`` for services, with
    the form filled in as a seller would (``business`` changes or adds fields)."""
    return {
        "input": {
            "contact": {"subject": subject, "email": "mia@shop.example"},
            "business": {
                "companySize": "SIZE_11_50",
                "currency": "USD",
                "shopMonthlyGmv": "25000.50",
                "monthlyBudget": "1500",
                "mainProductCategory": "BEAUTY_AND_PERSONAL_CARE",
                **business,
            },
            "partnerIds": list(partner_ids),
        }
    }


ACCEPT_OFFER = """mutation($token: String!, $input: AuthorizeServiceOfferInput) {
  authorizeServiceOffer(token: $token, input: $input) {
    authorizations { id } userErrors { field message code } } }"""


async def accept(
    gql: GraphQLClient, offer: Mapping[str, Any], seller: Mapping[str, Any], **edits: Any
) -> list[str]:
    """The ids of the authorizations ``seller`` is granted accepting ``offer`` through the API
    (with ``edits`` as its input), failing the test on any error."""
    variables = {"token": offer["linkToken"], "input": edits or None}
    accepted = await gql.payload(ACCEPT_OFFER, variables, as_=token_of(seller))
    assert accepted["userErrors"] == [], accepted
    return [authorization["id"] for authorization in accepted["authorizations"]]


@dataclass(frozen=True)
class Accepted:
    """An offer of one new live service that a seller accepted through the API."""

    offer: ServiceOfferDocument
    authorization_id: str


async def accepted_offer(
    gql: GraphQLClient,
    make: Make,
    partner: Mapping[str, Any],
    seller: Mapping[str, Any],
    *,
    days: int = 90,
) -> Accepted:
    """An offer of a new live service of ``partner``, open ``days``, that ``seller`` accepted
    through the API (the set-up of every test about what an acceptance grants)."""
    offer = await make.offer(partner, [await make.service(partner)], days=days)
    (authorization_id,) = await accept(gql, offer, seller)
    return Accepted(offer, authorization_id)


AdminToken = Callable[[], str]


@pytest.fixture
def admin() -> str:
    return token(Role.ADMIN)
