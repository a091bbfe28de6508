"""Does a page cost its size? The same first pages at 1k, 10k and 100k children per parent.

For each size, seeds a fresh store with the demo data set, lets the demo seller accept the
demo partner's open offer through the API (one real authorization, with its history), then
grows the partner's authorizations and offers, and the history of its newest offer, by copies
of those documents, older than the originals, so the first pages always show the same
documents. It times, through the whole app in-process (HTTP, JWT, GraphQL, dataloaders), as
the partner:

- ``authorizations``: ``viewer.partner.authorizations(first: 20)``;
- ``serviceOffers``: ``viewer.partner.serviceOffers(first: 20)``;
- ``history``: ``serviceOffers(first: 1)`` then that offer's ``history(first: 20)``;
- ``insights year``: ``viewer.partner.insights`` over the last 365 days by day, every figure
  and the summary, after ``size`` authorizations were granted over that year (each with its
  AUTHORIZED history entry, the counters rebuilt from them): a year reads its days' counters,
  so the time should not follow the size;
- ``search``: ``store(query:, sortKey:, reverse:, first: 20)`` in every shape: a word in one
  listed service in ten, drawn at random (``common``; in the name of half of those), a word in
  every one (``everywhere``), a word in one of them (``rare``), two words (``two words``: the
  common word and a word in one service in two, also drawn, in the name of half of those: one
  service in twenty holds both) and no query (``none``); each in RELEVANCE, NEWEST and NAME
  order, forwards and reversed; over 1k, 10k and 100k listed services (grown by copies of the
  demo's live services). Beside the whole request, the store's read of the same page alone
  (``find_page`` with the listing the resolver builds), where growth is not hidden by the
  request's fixed cost.

Each size has its own store and app, all open at once, and the queries run in interleaved
rounds (every query at every size, then again), so load from other jobs on the machine falls
on every size alike. Ratios are largest / smallest size, medians of the same run.
``--only search`` (or ``paged``) runs one half.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Mapping
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from pymongo import AsyncMongoClient

from datastore import collections as c
from datastore.codec import Document, utc_now
from datastore.ids import new_id, new_token
from datastore.paging import Page, find_page
from datastore.store import DocumentStore
from edge.extension import GatewayPolicy
from edge.gateway_settings import Settings
from edge.throttle import ThrottlePolicy
from gateway import create_app, open_store
from resolvers.demo_seed import seed_demo
from resolvers.identity import Role, issue_token
from resolvers.insight_rebuild import rebuild
from resolvers.store_search import StoreSortKey, store_listing

SECRET = "bench-secret-" + "x" * 40
WARMUP = 3  # rounds
BATCH = 1000

AUTHORIZATIONS = (
    "{ viewer { partner { authorizations(first: 20) { edges { node { id status } } } } } }"
)
OFFERS = "{ viewer { partner { serviceOffers(first: 20) { edges { node { id status } } } } } }"
HISTORY = """{ viewer { partner { serviceOffers(first: 1) { edges { node {
  history(first: 20) { edges { node { action } } } } } } } } }"""
INSIGHTS = """query($from: Date!, $to: Date!) { viewer { partner { insights(from: $from, to: $to) {
  buckets { startDate endDate offersCreated linkOpens offersAccepted authorizationsGranted
    grantedFromOffer grantedFromServiceLink grantedFromStore renewed canceled expired closed
    requestsReceived requestsAccepted requestsRejected activeAtEnd }
  summary { linkOpens offersAccepted linkToAuthorizationConversion
    medianTimeToAcceptanceSeconds renewalsDue renewalRate expiringWithin15Days } } } } }"""
YEAR = 365
SEARCH = """query($q: String, $sort: StoreSortKey!, $reverse: Boolean!) {
  store(query: $q, sortKey: $sort, reverse: $reverse, first: 20) { edges { node { id } } } }"""
COMMON_WORD = "tenth"
HALF_WORD = "half"
EVERY_WORD = "everywhere"
RARE_WORD = "zanzibarite"
WORDS: dict[str, str | None] = {
    "rare": RARE_WORD,
    "common": COMMON_WORD,
    "everywhere": EVERY_WORD,
    "two words": f"{COMMON_WORD} {HALF_WORD}",
    "none": None,
}
ORDERS = [(key, reverse) for key in StoreSortKey for reverse in (False, True)]


def _copy(original: Mapping[str, Any], prefix: str, age: int, **changes: Any) -> Document:
    """A copy of ``original`` under a new id, ``age`` milliseconds older."""
    copy = {key: value for key, value in original.items() if key != "version"}
    copy.update(_id=new_id(prefix), **changes)
    for stamp in ("createdAt", "updatedAt", "publishedAt"):
        if stamp in copy:
            copy[stamp] = copy[stamp] - timedelta(milliseconds=age)
    return {key: value for key, value in copy.items() if value is not None}


async def _grow(store: DocumentStore, count: int, make: Any) -> None:
    """Insert ``count`` documents made by ``make(n)``, in transactions of ``BATCH``."""
    for start in range(0, count, BATCH):

        async def work(start: int = start) -> None:
            for n in range(start, min(count, start + BATCH)):
                collection, document = make(n)
                await store.insert(collection, document)

        await store.transaction(work)


class Gateway:
    """One store of one size, the app over it, and the documents its queries look at."""

    def __init__(self, store: DocumentStore, client: httpx.AsyncClient) -> None:
        self.store = store
        self.client = client
        self.partner_id = ""

    async def post(self, query: str, subject: str, role: Role, **variables: Any) -> Any:
        token = issue_token(SECRET, role, subject, timedelta(hours=1))
        response = await self.client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        )
        body = response.json()
        if response.status_code != 200 or body.get("errors"):
            raise RuntimeError(f"gateway answered {response.status_code}: {body}")
        return body["data"]

    def queries(self, only: str | None) -> dict[str, tuple[str, int, str, Role, dict[str, Any]]]:
        """Name -> (query, nodes expected, subject, role, variables)."""
        partner = self.partner_id
        found: dict[str, tuple[str, int, str, Role, dict[str, Any]]] = {}
        if only != "search":
            found["authorizations"] = (AUTHORIZATIONS, 20, partner, Role.PARTNER, {})
            found["serviceOffers"] = (OFFERS, 20, partner, Role.PARTNER, {})
            found["history"] = (HISTORY, 21, partner, Role.PARTNER, {})
            today = utc_now().date()
            year = {
                "from": (today - timedelta(days=YEAR - 1)).isoformat(),
                "to": today.isoformat(),
            }
            found["insights year"] = (INSIGHTS, YEAR, partner, Role.PARTNER, year)
        if only != "paged":
            for shape, words in WORDS.items():
                for key, reverse in ORDERS:
                    name = f"{shape} {key.value.lower()}{' reversed' if reverse else ''}"
                    variables = {"q": words, "sort": key.value, "reverse": reverse}
                    nodes = 1 if words == RARE_WORD else 20
                    found[name] = (SEARCH, nodes, "admin", Role.ADMIN, variables)
        return found

    async def once(self, name: str, only: str | None) -> tuple[float, int]:
        """Milliseconds and store round trips of one run of query ``name``."""
        query, expected, subject, role, variables = self.queries(only)[name]
        self.store.stats.reset()
        started = time.perf_counter()
        data = await self.post(query, subject, role, **variables)
        elapsed = (time.perf_counter() - started) * 1000
        if (found := str(data).count("'node'") or str(data).count("'startDate'")) != expected:
            raise RuntimeError(f"expected {expected} nodes, got {found}: {query}")
        return elapsed, self.store.stats.round_trips

    async def read(self, name: str, only: str | None) -> float:
        """Milliseconds of the store's read of search ``name``'s page alone (no request)."""
        variables = self.queries(only)[name][4]
        listing = store_listing(
            variables["q"], None, None, None, StoreSortKey(variables["sort"]),
            variables["reverse"],
        )  # fmt: skip
        started = time.perf_counter()
        await find_page(
            self.store, c.SERVICES, listing.filter, listing.sort, Page(size=20),
            score=listing.score,
        )  # fmt: skip
        return (time.perf_counter() - started) * 1000


async def run_backend(backend: str, urls: list[str], args: argparse.Namespace) -> None:
    """One store and app per size, all open at once, measured in interleaved rounds so that
    the machine's load drifts alike over every size."""
    async with AsyncExitStack() as stack:
        gateways: list[Gateway] = []
        for url, size in zip(urls, args.sizes, strict=True):
            # The throttle off: it is the caller's budget, not the query's time (a partner may
            # run the year of days, cost 315, about six times at once, then once per 3 s).
            policy = GatewayPolicy(throttle=ThrottlePolicy(enabled=False))
            settings = Settings(jwt_secret=SECRET, database_url=url, policy=policy)
            store = await open_store(settings)
            stack.push_async_callback(store.close)
            app = create_app(settings, store=store)
            await stack.enter_async_context(app.router.lifespan_context(app))
            transport = httpx.ASGITransport(app=app)
            client = httpx.AsyncClient(transport=transport, base_url="http://bench")
            await stack.enter_async_context(client)
            gateway = Gateway(store, client)
            print(f"{backend}: seeding {size} children per parent", flush=True)
            await seed(gateway, size, args.only)
            gateways.append(gateway)
        names = list(gateways[0].queries(args.only))
        searches = [name for name in names if gateways[0].queries(args.only)[name][0] == SEARCH]
        times: dict[tuple[str, int], list[float]] = {
            (n, i): [] for n in names for i in range(len(gateways))
        }
        reads: dict[tuple[str, int], list[float]] = {
            (n, i): [] for n in searches for i in range(len(gateways))
        }
        trips: dict[tuple[str, int], int] = {}
        for round_ in range(WARMUP + args.runs):
            for name in names:
                for index, gateway in enumerate(gateways):
                    elapsed, round_trips = await gateway.once(name, args.only)
                    read = await gateway.read(name, args.only) if name in searches else 0.0
                    if round_ >= WARMUP:
                        times[(name, index)].append(elapsed)
                        trips[(name, index)] = round_trips
                        if name in searches:
                            reads[(name, index)].append(read)
    sizes = args.sizes
    print(
        f"\n{backend}: median ms per query over {args.runs} interleaved rounds, "
        f"ratio largest / smallest in this run; through the whole app (HTTP, JWT, GraphQL), "
        f"then the store's read of the page alone"
    )
    header = "".join(f"{size:>9}" for size in sizes)
    print(f"{'query':32}{header}   ratio  round trips |{header}   ratio")
    worst = 0.0
    for name in names:
        medians = [statistics.median(times[(name, i)]) for i in range(len(sizes))]
        cells = "".join(f"{ms:9.2f}" for ms in medians)
        counts = ",".join(str(trips[(name, i)]) for i in range(len(sizes)))
        line = f"{name:32}{cells}   {medians[-1] / medians[0]:5.2f}x  {counts:11}"
        if name in searches:
            alone = [statistics.median(reads[(name, i)]) for i in range(len(sizes))]
            line += " |" + "".join(f"{ms:9.2f}" for ms in alone)
            line += f"   {alone[-1] / alone[0]:5.2f}x"
            worst = max(worst, medians[-1] / medians[0], alone[-1] / alone[0])
        print(line)
    if searches:
        print(f"largest search growth {sizes[0]} -> {sizes[-1]}: {worst:.2f}x (goal <= 2)")


