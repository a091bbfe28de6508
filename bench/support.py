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
    until it answers HTTP."""
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
