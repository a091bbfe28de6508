"""Abuse: parsing and validation stay bounded, and a normal client keeps its latency beside
abusive callers, for every known attack.

Run ``python -m bench.abuse [--requests 200] [--abusers 4] [--attacks NAME,...] [--runs 1]
[--no-shapes] [--no-throttle]``. First the in-process part (:mod:`bench.abuse_shapes`): the
worst documents at the largest size the limits admit, parse + validation time against the
50 ms goal. Then it seeds a SQLite store with 50 partners of 20 listed services each, starts
the real gateway (``python -m cli serve`` on 127.0.0.1, a free port, the defaults as
served, throttling on) and, for each attack of :mod:`bench.abuse_attacks`, measures a normal
client's small query (``{ store(first: 2) { nodes { name } } }``, 20 requests a second):

1. alone (half the requests);
2. while ``--abusers`` callers (each its own partner token) run the attack: expensive queries,
   duplicated fields, deep fragments, half-sent headers, many streams, throttled retries
   without waiting;
3. alone again (the other half): the machine is shared, and its load drifting during a run
   then weighs on both sides of the ratio alike.

It prints the normal client's p50/p99 alone and beside the abusers, their p99 ratio (goal
<= 3), its failed requests, what the abusers got, the gateway's RSS and the machine's load
average at each phase's edges; with ``--runs N``, every attack N times, then each attack's
ratios and whether the goal held in every run. Every loop is bounded by the request
count and a deadline. With ``--no-throttle`` it repeats the attacks against a gateway with
throttling off, for contrast.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from bench import abuse_shapes
from bench.abuse_attacks import ATTACKS
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
SMALL = {"query": "{ store(first: 2) { nodes { name } } }"}
# A person at a dashboard, not a loop: 20 requests a second of cost 4 stay within the default
# restore rate (100 a second).
NORMAL_INTERVAL_SECONDS = 0.05
DEADLINE_SECONDS = 120
NORMAL_ADDRESS = "127.0.0.2"
GOAL_RATIO = 3.0


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


def _abusers(base: str, attack: str, count: int, stop: Any, stop_at: float, results: Any) -> None:
    """``count`` abusers running ``attack``, each with its own partner token.

    One process at a lowered priority: on this 2-core machine the abusers' own client work
    would otherwise compete with the gateway for CPU, which real abusers on their own machines
    do not.
    """
    os.nice(10)
    run = ATTACKS[attack]

    async def everyone() -> list[Counter[str]]:
        callers = []
        for i in range(count):
            bearer = issue_token(SECRET, Role.PARTNER, f"ptn_abuser_{i}", timedelta(hours=1))
            local = f"127.0.0.{10 + i}"
            callers.append(run(base, {"Authorization": f"Bearer {bearer}"}, local, stop_at, stop))
        return await asyncio.gather(*callers)

    results.put(dict(sum(asyncio.run(everyone()), Counter())))


def _normal(base: str, requests: int) -> tuple[list[float], int]:
    """Latencies of ``requests`` small queries (ms), and how many failed."""
    times = []
    failed = 0
    # From an address of its own, as a normal client on the internet is not its abusers.
    transport = httpx.HTTPTransport(local_address=NORMAL_ADDRESS)
    with httpx.Client(base_url=base, timeout=30, transport=transport) as client:
        for _ in range(requests):
            started = time.perf_counter()
            try:
                response = client.post("/graphql", json=SMALL)
                failed += response.status_code != 200 or "errors" in response.json()
            except httpx.HTTPError:
                failed += 1
            elapsed = time.perf_counter() - started
            times.append(elapsed * 1000)
            time.sleep(max(0.0, NORMAL_INTERVAL_SECONDS - elapsed))
    return times, failed


def _p(values: list[float], quantile: float) -> float:
    return statistics.quantiles(values, n=100)[int(quantile * 100) - 1]


def _load() -> str:
    """The machine's 1-minute load average (2 cores: above 2, other work waits for CPU)."""
    return f"{os.getloadavg()[0]:.1f}"