async def seed(gateway: Gateway, size: int, only: str | None) -> None:
    """The demo data set, one accepted offer, then ``size`` children of each kind."""
    store = gateway.store
    seeded = await seed_demo(store, only_if_empty=False)
    assert seeded is not None
    partner_id, seller_id = seeded.subjects["partner"], seeded.subjects["seller"]
    gateway.partner_id = partner_id
    accept = """mutation($token: String!) { authorizeServiceOffer(token: $token) {
      userErrors { code } } }"""
    result = await gateway.post(accept, seller_id, Role.SELLER, token=seeded.offer_link_token)
    assert result["authorizeServiceOffer"]["userErrors"] == []
    authorization = (await store.find(c.AUTHORIZATIONS, {"partnerId": partner_id}))[0]
    offer = (await store.find(c.SERVICE_OFFERS, {"partnerId": partner_id}))[0]
    entry: list[Mapping[str, Any]] = [
        *await store.find(c.HISTORY, {"subjectId": offer["_id"]}, limit=1)
    ] or [{"subjectId": offer["_id"], "action": "CREATED", "createdAt": offer["createdAt"]}]
    listed = await store.find(c.SERVICES, {"listed": True})
    # Every listed copy says EVERY_WORD, one in ten COMMON_WORD, one in two HALF_WORD (each
    # in the name of half of those), the newest alone RARE_WORD.
    terms = [*listed[0]["searchTerms"], EVERY_WORD]

    def child(n: int) -> tuple[str, Document]:
        age = n + 1
        kind = n % 3
        if kind == 0:
            return c.AUTHORIZATIONS, _copy(authorization, "aut", age, activeKey=None)
        if kind == 1:
            changes = {"linkToken": new_token(), "idempotencyKey": None}
            return c.SERVICE_OFFERS, _copy(offer, "ofr", age, **changes)
        return c.HISTORY, _copy(entry[0], "hst", age)

    newest = max(service["publishedAt"] for service in listed)
    draw = random.Random(11)

    def service(n: int) -> tuple[str, Document]:
        # Copies are published one millisecond apart, newest first, and one in ten (drawn
        # at random, independently of the order) says the common word.
        original = listed[n % len(listed)]
        words = [*terms, RARE_WORD] if n == 0 else terms
        names = list(original["nameTerms"])
        for word, share in ((COMMON_WORD, 0.1), (HALF_WORD, 0.5)):
            if draw.random() < share:
                words = [*words, word]
                names = [*names, word] if draw.random() < 0.5 else names
        changes: dict[str, Any] = {"searchTerms": words, "nameTerms": names}
        changes["idempotencyKey"] = None
        changes["authorizationLinkToken"] = new_token()
        copy = _copy(original, "svc", 0, **changes)
        copy["publishedAt"] = newest - timedelta(milliseconds=n + 1)
        return c.SERVICES, copy

    if only != "search":
        await _grow(store, 3 * size, child)
        await _grow_grants(store, authorization, size)
    if only != "paged":
        await _grow(store, size, service)


