"""What the partner dashboard query costs through the gateway, against a naive baseline.

Run ``python -m bench.nested_query [--partners 20,100] [--services 10] [--runs 30]``; SQLite
always, MongoDB too when ``MONGODB_URI`` is set (in a fresh database, dropped afterwards).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from pymongo import AsyncMongoClient

from bench.support import bench_partner
from datastore import collections as c
from datastore import enums as e
from datastore.catalog import get_catalog
from datastore.codec import utc_now
from datastore.ids import new_id, new_token
from datastore.loaders import NEWEST_FIRST
from datastore.paging import Page, find_page
from datastore.store import DocumentStore
from edge.gateway_settings import Settings
from gateway import create_app, open_store
from resolvers.identity import Role, issue_token

SECRET = "bench-secret-" + "x" * 40
WARMUP = 3
MEMORY_RUNS = 3  # tracemalloc slows everything down: peaks come from a separate short pass
SERVICES_PAGE = 10
QUERY = """query($n: Int!) { partners(first: $n) { edges { node { name services(first: 10) {
  edges { node { name partner { name } category { name } } } } } } } }"""

Query = Callable[[], Awaitable[int]]  # runs the query once; returns partners + services seen


@dataclass(frozen=True)
class Result:
    round_trips: int
    documents_read: int
    median_ms: float
    p95_ms: float
    peak_kib: float

    def line(self, label: str) -> str:
        return (
            f"  {label:9} round trips {self.round_trips:5}  documents read {self.documents_read:6}"
            f"  median {self.median_ms:8.2f} ms  p95 {self.p95_ms:8.2f} ms"
            f"  peak {self.peak_kib:9.1f} KiB"
        )


async def measure(store: DocumentStore, query: Query, runs: int, expected: int) -> Result:
    """Warm up, time ``runs`` runs (counting store calls), then trace memory on a few more."""

    async def checked() -> None:
        if (seen := await query()) != expected:
            raise RuntimeError(f"query returned {seen} items, expected {expected}")

    for _ in range(WARMUP):
        await checked()
    times: list[float] = []
    trips: list[tuple[int, int]] = []
    for _ in range(runs):
        store.stats.reset()
        started = time.perf_counter()
        await checked()
        times.append((time.perf_counter() - started) * 1000)
        trips.append((store.stats.round_trips, store.stats.documents_read))
    peaks: list[int] = []
    tracemalloc.start()
    try:
        for _ in range(min(runs, MEMORY_RUNS)):
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            await checked()
            peaks.append(tracemalloc.get_traced_memory()[1] - before)
    finally:
        tracemalloc.stop()
    ordered = sorted(times)
    p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]  # nearest rank
    round_trips, documents_read = max(trips)
    return Result(
        round_trips, documents_read, statistics.median(times), p95, statistics.median(peaks) / 1024
    )


async def seed(store: DocumentStore, partners: int, services: int) -> None:
    """Replace partners and services with ``partners`` TSPs of ``services`` services each."""
    category = get_catalog().find(e.PartnerType.TSP, e.Region.US)[0]
    start = utc_now() - timedelta(days=1)

    async def work() -> None:
        for collection in (c.PARTNERS, c.SERVICES):
            await store.delete_all(collection)
        for p in range(partners):
            at = start + timedelta(seconds=p)
            partner = await store.insert(c.PARTNERS, bench_partner(f"Bench Partner {p:04d}", p, at))
            for s in range(services):
                when = at + timedelta(milliseconds=s + 1)
                await store.insert(
                    c.SERVICES,
                    {
                        "_id": new_id("svc"),
                        "partnerId": partner["_id"],
                        "name": f"{category.name} {s} by {partner['name']}",
                        "type": e.ServiceType.PUBLIC,
                        "status": e.ServiceStatus.LIVE,
                        "categoryId": category.id,
                        "market": partner["targetMarkets"][0],
                        "description": "Full-service shop management.",
                        "highlights": ["Dedicated account manager", "Weekly report"],
                        "pricing": "From USD 499 per month",
                        "contactEmail": partner["contactEmail"],
                        "authorizationLinkToken": new_token(),
                        "createdAt": when,
                        "updatedAt": when,
                    },
                )

    await store.transaction(work)


async def naive(store: DocumentStore, partners: int) -> int:
    """The same tree read as resolvers without dataloaders would: one store call per node."""
    catalog = get_catalog()
    tree: list[tuple[str, list[tuple[str, str, str | None]]]] = []
    page = await find_page(store, c.PARTNERS, None, NEWEST_FIRST, Page(size=partners))
    for partner in page.documents:
        where = {"partnerId": partner["_id"]}
        owned = await find_page(store, c.SERVICES, where, NEWEST_FIRST, Page(SERVICES_PAGE))
        nodes = []
        for service in owned.documents:
            owner = await store.get_many(c.PARTNERS, [service["partnerId"]])
            category = catalog.get(service["categoryId"])
            name = category.name if category else None
            nodes.append((service["name"], owner[service["partnerId"]]["name"], name))
        tree.append((partner["name"], nodes))
    return len(tree) + sum(len(nodes) for _, nodes in tree)


def gateway(client: httpx.AsyncClient, partners: int) -> Query:
    """The dashboard query as an admin, through the whole app."""
    token = issue_token(SECRET, Role.ADMIN, "admin", timedelta(hours=1))
    request = {"query": QUERY, "variables": {"n": partners}}

    async def query() -> int:
        headers = {"Authorization": f"Bearer {token}"}
        response = await client.post("/graphql", json=request, headers=headers)
        body: dict[str, Any] = response.json()
        if response.status_code != 200 or body.get("errors"):
            raise RuntimeError(f"gateway answered {response.status_code}: {body}")
        edges = body["data"]["partners"]["edges"]
        return len(edges) + sum(len(edge["node"]["services"]["edges"]) for edge in edges)

    return query


Row = tuple[str, str, Result, Result]


async def run_backend(backend: str, url: str, args: argparse.Namespace) -> list[Row]:
    settings = Settings(jwt_secret=SECRET, database_url=url)
    store = await open_store(settings)
    app = create_app(settings, store=store)
    rows: list[Row] = []
    try:
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://bench") as client,
        ):
            for partners in args.partners:
                await seed(store, partners, args.services)
                expected = partners * (1 + min(args.services, SERVICES_PAGE))
                size = f"{partners}x{args.services}"
                print(f"{backend} {size} (partners x services each)", flush=True)
                ours = await measure(store, gateway(client, partners), args.runs, expected)
                print(ours.line("gateway"), flush=True)
                base = await measure(store, partial(naive, store, partners), args.runs, expected)
                print(base.line("baseline"), flush=True)
                rows.append((backend, size, ours, base))
    finally:
        await store.close()
    return rows


async def main(args: argparse.Namespace) -> None:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as directory:
        rows += await run_backend("sqlite", f"sqlite:///{directory}/bench.sqlite3", args)
    if uri := os.environ.get("MONGODB_URI"):
        url = urlunsplit(urlsplit(uri)._replace(path=f"/tsp_bench_{uuid.uuid4().hex[:12]}"))
        try:
            rows += await run_backend("mongodb", url, args)
        finally:
            client: AsyncMongoClient[Any] = AsyncMongoClient(url, serverSelectionTimeoutMS=5000)
            await client.drop_database(client.get_default_database().name)
            await client.close()
    print(f"\n{'backend':8} {'size':8} {'gw trips':>9} {'base trips':>11}", end="")
    print(f" {'time gw/base':>13} {'memory gw/base':>15}")
    for backend, size, ours, base in rows:
        print(f"{backend:8} {size:8} {ours.round_trips:9} {base.round_trips:11}", end="")
        print(f" {ours.median_ms / base.median_ms:13.2f} {ours.peak_kib / base.peak_kib:15.2f}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.nested_query", description=__doc__)
    parser.add_argument("--partners", default="20,100", help="partner counts, 1-100 (page max)")
    parser.add_argument("--services", type=int, default=10, help="services per partner, 1-100")
    parser.add_argument("--runs", type=int, default=30, help="timed runs per measure, 1-1000")
    args = parser.parse_args()
    try:
        args.partners = [int(part) for part in args.partners.split(",")]
    except ValueError:
        parser.error("--partners takes comma-separated integers, e.g. 20,100")
    if not all(1 <= n <= 100 for n in args.partners) or not 1 <= args.services <= 100:
        parser.error("--partners and --services take values from 1 to 100")
    if not 1 <= args.runs <= 1000:
        parser.error("--runs takes a value from 1 to 1000")
    return args


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
