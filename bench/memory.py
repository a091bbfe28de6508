"""Does the gateway's memory stay flat under a long mixed load?

Run ``python -m bench.memory [--seconds 300] [--concurrency 8]``. Seeds the demo data into a
fresh SQLite file, starts ``tsp-gateway serve`` on 127.0.0.1 and, for ``--seconds`` (bounded),
sends a mix from several callers: small queries, the partner dashboard, the store search, node
lookups of unknown ids, invalid documents, over-cost documents and malformed bodies (so error
paths are exercised too), with varied literal arguments so the parser and validation caches
see new documents and must evict. It samples the server's RSS (``/proc/<pid>/status``) every
1,000 requests and prints the RSS after warm-up, at the end, and the growth per 10,000 requests
from a least-squares fit over the samples after warm-up (target under 0.5 MiB).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import tempfile
import time
from typing import Any

import httpx

from bench.support import demo_store, rss_mib, serve_gateway

WARMUP_REQUESTS = 5_000
SAMPLE_EVERY = 1_000


def _mix(tokens: dict[str, str]) -> list[tuple[dict[str, Any], str | None]]:
    """Request bodies and who sends them; ``{n}`` is replaced per request."""
    partner, seller = tokens["partner"], tokens["seller"]
    return [
        ({"query": "{ __typename }"}, None),
        ({"query": "{ serviceCategories(first: {n}) { nodes { id name } } }"}, None),
        (
            {
                "query": "{ viewer { partner { serviceOffers(first: 5) { nodes { id status "
                "services { name } authorizations(first: 3) { nodes { id status } } } } } } }"
            },
            partner,
        ),
        ({"query": '{ store(query: "shop", first: {n}) { nodes { id name } } }'}, seller),
        ({"query": '{ node(id: "svc_missing{n}") { id } }'}, seller),
        ({"query": "{ nope{n} }"}, None),
        (
            {
                "query": "{ store(first: 100) { nodes { partner { services(first: 100) { "
                "nodes { name } } } } } }"
            },
            None,
        ),
        ({"query": "{ authorizations(first: {n}) { nodes { id status daysRemaining } } }"}, seller),
    ]


async def _load(
    url: str, tokens: dict[str, str], seconds: float, concurrency: int, pid: int
) -> list[tuple[int, float]]:
    mix = _mix(tokens)
    samples: list[tuple[int, float]] = []
    sent = 0
    deadline = time.monotonic() + seconds
    counter = itertools.count()

    async def client() -> None:
        nonlocal sent
        async with httpx.AsyncClient(timeout=30) as http:
            while time.monotonic() < deadline:
                n = next(counter)
                body, token = mix[n % len(mix)]
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                if n % 97 == 0:
                    await http.post(url, content=b"{broken", headers=headers)
                else:
                    text = body["query"].replace("{n}", str(1 + n % 20))
                    await http.post(url, json={"query": text}, headers=headers)
                sent += 1
                if sent % SAMPLE_EVERY == 0:
                    samples.append((sent, rss_mib(pid)))

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return samples


def _slope_per_10k(samples: list[tuple[int, float]]) -> float:
    if len(samples) < 2:
        return float("nan")
    xs = [float(x) for x, _ in samples]
    ys = [y for _, y in samples]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    covariance = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    variance = sum((x - mean_x) ** 2 for x in xs)
    return covariance / variance * 10_000 if variance else float("nan")


def main(seconds: float, concurrency: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        demo = demo_store(folder)
        tokens = {role: demo.token(role) for role in demo.subjects}
        with serve_gateway(demo.env) as gateway:
            samples = asyncio.run(
                _load(f"{gateway.url}/graphql", tokens, seconds, concurrency, gateway.pid)
            )
    steady = [(n, rss) for n, rss in samples if n > WARMUP_REQUESTS]
    total = samples[-1][0] if samples else 0
    print(f"{total} requests in {seconds:.0f} s from {concurrency} clients")
    if steady:
        print(f"  RSS after warm-up ({steady[0][0]} requests): {steady[0][1]:.1f} MiB")
        print(f"  RSS at the end    ({steady[-1][0]} requests): {steady[-1][1]:.1f} MiB")
    growth = _slope_per_10k(steady)
    print(f"  growth per 10k requests after warm-up: {growth:.3f} MiB  (target < 0.5)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    arguments = parser.parse_args()
    main(arguments.seconds, arguments.concurrency)
