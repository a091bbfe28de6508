"""What the gateway layer costs per request on a small query, as ratios in one run.

Run ``python -m bench.gateway_layer [--runs 2000] [--rounds 5]``. Three configurations of the
same app answer ``{ serviceCategories(first: 5) { nodes { name } } }`` in-process (httpx over
ASGI, lifespan running, SQLite store):

- **bare**: the schema with no gateway extension at all: parsing and validating every request,
  no limits, no cost (what the gateway did before this layer);
- **limits**: structural limits with Strawberry's parser and validation caches, no cost
  analysis or throttling;
- **full**: limits and caches, cost analysis and throttling (the default).

Requests alternate between the configurations one by one, so drift on a shared machine hits
all of them alike; the ratios use the median of each configuration's per-round medians (the
first round is a warm-up).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from datastore.collections import INDEXES
from datastore.sqlite import SQLiteStore
from edge.extension import GatewayPolicy, gateway_extensions
from edge.gateway_settings import Settings
from edge.throttle import ThrottlePolicy
from gateway import create_app

SECRET = "bench-secret-" + "x" * 40
QUERY = {"query": "{ serviceCategories(first: 5) { nodes { name } } }"}


async def _time_ms(client: httpx.AsyncClient) -> float:
    started = time.perf_counter()
    response = await client.post("/graphql", json=QUERY)
    elapsed = (time.perf_counter() - started) * 1000
    if "errors" in response.json():
        raise RuntimeError(response.text)
    return elapsed


async def main(runs: int, rounds: int) -> None:
    # A bucket no small query can drain: the bench measures the throttle's work, not refusals.
    policy = GatewayPolicy(throttle=ThrottlePolicy(capacity=1e12, restore_rate=1e9))
    settings = Settings(jwt_secret=SECRET, policy=policy)
    configurations = {
        "bare": [],
        "limits": gateway_extensions(policy, cost=False),
        "full": gateway_extensions(policy),
    }
    with tempfile.TemporaryDirectory() as folder:
        store = SQLiteStore(Path(folder) / "bench.sqlite3")
        await store.connect()
        await store.ensure_indexes(INDEXES)
        async with contextlib.AsyncExitStack() as stack:
            clients = {}
            for name, extensions in configurations.items():
                app = create_app(settings, store=store, extensions=extensions)
                await stack.enter_async_context(app.router.lifespan_context(app))
                transport = httpx.ASGITransport(app=app)
                clients[name] = await stack.enter_async_context(
                    httpx.AsyncClient(transport=transport, base_url="http://bench")
                )
            medians: dict[str, list[float]] = {name: [] for name in configurations}
            for round_ in range(rounds + 1):
                times: dict[str, list[float]] = {name: [] for name in configurations}
                # One request of each configuration in turn: load on a shared machine changes
                # from second to second, and this way every change hits all three alike.
                for _ in range(runs):
                    for name, client in clients.items():
                        times[name].append(await _time_ms(client))
                if round_ == 0:
                    continue  # warm-up
                for name, values in times.items():
                    medians[name].append(statistics.median(values))
        await store.close()
    result = {name: statistics.median(values) for name, values in medians.items()}
    for name, value in result.items():
        print(f"  {name:7} median {value:7.3f} ms per request")
    overhead = result["full"] / result["limits"]
    whole = result["full"] / result["bare"]
    print(f"full / limits (cost analysis + throttling overhead): {overhead:.3f}")
    print(f"full / bare   (the whole layer against none):        {whole:.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.runs, arguments.rounds))
