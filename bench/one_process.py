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
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from typing import Any

import httpx

from datastore.demo import demo_subjects
from gateway import Settings, open_store
from resolvers.identity import Role, issue_token

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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


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


async def _partner(url: str) -> str:
    store = await open_store(Settings(jwt_secret="x" * 32, database_url=url))
    try:
        return (await demo_subjects(store))["partner"]
    finally:
        await store.close()


async def _wait(url: str) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(100):
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the gateway did not start")


def main(args: argparse.Namespace) -> None:
    secret = secrets.token_urlsafe(48)
    port = _free_port()
    with tempfile.TemporaryDirectory() as directory:
        database = f"sqlite:///{directory}/load.sqlite3"
        env = {**os.environ, "TSP_JWT_SECRET": secret, "TSP_DATABASE_URL": database}
        cli = [sys.executable, "-m", "gateway"]
        subprocess.run([*cli, "seed", "--demo"], env=env, check=True, capture_output=True)
        partner = asyncio.run(_partner(database))
        token = issue_token(secret, Role.PARTNER, partner, timedelta(hours=1))
        # The server's request log goes nowhere: it is not what is measured.
        quiet = subprocess.DEVNULL
        serve = [*cli, "serve", "--port", str(port)]
        server = subprocess.Popen(serve, env=env, stdout=quiet, stderr=quiet)
        try:
            base = f"http://127.0.0.1:{port}"
            asyncio.run(_wait(f"{base}/healthz"))
            print(f"one process, {args.concurrency} concurrent clients, {args.requests} requests")
            for name, query in QUERIES.items():
                rate = asyncio.run(
                    _rate(f"{base}/graphql", query, token, args.requests, args.concurrency)
                )
                print(f"  {name:34} {rate:8.0f} requests/s", flush=True)
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--concurrency", type=int, default=8)
    main(parser.parse_args())
