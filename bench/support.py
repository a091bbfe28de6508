"""What the benchmarks that run a real gateway share: a port, a seeded store, a served process,
tokens for the demo callers, and the server's memory."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from datastore import enums as e
from datastore.demo import demo_subjects
from datastore.ids import new_id
from edge.gateway_settings import Settings
from gateway import open_store
from resolvers.identity import Role, issue_token

GATEWAY = [sys.executable, "-m", "cli"]


def bench_partner(name: str, index: int, at: datetime) -> dict[str, Any]:
    """An active US TSP partner document for seeding a benchmark store directly."""
    return {
        "_id": new_id("ptn"),
        "name": name,
        "type": e.PartnerType.TSP,
        "registrationRegion": e.Region.US,
        "targetMarkets": list(e.REGION_MARKETS[e.Region.US]),
        "status": e.PartnerStatus.ACTIVE,
        "contactEmail": f"team{index}@partner.example",
        "createdAt": at,
        "updatedAt": at,
    }


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """User and system CPU time process ``pid`` has used so far, all its threads (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    """The resident memory of process ``pid`` in MiB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# uvicorn logs this once per worker when the worker's app has started.
_STARTED = "Application startup complete"
_START_SECONDS = 180


@dataclass(frozen=True)
class Server:
    """A running server: where it answers (its GraphQL endpoint) and the processes that serve
    it."""

    url: str
    pids: tuple[int, ...]

    def cpu_seconds(self) -> float:
        """User and system CPU time spent so far by the server's processes (all threads)."""
        total = 0.0
        for pid in self.pids:
            with contextlib.suppress(FileNotFoundError):
                total += cpu_seconds(pid)
        return total


@contextlib.contextmanager
def started_server(
    command: list[str], env: dict[str, str], port: int, workers: int
) -> Iterator[Server]:
    """Run ``command`` until the block ends, once each of its ``workers`` has logged that its
    app started (answering one request is not enough: the other workers may still be
    importing, and connections opened meanwhile would all stay with the first)."""
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + _START_SECONDS
            while True:
                log.seek(0)
                if log.read().count(_STARTED) >= workers:
                    break
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"{command} did not start:\n{log.read()[-2000:]}")
                time.sleep(0.1)
            pids = (process.pid, *_children(process.pid))
            yield Server(f"http://127.0.0.1:{port}/graphql", pids)
        finally:
            process.terminate()
            process.wait(timeout=30)


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(FileNotFoundError):
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            found += [int(child), *_children(int(child))]
    return found


@dataclass(frozen=True)
class DemoStore:
    """A SQLite file seeded with the demo data, the environment to serve it, and tokens."""

    env: dict[str, str]
    secret: str
    subjects: dict[str, str]

    def token(self, role: str, hours: float = 2) -> str:
        """A token for the demo ``role`` (partner, seller or admin)."""
        subject = self.subjects[role]
        return issue_token(self.secret, Role(role.upper()), subject, timedelta(hours=hours))


def demo_store(folder: str, **env: str) -> DemoStore:
    """Seed the demo data into a fresh SQLite file in ``folder``. Throttling and the sweep are
    off unless ``env`` says otherwise: one caller sending thousands of requests measures
    throughput, which a per-caller budget would cut short by design."""
    secret = secrets.token_urlsafe(48)
    database = f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
    environment = {
        **os.environ,
        "TSP_JWT_SECRET": secret,
        "TSP_DATABASE_URL": database,
        "TSP_THROTTLE": "0",
        "TSP_SWEEP_INTERVAL_SECONDS": "0",
        "TMPDIR": folder,
        **env,
    }
    subprocess.run([*GATEWAY, "seed", "--demo"], env=environment, check=True, capture_output=True)

    async def subjects() -> dict[str, str]:
        store = await open_store(Settings(jwt_secret=secret, database_url=database))
        try:
            return await demo_subjects(store)
        finally:
            await store.close()

    return DemoStore(environment, secret, asyncio.run(subjects()))


@dataclass(frozen=True)
class Served:
    url: str
    pid: int


@contextlib.contextmanager
def served(command: list[str], env: dict[str, str], port: int) -> Iterator[Served]:
    """Run ``command`` (a server listening on ``port``) until the block ends; waits (bounded)
    until it answers HTTP. A server of several workers: :func:`started_server`."""
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            with contextlib.suppress(httpx.TransportError):
                # Any HTTP answer means it listens (not every server has /healthz).
                httpx.get(f"{base}/healthz", timeout=1)
                break
            if process.poll() is not None:
                raise RuntimeError(f"{command} exited early")
            time.sleep(0.1)
        else:
            raise RuntimeError(f"{command} did not start")
        yield Served(base, process.pid)
    finally:
        process.terminate()
        process.wait(timeout=15)


def serve_gateway(env: dict[str, str], *args: str) -> contextlib.AbstractContextManager[Served]:
    """``tsp-gateway serve`` on a free port with ``env``."""
    port = free_port()
    return served([*GATEWAY, "serve", "--port", str(port), *args], env, port)
