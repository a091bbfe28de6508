"""The partner dashboard end to end: a real seeded SQLite store, HTTP on 127.0.0.1 and JSON, as
a client gets it, against a hand-written floor and raw graphql-core served the same way.

Run ``python -m bench.end_to_end [--offers 5,50] [--connections 1,8,32] [--seconds 3]
[--rounds 3]`` (``python -m bench.execution`` runs it first, then its CPU model). Seeds a SQLite
file as ``bench/execution.py`` does (the demo data, one offer accepted through the API, copied
into the largest ``--offers`` offers x ``--authorizations`` sellers' authorizations x
``--history`` entries), then starts three servers on 127.0.0.1 over that one file:

- **gateway**: ``tsp-gateway serve`` (one process, the defaults as served: planned execution,
  the whole edge and layer);
- **floor**: ``bench/dashboard_floor.py``, plain SQL through stdlib ``sqlite3``, the same rules,
  orjson, under uvicorn: the same bytes as the gateway's answer (checked before timing);
- **raw graphql-core**: ``bench/dashboard_raw.py``, a plain graphql-core schema of the same
  shape whose resolvers read the store with plain SQL, under uvicorn: the same data (checked).

wrk (installed from Debian's packages when missing, as ``bench/http.py`` does) POSTs the
dashboard query as the demo partner, with ``first: O`` offers for each ``--offers`` O, at each
``--connections`` count; every (server, offers, connections) figure is measured once per round
in a rotated order, each starting once all three servers are idle again (a run's requests left
in flight finished), and each figure is the median of its rounds. Printed: requests/s, p50,
p99 and the server's CPU time per answered request (``/proc``, all its threads) per figure,
then **gateway / floor** and **gateway / raw graphql-core**: p50 and p99 latency, time per
request (the inverse of requests/s) and CPU per request (which other jobs on a shared machine
disturb less). Raised: ``TSP_THROTTLE=0`` (one
caller sending thousands of requests would be throttled by design) and ``TSP_MAX_QUERY_COST``
(the dashboard at 50 offers asks for more than the default 1,000 a single request may cost).
No compression: wrk sends no ``Accept-Encoding`` (the gateway gzips when asked). All three
are one process on uvicorn's uvloop and httptools, with the gateway's heap settings
(start-up heap frozen, full collections rare: ``edge.startup_heap.freeze_startup_heap``), so
the ratios compare the work of a request.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.execution import DASHBOARD, SECRET, seed
from bench.http import ensure_wrk
from bench.support import GATEWAY, Served, cpu_seconds, free_port, served

SERVERS = ("gateway", "floor", "raw graphql-core")

_LUA = r"""
local body, token = nil, nil
function init(args)
  local file = io.open(args[1], "r")
  body = file:read("*a")
  file:close()
  token = args[2]
  failures = 0
