"""What the gateway layer (edge/: body limit, timeout, admission, GraphQL over HTTP, gzip, CORS,
metrics) costs per request: the same app with and without it, in one run, as a ratio."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from starlette.applications import Starlette

from datastore.collections import INDEXES
from datastore.sqlite import SQLiteStore
from edge.gateway_settings import Settings
from edge.request_log import RequestIdMiddleware
from gateway import create_app

REQUESTS = {
    "POST /graphql { __typename }": ("POST", "/graphql", {"query": "{ __typename }"}),
    "GET /healthz": ("GET", "/healthz", None),
}


def _without_edge(app: Starlette) -> Starlette:
    # Starlette builds the middleware stack on first use, so trimming the list before any
    # request leaves the app exactly as it was before edge/.
    kept = [m for m in app.user_middleware if m.cls is RequestIdMiddleware]  # type: ignore[comparison-overlap]
    app.user_middleware = kept
    return app


async def _median_ms(app: Starlette, method: str, path: str, body: object, runs: int) -> float:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for _ in range(20):
            await client.request(method, path, json=body)
        timings = []
        for _ in range(runs):
            started = time.perf_counter()
            response = await client.request(method, path, json=body)
            timings.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
    return statistics.median(timings) * 1000


async def main(runs: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        store = SQLiteStore(Path(directory) / "bench.sqlite3")
        await store.connect()
        await store.ensure_indexes(INDEXES)
        settings = Settings(jwt_secret="bench-secret-" + "b" * 40)
        apps = {
            "with edge": create_app(settings, store),
            "without": _without_edge(create_app(settings, store)),
        }
        results: dict[tuple[str, str], list[float]] = {}
        async with contextlib.AsyncExitStack() as running:
            for app in apps.values():
                await running.enter_async_context(app.router.lifespan_context(app))
            # Alternating rounds, so drift in machine load hits both sides alike.
            for _ in range(rounds):
                for label, (method, path, body) in REQUESTS.items():
                    for name, app in apps.items():
                        median = await _median_ms(app, method, path, body, runs)
                        results.setdefault((label, name), []).append(median)
        await store.close()
    print(f"{'request':32} {'with edge ms':>13} {'without ms':>11} {'ratio':>6}")
    for label in REQUESTS:
        with_edge = statistics.median(results[(label, "with edge")])
        without = statistics.median(results[(label, "without")])
        print(f"{label:32} {with_edge:13.3f} {without:11.3f} {with_edge / without:6.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200, help="timed requests per round")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.runs, arguments.rounds))
