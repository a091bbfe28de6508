"""What writes cost and how they scale: statements per accept, the adapter's overhead over those
statements run directly, and mutations/s over HTTP at 1, 8 and 32 connections, 1 and 2 workers.

Run ``python -m bench.writes [--seconds 4] [--rounds 3] [--accepts 1000]``. Seeds a SQLite
store with the demo data set plus, for every accept the run makes, a fresh seller (with a shop)
and an OPEN offer of three of the demo partner's live services, made for whoever holds its link
(an accept then grants three authorizations and writes four history entries and four events).

1. In-process, ``--accepts`` offers are accepted one after the other through the resolver
   (``resolvers.authorizations.authorize_offer``: rules and store, no HTTP or GraphQL). Every
   other accept runs with the store's trace on: **statements per accept** (every statement on
   either connection, ``BEGIN`` and ``COMMIT`` included; goal <= 15); the statements it ran
   are then replayed on a copy of the store taken before them, with one stdlib ``sqlite3``
   connection (same pragmas, prepared statements: the traced statements' string values are
   bound as parameters again), each accept in one ``BEGIN IMMEDIATE ... COMMIT``. The accepts
   between are timed with the trace off, as users run them (the offers are all alike):
   **accept in-process / the same statements direct** (median per accept; goal <= 1.5).
2. Over HTTP, ``tsp-gateway serve`` on 127.0.0.1 (one worker, then ``--workers 2``) is loaded
   by wrk (installed from Debian's packages when missing, as ``bench/http.py`` does), whose Lua
   script sends each accept once (its own seller token and link; no accept repeats, so every
   answer is a real acceptance) and checks each answer has no userErrors; createServiceOffer
   sends the same new offer as the demo partner. Both servers run side by side and every
   (mutation, workers, connections) figure is measured once per round, in a rotated order, so
   load from other jobs falls on all alike. For each mutation it prints the medians of
   requests/s, p50, p99 and the server's CPU time per request (every thread of every process
   it runs) at 1, 8 and 32 connections (one worker) and at 8 and 32 (two workers), then
   **32 connections / 1 connection** (goal >= 1.0; beside it the same ratio of CPU per
   request: on a shared machine a busy server gets only its share of the cores, an idle one
   between requests is woken at once, so the throughput ratio follows the machine's load
   while CPU per request says whether the work per request grows with the queue) and **2
   workers / 1 worker** at 8 and 32 connections (goal >= 1.6 on a quiet machine).

Throttling is off (``TSP_THROTTLE=0``, as in every throughput bench here: one caller sending
thousands of mutations would be stopped by its budget by design); the sweep is off.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import cast

from bench.http import ensure_wrk
from bench.support import GATEWAY, DemoStore, Server, demo_store, free_port, started_server
from datastore import collections as c
from datastore import enums as e
from datastore.codec import utc_now
from datastore.ids import new_id, new_token
from datastore.sqlite import SQLiteStore
from datastore.store import DocumentStore
from edge.gateway_settings import Settings
from gateway import open_store
from resolvers.authorizations import Consent, authorize_offer
from resolvers.context import Context, Info
from resolvers.identity import Role, Viewer, issue_token
from resolvers.offer_dates import day_after, day_start

ACCEPT = """mutation($token: String!) { authorizeServiceOffer(token: $token) {
  authorizations { id } userErrors { code } } }"""
CREATE = """mutation($input: CreateServiceOfferInput!) { createServiceOffer(input: $input) {
  serviceOffer { id } userErrors { code } } }"""
SETTINGS = {
    "authorizeObject": "SHOP",
    "ticketAuthorization": True,
    "tspAccess": False,
    "dataCompassAccess": True,
}
SERVICES_PER_OFFER = 3
CONNECTIONS_ONE_WORKER = (1, 8, 32)
CONNECTIONS_TWO_WORKERS = (8, 32)
CONFIG_LEVELS = (*CONNECTIONS_ONE_WORKER, *CONNECTIONS_TWO_WORKERS)
ACCEPT_NAME, CREATE_NAME = "authorizeServiceOffer", "createServiceOffer"
MUTATIONS = (ACCEPT_NAME, CREATE_NAME)
# Offers seeded per wrk run: a bound on what one run can accept (checked after each run).
MAX_RATE = 500
# A string literal in a traced statement that is a value, not a JSON path ('$.field').
_VALUE = re.compile(r"'((?:[^']|'')*)'")


@dataclass(frozen=True)
class Offer:
    seller_token: str
    link_token: str
    seller_id: str


async def seed_offers(demo: DemoStore, count: int) -> list[Offer]:
    """``count`` fresh sellers, each with a shop and an OPEN offer (three live services of
    the demo partner, for whoever holds the link)."""
    store = await open_store(Settings(jwt_secret=demo.secret, database_url=_url(demo)))
    try:
        partner_id = demo.subjects["partner"]
        services = await store.find(
            c.SERVICES, {"partnerId": partner_id, "status": e.ServiceStatus.LIVE}
        )
        if len(services) < SERVICES_PER_OFFER:
            raise SystemExit("the demo partner has fewer live services than an offer needs")
        service_ids = [service["_id"] for service in services[:SERVICES_PER_OFFER]]
        now = utc_now()
        today = now.date()
        sellers, shops, offers, seeded = [], [], [], []
        for index in range(count):
            seller_id = new_id("slr")
            sellers.append(
                {
                    "_id": seller_id,
                    "name": f"Bench seller {index}",
                    "kind": e.SellerKind.LOCAL,
                    "market": e.Market.US,
                    "hasShopAccount": True,
                    "createdAt": now,
                    "updatedAt": now,
                }
            )
            shops.append(
                {
                    "_id": new_id("shp"),
                    "sellerId": seller_id,
                    "name": "Main shop",
                    "market": e.Market.US,
                    "createdAt": now,
                }
            )
            link = new_token()
            offers.append(
                {
                    "_id": new_id("ofr"),
                    "partnerId": partner_id,
                    "serviceIds": service_ids,
                    "startsAt": day_start(today),
                    "endsAt": day_after(today + timedelta(days=90)),
                    "settings": SETTINGS,
                    "linkToken": link,
                    "status": e.OfferStatus.OPEN,
                    "createdAt": now,
                    "updatedAt": now,
                }
            )
            token = issue_token(demo.secret, Role.SELLER, seller_id, timedelta(hours=4))
            seeded.append(Offer(token, link, seller_id))
        for collection, documents in (
            (c.SELLERS, sellers),
            (c.SHOPS, shops),
            (c.SERVICE_OFFERS, offers),
        ):
            await store.insert_many(collection, documents)
        return seeded
    finally:
        await store.close()


def _url(demo: DemoStore) -> str:
    return demo.env["TSP_DATABASE_URL"]


def _path(demo: DemoStore) -> Path:
    return Path(_url(demo).removeprefix("sqlite:///"))


# ---------------------------------------------------------------------------------------------
# In-process: statements per accept, and the adapter against the same statements direct.


@dataclass
class Timings:
    """Seconds per accept, wall clock and CPU (every thread of this process)."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    @contextlib.contextmanager
    def timed(self) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        yield
        self.cpu.append(time.process_time() - cpu)
        self.wall.append(time.perf_counter() - wall)