end
function request()
  return wrk.format("POST", "/graphql",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end
function response(status, headers, body)
  if status ~= 200 then failures = failures + 1 end
end
local threads = {}
function setup(thread) table.insert(threads, thread) end
function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("failures") end
  io.write(string.format("RESULT %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), total))
end
"""


@dataclass(frozen=True)
class Run:
    rate: float
    p50_ms: float
    p99_ms: float
    cpu_ms: float
    """The server's CPU time (all its threads) per answered request, while wrk ran."""


SETTLE_SECONDS = 120
"""How long a server may take to finish requests wrk left in flight (bounded wait)."""


def _settled(pids: list[int]) -> None:
    """Wait until the servers are idle: requests a run left in flight (wrk closes its
    connections mid-request; the gateway finishes every request it has read, those waiting
    their turn too) would otherwise take CPU from the next figure, another server's."""
    deadline = time.monotonic() + SETTLE_SECONDS
    used = sum(cpu_seconds(pid) for pid in pids)
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = sum(cpu_seconds(pid) for pid in pids)
        if now - used < 0.01:  # under 4% of a CPU: idle
            return
        used = now
    raise RuntimeError(f"the servers were still busy {SETTLE_SECONDS} s after a run")


def _wrk(wrk: str, server: Served, body: Path, token: str, connections: int, seconds: int) -> Run:
    script = body.with_suffix(".lua")
    script.write_text(_LUA)
    threads = min(2, connections)
    started = cpu_seconds(server.pid)
    run = subprocess.run(
        [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s",
         "-s", str(script), f"{server.url}/graphql", "--", str(body), token],
        capture_output=True, text=True, timeout=seconds + 120,
    )  # fmt: skip
    used = cpu_seconds(server.pid) - started
    found = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) (\d+)", run.stdout)
    if run.returncode != 0 or not found:
        raise RuntimeError(f"wrk failed:\n{run.stdout}\n{run.stderr}")
    requests, micros, p50, p99, failures = (int(value) for value in found.groups())
    if failures:
        raise RuntimeError(f"{failures} of {requests} answers were not 200 from {server.url}")
    return Run(requests / (micros / 1e6), p50 / 1000, p99 / 1000, used * 1000 / max(requests, 1))


def _uvicorn(app: str, env: dict[str, str]) -> contextlib.AbstractContextManager[Served]:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", app, "--port", str(port),
               "--no-access-log", "--log-level", "warning"]  # fmt: skip
    return served(command, env, port)


def _body(offers: int, authorizations: int, history: int) -> bytes:
    variables = {"offers": offers, "authorizations": authorizations, "history": history}
    return json.dumps({"query": DASHBOARD, "variables": variables}).encode()


def _answer(url: str, body: bytes, token: str) -> bytes:
    response = httpx.post(
        f"{url}/graphql",
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                 "Accept-Encoding": "identity"},
        timeout=60,
    )  # fmt: skip
    if response.status_code != 200:
        raise RuntimeError(f"{url} answered {response.status_code}: {response.text[:500]}")
    return response.content


@contextlib.contextmanager
def _servers(path: str, folder: str, extensions: dict[str, object]) -> Iterator[dict[str, Served]]:
    """The three servers over the file at ``path``, by name."""
    env = {**os.environ, "TMPDIR": folder, "BENCH_DATABASE": path, "BENCH_SECRET": SECRET}
    gateway_env = {
        **env,
        "TSP_JWT_SECRET": SECRET,
        "TSP_DATABASE_URL": f"sqlite:///{path}",
        "TSP_THROTTLE": "0",
        "TSP_SWEEP_INTERVAL_SECONDS": "0",
        "TSP_MAX_QUERY_COST": str(10**9),
    }
    floor_env = {**env, "BENCH_EXTENSIONS": json.dumps(extensions)}
    port = free_port()
    with (
        served([*GATEWAY, "serve", "--port", str(port)], gateway_env, port) as gateway,
        _uvicorn("bench.dashboard_floor:app", floor_env) as floor,
        _uvicorn("bench.dashboard_raw:app", env) as raw,
    ):
        yield {"gateway": gateway, "floor": floor, "raw graphql-core": raw}


def _extensions(path: str, folder: str, bodies: dict[int, bytes], token: str) -> dict[str, object]:
    """The gateway's cost report per offers count, which the floor echoes."""
    with _servers(path, folder, {}) as servers:
        return {
            str(offers): json.loads(_answer(servers["gateway"].url, body, token))["extensions"]
            for offers, body in bodies.items()
        }


def _check(servers: dict[str, Served], bodies: dict[int, bytes], token: str) -> None:
    """The floor answers the gateway's bytes, raw graphql-core its data."""
    urls = {name: server.url for name, server in servers.items()}
    for offers, body in bodies.items():
        gateway = _answer(urls["gateway"], body, token)
        if _answer(urls["floor"], body, token) != gateway:
            raise SystemExit(f"the floor and the gateway answered differently at {offers} offers")
        raw = json.loads(_answer(urls["raw graphql-core"], body, token))
        if raw != {"data": json.loads(gateway)["data"]}:
            raise SystemExit(f"raw graphql-core and the gateway differ at {offers} offers")
        nodes = gateway.count(b'"node"')
        print(f"  {offers} offers: {nodes} nodes, {len(gateway):,} bytes; all three agree")


