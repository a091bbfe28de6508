"""Does a page cost its size? The same first pages at 1k, 10k and 100k children per parent.

Seeds the demo data set, lets the demo seller accept the demo partner's open offer through the
API (one real authorization, with its history), then grows the partner's authorizations and
offers, and the history of its newest offer, by copies of those documents, older than the
originals, so the first pages always show the same documents. At each size it times, through
the whole app in-process (HTTP, JWT, GraphQL, dataloaders), as the partner:

- ``authorizations``: ``viewer.partner.authorizations(first: 20)``;
- ``serviceOffers``: ``viewer.partner.serviceOffers(first: 20)``;
- ``history``: ``serviceOffers(first: 1)`` then that offer's ``history(first: 20)``;
- ``store search``: ``store(query:, first: 20)`` (relevance order) for a word in one listed
  service in ten (``common``), a word in every one (``everywhere``), a word in one of them
  (``rare``), and no query (``none``), over 1k, 10k and 100k listed services (grown by copies
  of the demo's live services).

Ratios are against the smallest size of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from pymongo import AsyncMongoClient

from datastore import collections as c
from datastore.codec import Document
from datastore.demo import seed_demo
from datastore.ids import new_id, new_token
from datastore.store import DocumentStore
from gateway import Settings, create_app, open_store
from resolvers.identity import Role, issue_token

SECRET = "bench-secret-" + "x" * 40
WARMUP = 3
BATCH = 1000

AUTHORIZATIONS = (
    "{ viewer { partner { authorizations(first: 20) { edges { node { id status } } } } } }"
)
OFFERS = "{ viewer { partner { serviceOffers(first: 20) { edges { node { id status } } } } } }"
HISTORY = """{ viewer { partner { serviceOffers(first: 1) { edges { node {
  history(first: 20) { edges { node { action } } } } } } } } }"""
SEARCH = """query($q: String) { store(query: $q, first: 20) { edges { node { id } } } }"""
COMMON_WORD = "tenth"
EVERY_WORD = "everywhere"
RARE_WORD = "zanzibarite"


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


class Bench:
    def __init__(self, store: DocumentStore, client: httpx.AsyncClient, runs: int) -> None:
        self.store = store
        self.client = client
        self.runs = runs

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

    async def time(
        self, query: str, expected: int, subject: str, role: Role, **variables: Any
    ) -> tuple[float, int]:
        """Median milliseconds of ``runs`` runs, and the store round trips of one."""
        for _ in range(WARMUP):
            data = await self.post(query, subject, role, **variables)
        if (found := str(data).count("'node'")) != expected:
            raise RuntimeError(f"expected {expected} nodes, got {found}: {query}")
        times = []
        for _ in range(self.runs):
            self.store.stats.reset()
            started = time.perf_counter()
            await self.post(query, subject, role, **variables)
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times), self.store.stats.round_trips


async def run_backend(backend: str, url: str, args: argparse.Namespace) -> None:
    settings = Settings(jwt_secret=SECRET, database_url=url)
    store = await open_store(settings)
    app = create_app(settings, store=store)
    try:
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://bench") as client,
        ):
            await measure(backend, store, Bench(store, client, args.runs), args.sizes)
    finally:
        await store.close()


async def measure(backend: str, store: DocumentStore, bench: Bench, sizes: list[int]) -> None:
    seeded = await seed_demo(store, only_if_empty=False)
    assert seeded is not None
    partner_id, seller_id = seeded.subjects["partner"], seeded.subjects["seller"]
    accept = """mutation($token: String!) { authorizeServiceOffer(token: $token) {
      userErrors { code } } }"""
    result = await bench.post(accept, seller_id, Role.SELLER, token=seeded.offer_link_token)
    assert result["authorizeServiceOffer"]["userErrors"] == []
    authorization = (await store.find(c.AUTHORIZATIONS, {"partnerId": partner_id}))[0]
    offer = (await store.find(c.SERVICE_OFFERS, {"partnerId": partner_id}))[0]
    entry = (await store.find(c.HISTORY, {"subjectId": offer["_id"]}, limit=1)) or [
        {"subjectId": offer["_id"], "action": "CREATED", "createdAt": offer["createdAt"]}
    ]
    listed = await store.find(c.SERVICES, {"listed": True})
    # Every listed copy says EVERY_WORD, one in ten COMMON_WORD, the newest alone RARE_WORD.
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

    def service(n: int) -> tuple[str, Document]:
        original = listed[n % len(listed)]
        words = [*terms, RARE_WORD] if n == 0 else terms
        words = [*words, COMMON_WORD] if n % 10 == 0 else words
        changes: dict[str, Any] = {"searchTerms": words, "idempotencyKey": None}
        changes["authorizationLinkToken"] = new_token()
        return c.SERVICES, _copy(original, "svc", n + 1, **changes)

    rows: list[tuple[int, dict[str, tuple[float, int]]]] = []
    have = 0
    for size in sizes:
        await _grow(store, 3 * (size - have), lambda n, have=have: child(3 * have + n))
        await _grow(store, size - have, lambda n, have=have: service(have + n))
        have = size
        figures = {
            "authorizations": await bench.time(AUTHORIZATIONS, 20, partner_id, Role.PARTNER),
            "serviceOffers": await bench.time(OFFERS, 20, partner_id, Role.PARTNER),
            "history": await bench.time(HISTORY, 21, partner_id, Role.PARTNER),
            "search common": await bench.time(SEARCH, 20, "admin", Role.ADMIN, q=COMMON_WORD),
            "search everywhere": await bench.time(SEARCH, 20, "admin", Role.ADMIN, q=EVERY_WORD),
            "search rare": await bench.time(SEARCH, 1, "admin", Role.ADMIN, q=RARE_WORD),
            "search none": await bench.time(SEARCH, 20, "admin", Role.ADMIN, q=None),
        }
        rows.append((size, figures))
        line = "  ".join(
            f"{name} {ms:7.2f} ms ({trips} rt)" for name, (ms, trips) in figures.items()
        )
        print(f"{backend} {size:>7} children: {line}", flush=True)
    base_size, base = rows[0]
    print(f"\n{backend}: median ms per query, ratio to {base_size} children in this run")
    print(f"{'query':18}" + "".join(f"{size:>12}" for size, _ in rows) + "   ratio")
    for name in base:
        times = [figures[name][0] for _, figures in rows]
        cells = "".join(f"{ms:12.2f}" for ms in times)
        print(f"{name:18}{cells}   {times[-1] / times[0]:5.2f}x")
    rare = rows[-1][1]["search rare"][0] / rows[-1][1]["search none"][0]
    print(f"rare word / no query at {rows[-1][0]}: {rare:.2f}x")


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as directory:
        await run_backend("sqlite", f"sqlite:///{directory}/bench.sqlite3", args)
    if uri := os.environ.get("MONGODB_URI"):
        url = urlunsplit(urlsplit(uri)._replace(path=f"/tsp_bench_{uuid.uuid4().hex[:12]}"))
        try:
            await run_backend("mongodb", url, args)
        finally:
            client: AsyncMongoClient[Any] = AsyncMongoClient(url, serverSelectionTimeoutMS=5000)
            await client.drop_database(client.get_default_database().name)
            await client.close()


def _sizes(text: str) -> list[int]:
    return sorted(int(part) for part in text.split(","))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", type=_sizes, default=[1000, 10000, 100000])
    parser.add_argument("--runs", type=int, default=20)
    asyncio.run(main(parser.parse_args()))