async def _grow_grants(store: DocumentStore, original: Mapping[str, Any], size: int) -> None:
    """``size`` authorizations granted at even intervals over the last year (each with its
    AUTHORIZED history entry and a year's term), then the insight counters rebuilt from
    history, as ``tsp-gateway insights rebuild`` does."""
    now = utc_now()
    step = timedelta(days=YEAR) / size
    ids = [new_id("aut") for _ in range(size)]

    def grant(n: int) -> tuple[str, Document]:
        at = now - step * (n // 2 + 1)
        if n % 2 == 0:
            copy = _copy(original, "aut", 0, activeKey=None, createdAt=at, updatedAt=at)
            copy.update(_id=ids[n // 2], endsAt=at + timedelta(days=YEAR))
            return c.AUTHORIZATIONS, copy
        entry = {
            "_id": new_id("hst"),
            "subjectId": ids[n // 2],
            "action": "AUTHORIZED",
            "actorRole": "SELLER",
            "actorId": original["sellerId"],
            "toStatus": "ACTIVE",
            "reasonCode": "AUTHORIZED",
            "changes": {"channel": {"from": None, "to": original["channel"]}},
            "createdAt": at,
        }
        return c.HISTORY, entry

    await _grow(store, 2 * size, grant)
    await rebuild(store)


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as directory:
        urls = [f"sqlite:///{directory}/bench{size}.sqlite3" for size in args.sizes]
        await run_backend("sqlite", urls, args)
    if uri := os.environ.get("MONGODB_URI"):
        names = [f"/tsp_bench_{uuid.uuid4().hex[:12]}" for _ in args.sizes]
        urls = [urlunsplit(urlsplit(uri)._replace(path=name)) for name in names]
        try:
            await run_backend("mongodb", urls, args)
        finally:
            for url in urls:
                client: AsyncMongoClient[Any] = AsyncMongoClient(url, serverSelectionTimeoutMS=5000)
                await client.drop_database(client.get_default_database().name)
                await client.close()


def _sizes(text: str) -> list[int]:
    return sorted(int(part) for part in text.split(","))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", type=_sizes, default=[1000, 10000, 100000])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--only", choices=["search", "paged"], default=None)
    asyncio.run(main(parser.parse_args()))