def _attack(base: str, pid: int, attack: str, requests: int, abusers: int) -> float:
    """One attack: the normal client alone, beside the abusers, then alone again; returns the
    p99 ratio against both alone phases together, so that the machine's load drifting during
    the run (it is shared) weighs on both sides alike."""
    loads = [_load()]
    before, before_failed = _normal(base, requests // 2)
    loads.append(_load())
    results: multiprocessing.Queue[Any] = multiprocessing.Queue()
    stop = multiprocessing.Event()
    stop_at = time.time() + DEADLINE_SECONDS
    worker = multiprocessing.Process(
        target=_abusers, args=(base, attack, abusers, stop, stop_at, results)
    )
    worker.start()
    # Past the abusers' first burst (a full bucket each): the steady state is what matters.
    time.sleep(3)
    rss_abused = rss_mib(pid)
    abused, abused_failed = _normal(base, requests)
    loads.append(_load())
    stop.set()
    try:
        totals = results.get(timeout=60)
    finally:
        worker.join(timeout=10)
        if worker.is_alive():
            worker.terminate()
    # The gateway finishing what the abusers left in flight is not the normal client's alone.
    time.sleep(1)
    after, after_failed = _normal(base, requests - requests // 2)
    loads.append(_load())
    alone, alone_failed = before + after, before_failed + after_failed
    ratio = _p(abused, 0.99) / _p(alone, 0.99)
    verdict = "ok" if ratio <= GOAL_RATIO else "OVER"
    print(f"{attack} ({abusers} abusers)")
    print(
        f"  alone          p50 {_p(alone, 0.5):7.2f} ms  p99 {_p(alone, 0.99):7.2f} ms"
        f"  failed {alone_failed}  (before {_p(before, 0.99):.2f}, after {_p(after, 0.99):.2f})"
    )
    print(
        f"  with abusers   p50 {_p(abused, 0.5):7.2f} ms  p99 {_p(abused, 0.99):7.2f} ms"
        f"  failed {abused_failed}"
    )
    print(f"  p99 ratio abused / alone: {ratio:.2f}  {verdict} (goal <= {GOAL_RATIO:g})")
    print(f"  abusers got: {dict(sorted(totals.items()))}; gateway RSS {rss_abused:.1f} MiB")
    print(f"  load average (1 min) at each phase's edges: {' / '.join(loads)}")
    return ratio


def run(
    database_url: str,
    requests: int,
    abusers: int,
    attacks: list[str],
    runs: int = 1,
    throttle: bool = True,
) -> None:
    env = {
        **os.environ,
        "TSP_JWT_SECRET": SECRET,
        "TSP_DATABASE_URL": database_url,
        "TSP_SWEEP_INTERVAL_SECONDS": "0",
        "TSP_THROTTLE": "1" if throttle else "0",
    }
    ratios: dict[str, list[float]] = {attack: [] for attack in attacks}
    with serve_gateway(env) as server:
        _normal(server.url, 30)  # warm-up
        label = "throttling on" if throttle else "throttling OFF"
        print(
            f"{label}; normal client: {requests} small queries at 20 a second beside the "
            f"abusers, as many alone (half before, half after); {runs} run(s)"
        )
        for number in range(1, runs + 1):
            print(f"-- run {number} of {runs}")
            for attack in attacks:
                ratios[attack].append(_attack(server.url, server.pid, attack, requests, abusers))
    print(f"p99 ratios abused / alone over {runs} run(s), goal <= {GOAL_RATIO:g} in every run:")
    for attack, values in ratios.items():
        held = all(value <= GOAL_RATIO for value in values)
        listed = ", ".join(f"{value:.2f}" for value in values)
        print(f"  {attack:36s} {listed}  {'held' if held else 'NOT held'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--abusers", type=int, default=4)
    parser.add_argument("--attacks", default=",".join(ATTACKS), help="comma-separated names")
    parser.add_argument("--no-shapes", action="store_true", help="skip the in-process part")
    parser.add_argument("--runs", type=int, default=1, help="every attack this many times")
    parser.add_argument("--no-throttle", action="store_true", help="also run with it off")
    arguments = parser.parse_args()
    attacks = [name.strip() for name in arguments.attacks.split(",") if name.strip()]
    unknown = set(attacks) - set(ATTACKS)
    if unknown:
        parser.error(f"unknown attacks {sorted(unknown)}; known: {list(ATTACKS)}")
    if not arguments.no_shapes:
        abuse_shapes.run(repeats=7)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'abuse.sqlite3'}"
        asyncio.run(seed(url))
        run(url, arguments.requests, arguments.abusers, attacks, arguments.runs)
        if arguments.no_throttle:
            run(url, arguments.requests, arguments.abusers, attacks, arguments.runs, throttle=False)


if __name__ == "__main__":
    main()
