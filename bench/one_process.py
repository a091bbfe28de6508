"""Requests/s one gateway process serves over real HTTP, for docs/scaling.md.

Starts ``tsp-gateway serve`` on 127.0.0.1 over a fresh SQLite file seeded with the demo data
set, then POSTs each query ``--requests`` times from ``--concurrency`` concurrent clients
(httpx, in this process: client and server share the machine's cores, so the figure is a floor
on a busy machine), after a warm-up. Bounded, local only. A compiled load generator against
N workers is ``bench/http.py``'s job; this is the one-process baseline of the scale plan.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from typing import Any

import httpx

from bench.support import demo_store, serve_gateway

WARMUP = 50
QUERIES = {
    "{ __typename }": "{ __typename }",
    "authorizations(first: 20)": """{ viewer { partner { authorizations(first: 20) {
      edges { node { id status } } } } } }""",
    "serviceOffers(first: 20)": """{ viewer { partner { serviceOffers(first: 20) {
      edges { node { id status } } } } } }""",
    'store(query: "shop", first: 20)': """{ store(query: "shop", first: 20) {
      edges { node { id name } } } }""",
}


async def _rate(url: str, query: str, token: str, requests: int, concurrency: int) -> float:
    headers = {"Authorization": f"Bearer {token}"}
    body = {"query": query}
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def post() -> None:
            response = await client.post(url, json=body, headers=headers)
            data: dict[str, Any] = response.json()
            if response.status_code != 200 or data.get("errors"):
                raise RuntimeError(f"{response.status_code}: {data}")

        for _ in range(WARMUP):
            await post()
        left = requests

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                await post()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return requests / (time.perf_counter() - started)


def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as directory:
        demo = demo_store(directory)
        token = demo.token("partner")
        with serve_gateway(demo.env) as gateway:
            print(f"one process, {args.concurrency} concurrent clients, {args.requests} requests")
            for name, query in QUERIES.items():
                rate = asyncio.run(
                    _rate(f"{gateway.url}/graphql", query, token, args.requests, args.concurrency)
                )
                print(f"  {name:34} {rate:8.0f} requests/s", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--concurrency", type=int, default=8)
    main(parser.parse_args())
