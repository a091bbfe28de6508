"""Live events: the time from a committed change to its delivery to every subscriber, and how
many events per second one process delivers.

Run ``python -m bench.events [--subscribers 100] [--events 50] [--burst 500] [--poll 0.05]``.
The gateway is served by uvicorn on 127.0.0.1 (in this process, fresh SQLite store); the
subscribers are graphql-transport-ws clients on real sockets (in this process too, so their
cost is part of the figures). Each change is an authorization renewal recorded through
``history.record`` in a transaction, as the resolvers do; its event is timed from the commit
to its arrival at each subscriber.

- **latency**: ``--events`` changes one at a time (each waits until every subscriber has it),
  median and p99 over all (event, subscriber) pairs; the same with 1 subscriber is the
  baseline, and the ratio says what fan-out to N costs.
- **throughput**: ``--burst`` changes committed back to back; deliveries per second until
  every subscriber has all of them, and events per second (deliveries / subscribers).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import random
import statistics
import tempfile
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from datastore import collections as c
from datastore.codec import utc_now
from datastore.collections import INDEXES
from datastore.documents import AuthorizationDocument
from datastore.ids import new_id
from datastore.sqlite import SQLiteStore
from datastore.store import DocumentStore
from edge.extension import GatewayPolicy
from edge.gateway_settings import Settings
from edge.stream_settings import StreamSettings
from edge.throttle import ThrottlePolicy
from resolvers import history
from resolvers.events import ensure_sequence
from resolvers.identity import Role, Viewer, issue_token
from tests.live import served

SECRET = "bench-secret-" + "x" * 40
SUBSCRIPTION = "subscription { events { cursor } }"


async def _authorization(store: DocumentStore) -> AuthorizationDocument:
    now = utc_now()
    return await store.insert(
        c.AUTHORIZATIONS,
        {
            "_id": new_id("aut"),
            "sellerId": new_id("slr"),
            "partnerId": new_id("ptn"),
            "serviceId": new_id("svc"),
            "settings": {},
            "shopIds": [],
            "tiktokAccountIds": [],
            "channel": "SERVICE_STORE",
            "startsAt": now,
            "endsAt": now + timedelta(days=90),
            "status": "ACTIVE",
            "createdAt": now,
            "updatedAt": now,
        },
    )


async def _change(store: DocumentStore, subject: str) -> float:
    """One renewal recorded in a transaction; the time it committed."""

    async def work() -> None:
        await history.record(
            store,
            subject_id=subject,
            action="RENEWED",
            actor=Viewer(Role.ADMIN, "bench"),
            from_status="ACTIVE",
            to_status="ACTIVE",
            reason_code="RENEWED",
        )

    await store.transaction(work)
    return time.perf_counter()


async def _subscriber(url: str, bearer: str) -> ClientConnection:
    connection = await connect(
        url.replace("http", "ws", 1) + "/graphql",
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        max_queue=None,
    )
    await connection.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {bearer}"}})
    )
    assert json.loads(await connection.recv())["type"] == "connection_ack"
    payload = {"query": SUBSCRIPTION}
    await connection.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
    return connection


async def _arrivals(connection: ClientConnection, count: int) -> list[float]:
    times: list[float] = []
    while len(times) < count:
        message = json.loads(await connection.recv())
        if message["type"] == "next":
            times.append(time.perf_counter())
    return times


async def _run(
    store: DocumentStore,
    url: str,
    subject: str,
    subscribers: int,
    events: int,
    burst: int,
    poll: float,
) -> dict[str, Any]:
    bearer = issue_token(SECRET, Role.ADMIN, "admin", timedelta(hours=1))
    connections = [await _subscriber(url, bearer) for _ in range(subscribers)]
    await asyncio.sleep(0.3)  # every subscription has joined the feed
    latencies: list[float] = []
    for _ in range(events):
        waiting = [asyncio.create_task(_arrivals(c, 1)) for c in connections]
        # At a random moment of the follower's poll cycle, as changes come in real use (in
        # lockstep with it, each change would wait a whole interval).
        await asyncio.sleep(random.uniform(0, poll))
        committed = await _change(store, subject)
        for arrived in await asyncio.gather(*waiting):
            latencies.append(arrived[0] - committed)
    waiting = [asyncio.create_task(_arrivals(c, burst)) for c in connections]
    started = time.perf_counter()
    for _ in range(burst):
        await _change(store, subject)
    committed_all = time.perf_counter()
    finished = max(times[-1] for times in await asyncio.gather(*waiting))
    for connection in connections:
        await connection.close()
    elapsed = finished - started
    return {
        "median_ms": statistics.median(latencies) * 1000,
        "p99_ms": _percentile(latencies, 0.99) * 1000,
        "commits_per_s": burst / (committed_all - started),
        "events_per_s": burst / elapsed,
        "deliveries_per_s": burst * subscribers / elapsed,
    }


def _percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def main(subscribers: int, events: int, burst: int, poll: float) -> None:
    with tempfile.TemporaryDirectory(prefix="tsp-bench-events-") as directory:
        store = SQLiteStore(Path(directory) / "bench.sqlite3")
        await store.connect()
        await store.ensure_indexes(INDEXES)
        await ensure_sequence(store)
        settings = Settings(
            jwt_secret=SECRET,
            policy=GatewayPolicy(throttle=ThrottlePolicy(enabled=False)),
            streams=StreamSettings(
                poll_seconds=poll,
                connections_per_caller=subscribers + 1,
                ping_seconds=0,
                queue_size=max(1000, burst * 2),
                webhook_worker=False,
            ),
        )
        try:
            subject = (await _authorization(store))["_id"]
            async with served(store, dataclasses.replace(settings)) as url:
                baseline = await _run(store, url, subject, 1, events, burst, poll)
                fanned = await _run(store, url, subject, subscribers, events, burst, poll)
        finally:
            await store.close()
    print(f"poll interval {poll * 1000:g} ms, {events} timed changes, burst of {burst}")
    print(
        f"{'subscribers':>12} {'median ms':>10} {'p99 ms':>8} {'commits/s':>10} "
        f"{'events/s':>9} {'deliveries/s':>13}"
    )
    for count, result in ((1, baseline), (subscribers, fanned)):
        print(
            f"{count:>12} {result['median_ms']:>10.1f} {result['p99_ms']:>8.1f} "
            f"{result['commits_per_s']:>10.0f} {result['events_per_s']:>9.0f} "
            f"{result['deliveries_per_s']:>13.0f}"
        )
    print(
        f"ratio {subscribers} / 1 subscriber: median latency "
        f"{fanned['median_ms'] / baseline['median_ms']:.2f}x, p99 "
        f"{fanned['p99_ms'] / baseline['p99_ms']:.2f}x, events/s "
        f"{fanned['events_per_s'] / baseline['events_per_s']:.2f}x"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--poll", type=float, default=0.05)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.subscribers, arguments.events, arguments.burst, arguments.poll))