async def _accepts(demo: DemoStore, offers: list[Offer], copy: Path) -> list[list[str]]:
    """Accept each offer through the resolver, then run the statements it ran directly on
    ``copy`` (one after the other, so load from other jobs falls on both alike); prints the
    figures and returns each accept's statements."""
    store = await open_store(Settings(jwt_secret=demo.secret, database_url=_url(demo)))
    assert isinstance(store, SQLiteStore)
    direct = sqlite3.connect(copy, isolation_level=None, cached_statements=512)
    direct.execute("PRAGMA journal_mode=WAL")
    direct.execute("PRAGMA synchronous=NORMAL")
    traced: list[str] = []
    statements: list[list[str]] = []
    ours, theirs = Timings(), Timings()
    try:
        for index, offer in enumerate(offers):
            context = Context(store, Viewer(Role.SELLER, offer.seller_id), request_id="bench")
            info = cast(Info, SimpleNamespace(context=context))
            # Every other accept is traced, to be replayed; the others are timed, untraced
            # as users run them (expanding every statement's values for the trace cost the
            # resolver a tenth of its time). The accepts are all alike.
            replayed = index % 2 == 1
            if replayed:
                traced.clear()
                await store.trace(traced.append)
                _, granted = await authorize_offer(info, offer.link_token, Consent())
                await store.trace(None)
            else:
                with ours.timed():
                    _, granted = await authorize_offer(info, offer.link_token, Consent())
            if len(granted) != SERVICES_PER_OFFER:
                raise RuntimeError(f"an accept granted {len(granted)} authorizations")
            if not replayed:
                continue
            statements.append(list(traced))
            prepared = [_prepared(statement) for statement in traced]
            with theirs.timed():
                for sql, params in prepared:
                    direct.execute(sql, params).fetchall()
    finally:
        direct.close()
        await store.close()
    _report(statements, ours, theirs)
    return statements


