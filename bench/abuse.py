"""Fairness under abuse: does a normal client keep its latency while others send the most
expensive query the limits allow?

Run ``python -m bench.abuse [--requests 200] [--abusers 4] [--no-throttle]``. It seeds a
SQLite store with 50 partners of 20 listed services each, starts the real gateway
(``python -m gateway serve`` on 127.0.0.1, a free port) and measures a normal client's small
query (``{ store(first: 2) { nodes { name } } }``, 20 requests a second):

1. alone;
2. while ``--abusers`` clients, each with its own partner token and connection, loop the most
   expensive store query under the single-query maximum (requested cost 952) for as long as
   the normal client runs, ignoring ``Retry-After``.

It prints the normal client's p50/p99 in both phases and their ratio, what the abusers got
(answered, throttled), and the gateway's RSS before and after. With ``--no-throttle`` it runs
the same against a gateway with throttling off, for contrast. Every loop is bounded by the
request count and a deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.support import bench_partner, rss_mib, serve_gateway
from datastore import collections as c
from datastore import enums as e
from datastore.catalog import get_catalog
from datastore.codec import utc_now
from datastore.connect import store_for_url
from datastore.ids import new_id, new_token
from datastore.search import search_fields
from resolvers.identity import Role, issue_token

SECRET = "bench-secret-" + "x" * 40
REPO = Path(__file__).resolve().parent.parent
SMALL = {"query": "{ store(first: 2) { nodes { name } } }"}
# A person at a dashboard, not a loop: 20 requests a second of cost 4 stay within the default
# restore rate (100 a second).
NORMAL_INTERVAL_SECONDS = 0.05
EXPENSIVE = {
    "query": "{ store(first: 50) { nodes { name description partner { name "
    "services(first: 15) { nodes { name description pricing } } } } } }"
}
DEADLINE_SECONDS = 120


async def seed(url: str, partners: int = 50, services: int = 20) -> None:
    """``partners`` US TSPs with ``services`` listed public services each."""
    store = store_for_url(url)
    await store.connect()
    await store.ensure_indexes(c.INDEXES)
    category = get_catalog().find(e.PartnerType.TSP, e.Region.US)[0]
    start = utc_now() - timedelta(days=1)

    async def work() -> None:
        for p in range(partners):
            at = start + timedelta(seconds=p)
            partner = await store.insert(
                c.PARTNERS, bench_partner(f"Abuse Bench Partner {p:03d}", p, at)
            )
            for s in range(services):
                when = at + timedelta(milliseconds=s + 1)
                name = f"Shop growth package {s} by {partner['name']}"
                description = "Full-service shop management, live streams and ads."
                await store.insert(
                    c.SERVICES,
                    {
                        "_id": new_id("svc"),
                        "partnerId": partner["_id"],
                        "name": name,
                        "type": e.ServiceType.PUBLIC,
                        "status": e.ServiceStatus.LIVE,
                        "categoryId": category.id,
                        "market": e.Market.US,
                        "description": description,
                        "highlights": ["Dedicated account manager"],
                        "pricing": "From USD 499 per month",
                        "contactEmail": partner["contactEmail"],
                        "authorizationLinkToken": new_token(),
                        "listed": True,
                        "publishedAt": when,
                        "createdAt": when,
                        "updatedAt": when,
                        **search_fields(name, description, partner["name"]),
                    },
                )

    await store.transaction(work)
    await store.close()


def _abusers(
    base: str, count: int, stop: Any, stop_at: float, results: multiprocessing.Queue[Any]
) -> None:
    """``count`` abusers, each its own partner and connection, looping the expensive query.

    One process at a lowered priority: on this 2-core machine the abusers' own client work
    would otherwise compete with the gateway for CPU, which real abusers on their own machines
    do not.
    """
    os.nice(10)

    async def abuse(subject: str) -> tuple[int, int, int]:
        bearer = issue_token(SECRET, Role.PARTNER, subject, timedelta(hours=1))
        answered = throttled = other = 0
        headers = {"Authorization": f"Bearer {bearer}"}
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            while not stop.is_set() and time.time() < stop_at:
                body = (await client.post("/graphql", json=EXPENSIVE, headers=headers)).json()
                codes = {error["extensions"].get("code") for error in body.get("errors", [])}
                if not codes:
                    answered += 1
                elif codes == {"THROTTLED"}:
                    throttled += 1
                else:
                    other += 1
        return answered, throttled, other

    async def everyone() -> list[tuple[int, int, int]]:
        return await asyncio.gather(*(abuse(f"ptn_abuser_{i}") for i in range(count)))

    totals = [sum(column) for column in zip(*asyncio.run(everyone()), strict=True)]
    results.put(tuple(totals))


def _normal(base: str, requests: int) -> list[float]:
    times = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for _ in range(requests):
            started = time.perf_counter()
            response = client.post("/graphql", json=SMALL)
            elapsed = time.perf_counter() - started
            times.append(elapsed * 1000)
            if "errors" in response.json():
                raise RuntimeError(response.text)
            time.sleep(max(0.0, NORMAL_INTERVAL_SECONDS - elapsed))
    return times


def _p(values: list[float], quantile: float) -> float:
    return statistics.quantiles(values, n=100)[int(quantile * 100) - 1]


def run(database_url: str, requests: int, abusers: int, throttle: bool) -> None:
    env = {
        **os.environ,
        "TSP_JWT_SECRET": SECRET,
        "TSP_DATABASE_URL": database_url,
        "TSP_SWEEP_INTERVAL_SECONDS": "0",
        "TSP_THROTTLE": "1" if throttle else "0",
    }
    with serve_gateway(env) as server:
        _normal(server.url, 30)  # warm-up
        rss_start = rss_mib(server.pid)
        alone = _normal(server.url, requests)
        results: multiprocessing.Queue[Any] = multiprocessing.Queue()
        stop = multiprocessing.Event()
        stop_at = time.time() + DEADLINE_SECONDS
        worker = multiprocessing.Process(
            target=_abusers, args=(server.url, abusers, stop, stop_at, results)
        )
        worker.start()
        # Past the abusers' first burst (a full bucket each): the steady state is what matters.
        time.sleep(3)
        rss_abused_start = rss_mib(server.pid)
        abused = _normal(server.url, requests)
        rss_end = rss_mib(server.pid)
        stop.set()
        totals = results.get(timeout=60)
        worker.join()
    label = "throttling on" if throttle else "throttling OFF"
    print(f"{label}: normal client, {requests} small queries at 20 a second")
    print(f"  alone          p50 {_p(alone, 0.5):7.2f} ms  p99 {_p(alone, 0.99):7.2f} ms")
    print(f"  with {abusers} abusers p50 {_p(abused, 0.5):7.2f} ms  p99 {_p(abused, 0.99):7.2f} ms")
    print(f"  p99 ratio abused / alone: {_p(abused, 0.99) / _p(alone, 0.99):.2f}  (target <= 3)")
    print(
        "  gateway RSS MiB: start "
        f"{rss_start:.1f}, abusers running {rss_abused_start:.1f}, end {rss_end:.1f}"
    )
    print(
        f"  abusers' expensive queries: answered {totals[0]}, throttled {totals[1]}, "
        f"other {totals[2]}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--abusers", type=int, default=4)
    parser.add_argument("--no-throttle", action="store_true", help="also run with it off")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'abuse.sqlite3'}"
        asyncio.run(seed(url))
        run(url, arguments.requests, arguments.abusers, throttle=True)
        if arguments.no_throttle:
            run(url, arguments.requests, arguments.abusers, throttle=False)


if __name__ == "__main__":
    main()
