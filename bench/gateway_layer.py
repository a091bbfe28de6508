"""What the gateway layer costs per request on a small query, as ratios in one run.

Run ``python -m bench.gateway_layer [--runs 2000] [--rounds 5]``. Three configurations of the
same app answer ``{ serviceCategories(first: 5) { nodes { name } } }`` in-process (httpx over
ASGI, lifespan running, SQLite store):

- **bare**: the schema with no gateway extension at all: parsing and validating every request,
  no limits, no cost (what the gateway did before this layer);
- **limits**: structural limits with Strawberry's parser and validation caches, no cost
  analysis or throttling;
- **full**: limits and caches, cost analysis and throttling (the default).

Rounds alternate the configurations so drift on a shared machine hits all of them alike; the
ratios use the median of each configuration's per-round medians.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from datastore.collections import INDEXES
from datastore.sqlite import SQLiteStore
from edge.extension import GatewayPolicy, gateway_extensions
from edge.throttle import ThrottlePolicy
from gateway import Settings, create_app

SECRET = "bench-secret-" + "x" * 40
QUERY = {"query": "{ serviceCategories(first: 5) { nodes { name } } }"}


async def _median_ms(client: httpx.AsyncClient, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = await client.post("/graphql", json=QUERY)
        times.append((time.perf_counter() - started) * 1000)
        if "errors" in response.json():
            raise RuntimeError(response.text)
    return statistics.median(times)


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
        medians: dict[str, list[float]] = {name: [] for name in configurations}
        for _ in range(rounds):
            for name, extensions in configurations.items():
                app = create_app(settings, store=store, extensions=extensions)
                async with app.router.lifespan_context(app):
                    transport = httpx.ASGITransport(app=app)
                    async with httpx.AsyncClient(transport=transport, base_url="http://b") as c:
                        await _median_ms(c, 50)  # warm-up
                        medians[name].append(await _median_ms(c, runs))
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
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.runs, arguments.rounds))