def _prepared(statement: str) -> tuple[str, list[str]]:
    """A traced statement (values expanded) as SQL with parameters again: string values become
    ``?`` (JSON paths stay literal, so expression indexes still apply)."""
    params: list[str] = []

    def bind(match: re.Match[str]) -> str:
        value = match.group(1).replace("''", "'")
        if value.startswith("$"):
            return match.group(0)
        params.append(value)
        return "?"

    return _VALUE.sub(bind, statement), params


def _report(statements: list[list[str]], ours: Timings, theirs: Timings) -> None:
    counts = [len(accept) for accept in statements]
    kinds: dict[str, int] = {}
    for statement in statements[-1]:
        kind = " ".join(statement.split()[:3]).split("(")[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    print(
        f"in-process: {len(statements) + len(ours.wall)} accepts of a {SERVICES_PER_OFFER}-service"
        f" offer ({len(ours.wall)} timed untraced, {len(statements)} traced and replayed)"
    )
    print(
        f"  statements per accept: {statistics.median(counts):.0f}"
        f" (min {min(counts)}, max {max(counts)}; goal <= 15)"
    )
    for kind, count in kinds.items():
        print(f"    {count:3d} x {kind}")
    for name, mine, direct in (("wall", ours.wall, theirs.wall), ("CPU", ours.cpu, theirs.cpu)):
        mine_ms, direct_ms = statistics.median(mine) * 1000, statistics.median(direct) * 1000
        print(
            f"  {name:4} ms per accept (medians): through the resolver {mine_ms:6.2f},"
            f" the same statements direct (stdlib sqlite3) {direct_ms:6.2f}:"
            f" {mine_ms / direct_ms:5.2f}x  (goal <= 1.5)"
        )


def _in_process(demo: DemoStore, offers: list[Offer], folder: str) -> None:
    copy = Path(folder) / "direct.sqlite3"
    with sqlite3.connect(_path(demo)) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    asyncio.run(_accepts(demo, offers, copy))


# ---------------------------------------------------------------------------------------------
# Over HTTP: wrk against the served gateway.

_LUA = r"""
local counter, threads = 0, {}
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  requests, sent, failures, lines = {}, 0, 0, 0
  for line in io.lines(args[1] .. id .. ".txt") do
    local tab = string.find(line, "\t", 1, true)
    local headers = {["Content-Type"] = "application/json"}
    headers["Authorization"] = "Bearer " .. string.sub(line, 1, tab - 1)
    table.insert(requests, wrk.format("POST", "/graphql", headers, string.sub(line, tab + 1)))
  end
  count = #requests
end
function request()
  sent = sent + 1
  return requests[((sent - 1) % #requests) + 1]
end
function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"userErrors":[]', 1, true) then
    failures = failures + 1
  end
end
function done(summary, latency, requests)
  local total_sent, total_failures, prepared = 0, 0, 0
  for _, thread in ipairs(threads) do
    total_sent = total_sent + thread:get("sent")
    total_failures = total_failures + thread:get("failures")
    prepared = prepared + thread:get("count")
  end
  io.write(string.format("RESULT %d %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), total_failures, total_sent - prepared))
end
"""


@dataclass(frozen=True)
class Run:
    rate: float
    p50_ms: float
    p99_ms: float
    cpu_ms: float = 0.0
    """The server's CPU time per request (every thread of every process it runs)."""


@contextlib.contextmanager
def _gateway(env: dict[str, str], workers: int) -> Iterator[Server]:
    """``tsp-gateway serve`` on 127.0.0.1 once each worker has started."""
    port = free_port()
    command = [*GATEWAY, "serve", "--port", str(port), "--workers", str(workers)]
    with started_server(command, env, port, workers) as server:
        yield server


def _wrk(
    wrk: str,
    server: Server,
    folder: Path,
    lines: list[str],
    connections: int,
    seconds: int,
    *,
    once: bool,
) -> Run:
    """One wrk run sending ``lines`` (token, tab, body), split between its threads; with
    ``once``, each line at most once (it fails when the run would need more lines)."""
    threads = min(2, connections)
    prefix = folder / f"run{time.monotonic_ns()}-"
    for thread in range(threads):
        share = lines[thread::threads] if once else lines
        Path(f"{prefix}{thread}.txt").write_text("\n".join(share) + "\n")
    script = folder / "writes.lua"
    script.write_text(_LUA)
    options = [f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "-s", str(script)]
    cpu = server.cpu_seconds()
    run = subprocess.run(
        [wrk, *options, server.url, "--", str(prefix)],
        capture_output=True,
        text=True,
        timeout=seconds + 120,
    )
    if run.returncode != 0:
        raise RuntimeError(f"wrk failed:\n{run.stdout}\n{run.stderr}")
    found = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (-?\d+)", run.stdout)
    if not found:
        raise RuntimeError(f"no result in wrk's output:\n{run.stdout}\n{run.stderr}")
    cpu = server.cpu_seconds() - cpu
    requests, micros, p50, p99, failures, beyond = (int(value) for value in found.groups())
    if failures:
        raise RuntimeError(f"{failures} of {requests} answers had errors:\n{run.stdout}")
    if once and beyond > 0:
        raise RuntimeError(f"wrk sent {beyond} requests more than were seeded: raise MAX_RATE")
    return Run(requests / (micros / 1e6), p50 / 1000, p99 / 1000, cpu * 1000 / max(requests, 1))


def _http(
    demo: DemoStore, offers: Iterator[Offer], seconds: int, rounds: int, folder: Path
) -> None:
    wrk = ensure_wrk()
    partner = demo.token("partner", hours=4)
    services = asyncio.run(partner_services(demo))
    today = utc_now().date()
    create = json.dumps(
        {
            "query": CREATE,
            "variables": {
                "input": {
                    "serviceIds": services,
                    "startDate": (today + timedelta(days=1)).isoformat(),
                    "endDate": (today + timedelta(days=60)).isoformat(),
                    "settings": SETTINGS,
                }
            },
        }
    )

    def accepts(count: int) -> list[str]:
        return [
            f"{offer.seller_token}\t"
            + json.dumps({"query": ACCEPT, "variables": {"token": offer.link_token}})
            for offer in (next(offers) for _ in range(count))
        ]

    per_run = MAX_RATE * seconds
    configs = [
        (name, workers, connections)
        for workers, levels in ((1, CONNECTIONS_ONE_WORKER), (2, CONNECTIONS_TWO_WORKERS))
        for connections in levels
        for name in MUTATIONS
    ]
    results: dict[tuple[str, int, int], list[Run]] = {config: [] for config in configs}
    print(
        f"HTTP: wrk, {seconds} s per figure, {rounds} rounds in rotated order (medians);"
        " throttling off (TSP_THROTTLE=0)"
    )
    with _gateway(demo.env, 1) as one, _gateway(demo.env, 2) as two:
        servers = {1: one, 2: two}
        for server in servers.values():
            # Warm-up: every worker opens its store and fills its caches.
            _wrk(wrk, server, folder, accepts(MAX_RATE), 32, 1, once=True)
        for round_number in range(rounds):
            print(f"round {round_number + 1}/{rounds}   load average {_load()}", flush=True)
            shift = round_number * len(configs) // rounds
            for name, workers, connections in configs[shift:] + configs[:shift]:
                lines = accepts(per_run) if name == ACCEPT_NAME else [f"{partner}\t{create}"]
                run = _wrk(
                    wrk,
                    servers[workers],
                    folder,
                    lines,
                    connections,
                    seconds,
                    once=name == ACCEPT_NAME,
                )
                results[(name, workers, connections)].append(run)
    print(f"medians of {rounds} rounds   load average after: {_load()}")
    medians = {config: _median(runs) for config, runs in results.items()}
    for (name, workers, connections), run in medians.items():
        print(
            f"  {name:22} {workers} worker{'s' if workers > 1 else ' '}"
            f" {connections:3d} connections {run.rate:7.1f} requests/s"
            f"   p50 {run.p50_ms:7.1f} ms   p99 {run.p99_ms:7.1f} ms"
            f"   server CPU {run.cpu_ms:5.2f} ms/request"
        )
    print("ratios in this run:")
    for name in MUTATIONS:
        alone, crowded = medians[(name, 1, 1)], medians[(name, 1, 32)]
        print(
            f"  {name:22} 32 connections / 1 connection (1 worker):"
            f" {crowded.rate / alone.rate:5.2f}  (goal >= 1.0);"
            f" server CPU per request {crowded.cpu_ms / alone.cpu_ms:5.2f}"
        )
        for connections in CONNECTIONS_TWO_WORKERS:
            ratio = medians[(name, 2, connections)].rate / medians[(name, 1, connections)].rate
            print(
                f"  {name:22} 2 workers / 1 worker at {connections} connections:"
                f" {ratio:5.2f}  (goal >= 1.6 on a quiet machine)"
            )


def _median(runs: list[Run]) -> Run:
    return Run(
        statistics.median(run.rate for run in runs),
        statistics.median(run.p50_ms for run in runs),
        statistics.median(run.p99_ms for run in runs),
        statistics.median(run.cpu_ms for run in runs),
    )


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


async def partner_services(demo: DemoStore) -> list[str]:
    store: DocumentStore = await open_store(
        Settings(jwt_secret=demo.secret, database_url=_url(demo))
    )
    try:
        found = await store.find(
            c.SERVICES,
            {"partnerId": demo.subjects["partner"], "status": e.ServiceStatus.LIVE},
            limit=SERVICES_PER_OFFER,
        )
        return [service["_id"] for service in found]
    finally:
        await store.close()


def main(args: argparse.Namespace) -> None:
    if shutil.which("wrk") is None and not args.in_process_only:
        ensure_wrk()
    print(f"load average before: {_load()}")
    with tempfile.TemporaryDirectory() as folder:
        demo = demo_store(folder)
        # Accept runs: one per round and configuration, and a warm-up per server.
        runs = 0 if args.in_process_only else args.rounds * len(CONFIG_LEVELS) + 2
        wanted = args.accepts + MAX_RATE * max(args.seconds, 1) * runs
        started = time.perf_counter()
        offers = asyncio.run(seed_offers(demo, wanted))
        print(
            f"seeded {len(offers)} sellers and offers in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        _in_process(demo, offers[: args.accepts], folder)
        if not args.in_process_only:
            _http(demo, iter(offers[args.accepts :]), args.seconds, args.rounds, Path(folder))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=int, default=4)
    # 500 timed: with 100 the median moved by a tenth from one run to the next.
    parser.add_argument("--accepts", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--in-process-only", action="store_true")
    main(parser.parse_args())
    sys.exit(0)
