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
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from datastore.demo import demo_subjects
from gateway import Settings, open_store
from resolvers.identity import Role, issue_token

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
                    samples.append((sent, _rss_mib(pid)))

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return samples


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _slope_per_10k(samples: list[tuple[int, float]]) -> float:
    if len(samples) < 2:
        return float("nan")
    xs = [float(x) for x, _ in samples]
    ys = [y for _, y in samples]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    covariance = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    variance = sum((x - mean_x) ** 2 for x in xs)
    return covariance / variance * 10_000 if variance else float("nan")


async def _subjects(url: str) -> dict[str, str]:
    store = await open_store(Settings(jwt_secret="x" * 32, database_url=url))
    try:
        return await demo_subjects(store)
    finally:
        await store.close()


def main(seconds: float, concurrency: int) -> None:
    secret = secrets.token_urlsafe(48)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as folder:
        database = f"sqlite:///{Path(folder) / 'memory.sqlite3'}"
        # Throttling off: the point is memory under sustained load, not budgets.
        env = {
            **os.environ,
            "TSP_JWT_SECRET": secret,
            "TSP_DATABASE_URL": database,
            "TSP_THROTTLE": "0",
            "TSP_SWEEP_INTERVAL_SECONDS": "0",
        }
        gateway = [sys.executable, "-m", "gateway"]
        subprocess.run([*gateway, "seed", "--demo"], env=env, check=True, capture_output=True)
        subjects = asyncio.run(_subjects(database))
        tokens = {
            role: issue_token(secret, Role(role.upper()), subject, timedelta(hours=2))
            for role, subject in subjects.items()
        }
        server = subprocess.Popen(
            [*gateway, "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(300):
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            samples = asyncio.run(
                _load(f"{base}/graphql", tokens, seconds, concurrency, server.pid)
            )
        finally:
            server.terminate()
            server.wait(timeout=15)
    steady = [(n, rss) for n, rss in samples if n > WARMUP_REQUESTS]
    total = samples[-1][0] if samples else 0
    print(f"{total} requests in {seconds:.0f} s from {concurrency} clients")
    if steady:
        print(f"  RSS after warm-up ({steady[0][0]} requests): {steady[0][1]:.1f} MiB")
        print(f"  RSS at the end    ({steady[-1][0]} requests): {steady[-1][1]:.1f} MiB")
    print(
        f"  growth per 10k requests after warm-up: {_slope_per_10k(steady):.3f} MiB  (target < 0.5)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    arguments = parser.parse_args()
    main(arguments.seconds, arguments.concurrency)
