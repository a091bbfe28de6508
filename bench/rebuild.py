"""A partner's writes while an operator rebuilds the insight counters: what the rebuild holds up.

Run ``python -m bench.rebuild [--accepts 10000] [--days 90] [--rounds 2]``. Seeds a SQLite
store with the demo data and ``--accepts`` accepted offers (through the resolver, as
``bench.writes`` does: four history entries each), then spreads the history and the link opens
over the last ``--days`` days, written directly in the file (a store that has served that long;
SQLite only, for that reason). ``tsp-gateway serve`` (one worker; throttling off, as in every
throughput bench here: one caller sends thousands of writes) then takes createServiceOffer from
the demo partner at 1, 8 and 32 connections (an httpx client; each connection sends its next
request once answered), in each round twice: while ``tsp-gateway insights rebuild`` runs as its
own process, as an operator runs it, for as long as that takes; and alone, as long again. It
prints requests/s, p50, p99 and the slowest answer of each, the answers that were not a created
offer (a write refused ``STORE_UNAVAILABLE`` while the store was held), and p99 and the slowest
beside the rebuild / alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import cast

import httpx

from bench.support import GATEWAY, DemoStore, demo_store, serve_gateway
from bench.writes import CREATE, SETTINGS, partner_services, seed_offers
from datastore.codec import encode_datetime, utc_now
from edge.gateway_settings import Settings
from gateway import open_store
from resolvers.authorizations import Consent, authorize_offer
from resolvers.context import Context, Info
from resolvers.identity import Role, Viewer

CONNECTIONS = (1, 8, 32)


@dataclass(frozen=True)
class Load:
    seconds: float
    latencies: list[float]
    refused: int

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _accept_all(demo: DemoStore, count: int) -> None:
    store = await open_store(
        Settings(jwt_secret=demo.secret, database_url=demo.env["TSP_DATABASE_URL"])
    )
    try:
        for offer in await seed_offers(demo, count):
            viewer = Viewer(Role.SELLER, offer.seller_id)
            info = cast(Info, SimpleNamespace(context=Context(store, viewer, request_id="bench")))
            await authorize_offer(info, offer.link_token, Consent())
    finally:
        await store.close()


def _spread(demo: DemoStore, days: int) -> int:
    """Move every history entry and link open back by 0 to ``days - 1`` days, in their order
    (the newest stay today); returns how many entries there are."""
    path = demo.env["TSP_DATABASE_URL"].removeprefix("sqlite:///")
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        total = 0
        for table, field in (("history", "createdAt"), ("offer_link_opens", "at")):
            rows = connection.execute(
                f"SELECT id, json_extract(doc, '$.{field}.$date') FROM {table} "
                f"ORDER BY json_extract(doc, '$.{field}.$date')"
            ).fetchall()
            moved = []
            for position, (row_id, stamp) in enumerate(rows):
                back = timedelta(days=days - 1 - position * days // len(rows))
                at = datetime.fromisoformat(stamp.replace("Z", "+00:00")) - back
                moved.append((encode_datetime(at), row_id))
            connection.executemany(
                f"UPDATE {table} SET doc = json_set(doc, '$.{field}.$date', ?) WHERE id = ?",
                moved,
            )
            total += len(rows) if table == "history" else 0
        connection.execute("COMMIT")
        return total
    finally:
        connection.close()


async def _creates(url: str, body: str, token: str, connections: int, done: asyncio.Event) -> Load:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    latencies: list[float] = []
    refused = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)

    async def connection(client: httpx.AsyncClient) -> None:
        nonlocal refused
        while not done.is_set():
            started = time.perf_counter()
            answer = await client.post(url, content=body, headers=headers)
            latencies.append(time.perf_counter() - started)
            payload = answer.json() if answer.status_code in (200, 503) else {}
            made = ((payload.get("data") or {}).get("createServiceOffer") or {}).get("serviceOffer")
            refused += 0 if answer.status_code == 200 and made else 1

    started = time.perf_counter()
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        await asyncio.gather(*(connection(client) for _ in range(connections)))
    return Load(time.perf_counter() - started, latencies, refused)


async def _beside_rebuild(
    url: str, body: str, token: str, connections: int, env: dict[str, str]
) -> Load:
    done = asyncio.Event()
    load = asyncio.create_task(_creates(url, body, token, connections, done))
    rebuild = await asyncio.create_subprocess_exec(
        *GATEWAY, "insights", "rebuild", env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    output, _ = await rebuild.communicate()
    done.set()
    if rebuild.returncode != 0:
        raise RuntimeError(f"insights rebuild failed:\n{output.decode()}")
    return await load


async def _alone(url: str, body: str, token: str, connections: int, seconds: float) -> Load:
    done = asyncio.Event()
    asyncio.get_running_loop().call_later(seconds, done.set)
    return await _creates(url, body, token, connections, done)


def _load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _line(label: str, load: Load) -> str:
    return (
        f"  {label:26} {load.rate:7.1f} requests/s   p50 {load.quantile(0.5):8.1f} ms"
        f"   p99 {load.quantile(0.99):8.1f} ms   slowest {max(load.latencies) * 1000:8.1f} ms"
        f"   not created {load.refused:4d} of {len(load.latencies)}   ({load.seconds:.1f} s)"
    )


def main(args: argparse.Namespace) -> None:
    print(f"load average before: {_load_average()}")
    with tempfile.TemporaryDirectory() as folder:
        demo = demo_store(folder)
        started = time.perf_counter()
        asyncio.run(_accept_all(demo, args.accepts))
        entries = _spread(demo, args.days)
        print(
            f"seeded {args.accepts} accepts: {entries} history entries over {args.days} days,"
            f" in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        services = asyncio.run(partner_services(demo))
        today = utc_now().date()
        offer = {
            "serviceIds": services,
            "startDate": (today + timedelta(days=1)).isoformat(),
            "endDate": (today + timedelta(days=60)).isoformat(),
            "settings": SETTINGS,
        }
        body = json.dumps({"query": CREATE, "variables": {"input": offer}})
        token = demo.token("partner", hours=4)
        env = dict(demo.env, TSP_THROTTLE="0")
        results: dict[int, list[tuple[Load, Load]]] = {c: [] for c in CONNECTIONS}
        with serve_gateway(env) as served:
            url = f"{served.url}/graphql"
            for round_number in range(args.rounds):
                print(f"round {round_number + 1}/{args.rounds}   load average {_load_average()}")
                for connections in CONNECTIONS:
                    beside = asyncio.run(_beside_rebuild(url, body, token, connections, env))
                    alone = asyncio.run(
                        _alone(url, body, token, connections, max(beside.seconds, 2.0))
                    )
                    results[connections].append((beside, alone))
                    print(_line(f"{connections:2d} connections, rebuilding", beside))
                    print(_line(f"{connections:2d} connections, alone", alone), flush=True)
        print(f"beside the rebuild / alone (median of {args.rounds} rounds):")
        for connections, pairs in results.items():
            p99 = statistics.median(b.quantile(0.99) / a.quantile(0.99) for b, a in pairs)
            slowest = statistics.median(max(b.latencies) / max(a.latencies) for b, a in pairs)
            refused = sum(b.refused for b, _ in pairs)
            print(
                f"  {connections:2d} connections: p99 {p99:6.2f}   slowest {slowest:6.2f}"
                f"   writes not created beside the rebuild: {refused}"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--accepts", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--rounds", type=int, default=2)
    main(parser.parse_args())
    sys.exit(0)