def _load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


async def _seed(path: str, args: argparse.Namespace) -> str:
    _, token = await seed(path, max(args.offers), args.authorizations, args.history)
    return token


def run(args: argparse.Namespace) -> None:
    wrk = ensure_wrk()
    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/bench.sqlite3"
        print(
            f"end to end: seeding {max(args.offers)} offers x {args.authorizations} "
            f"authorizations x {args.history} history entries",
            flush=True,
        )
        token = asyncio.run(_seed(path, args))
        bodies = {o: _body(o, args.authorizations, args.history) for o in args.offers}
        files = {}
        for offers, body in bodies.items():
            files[offers] = Path(folder) / f"body{offers}.json"
            files[offers].write_bytes(body)
        extensions = _extensions(path, folder, bodies, token)
        configs = [
            (server, offers, connections)
            for offers in args.offers
            for connections in args.connections
            for server in SERVERS
        ]
        results: dict[tuple[str, int, int], list[Run]] = {config: [] for config in configs}
        with _servers(path, folder, extensions) as servers:
            _check(servers, bodies, token)
            pids = [server.pid for server in servers.values()]
            for server, offers, _ in configs[:: len(args.connections)]:
                _wrk(wrk, servers[server], files[offers], token, 8, 1)  # warm-up
                _settled(pids)
            for round_number in range(args.rounds):
                print(
                    f"round {round_number + 1}/{args.rounds}   load average {_load()}", flush=True
                )
                shift = round_number * len(configs) // args.rounds
                for server, offers, connections in configs[shift:] + configs[:shift]:
                    results[(server, offers, connections)].append(
                        _wrk(wrk, servers[server], files[offers], token, connections, args.seconds)
                    )
                    _settled(pids)
    _report(results, args)


def _report(results: dict[tuple[str, int, int], list[Run]], args: argparse.Namespace) -> None:
    median = {
        config: Run(
            statistics.median(run.rate for run in runs),
            statistics.median(run.p50_ms for run in runs),
            statistics.median(run.p99_ms for run in runs),
            statistics.median(run.cpu_ms for run in runs),
        )
        for config, runs in results.items()
    }
    print(
        f"\nend to end, wrk {args.seconds} s per figure, medians of {args.rounds} rotated rounds"
        f"   load average after: {_load()}"
    )
    for (server, offers, connections), run in median.items():
        print(
            f"  {server:17} {offers:3d} offers {connections:3d} connections"
            f" {run.rate:8.1f} requests/s   p50 {run.p50_ms:8.2f} ms   p99 {run.p99_ms:8.2f} ms"
            f"   CPU {run.cpu_ms:7.2f} ms/request"
        )
    print(
        "ratios in this run (time per request = 1 / requests/s; CPU: the server's CPU time per"
        " answered request):"
    )
    for baseline in SERVERS[1:]:
        for offers in args.offers:
            for connections in args.connections:
                ours = median[("gateway", offers, connections)]
                theirs = median[(baseline, offers, connections)]
                print(
                    f"  gateway / {baseline:16} {offers:3d} offers {connections:3d} connections:"
                    f"  p50 {_ratio(ours.p50_ms, theirs.p50_ms)}"
                    f"   p99 {_ratio(ours.p99_ms, theirs.p99_ms)}"
                    f"   time per request {_ratio(theirs.rate, ours.rate)}"
                    f"   CPU {_ratio(ours.cpu_ms, theirs.cpu_ms)}"
                )


def _ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:5.2f}" if theirs else "  n/a"


def _numbers(text: str) -> list[int]:
    return [int(part) for part in text.split(",")]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--offers", type=_numbers, default=[5, 50])
    parser.add_argument("--authorizations", type=int, default=20)
    parser.add_argument("--history", type=int, default=5)
    parser.add_argument("--connections", type=_numbers, default=[1, 8, 32])
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    add_arguments(parser)
    run(parser.parse_args())
