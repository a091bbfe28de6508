"""Requests per second over real HTTP with a compiled load generator (wrk), as ratios in one run.

Run ``python -m bench.http [--seconds 5] [--rounds 3] [--connections 32]``. Installs ``wrk``
from Debian's packages when it is missing and the bench runs as root (else it says how), seeds
a SQLite store with the demo data and starts, on 127.0.0.1, four servers side by side:

- a hello-world Strawberry + Starlette app (``bench/hello_app.py``) under uvicorn, with one
  worker and with ``--workers 2``, answering ``{ __typename }``: the floor any Strawberry server
  pays, and how far two workers can scale on this machine at all (the reference ceiling);
- the gateway (``tsp-gateway serve``) with one process and with ``--workers 2``, answering
  ``{ __typename }``, ``serviceCategories(first: 20)`` and the partner dashboard (offers, their
  services and authorizations, as the demo partner).

Every server is measured only once all its workers have said they started, and every (server,
query) pair is warmed by a short wrk run first. Then ``--rounds`` rounds measure every pair for
``--seconds`` each, in a rotated order, so load from other jobs on a shared machine falls on all
of them alike; each figure is the median of its rounds. Beside each rate the bench prints what
the servers' processes spent (cores, and CPU milliseconds per request), what wrk spent, and what
the rest of the machine used meanwhile: when two workers fall short of twice one, that says
whether each request cost more or the workers did not get the cores (Linux shares the CPU
equally between busy sessions, so one CPU-bound job elsewhere takes a whole core from the
servers however many workers they run).

It prints **gateway / Strawberry hello** on the tiny query (target at least 1.0), **2 workers /
1 worker** for the gateway (target at least 1.6) and the same for the hello app (the ceiling).
First of all it measures both servers' start-up to their first answer (``bench/startup.py``:
**gateway / hello**, target at most 2.0).
Throttling is off (one caller sending thousands of requests measures throughput, which a
per-caller budget would stop by design).

``python -m bench.http --throttle [--seconds 5] [--rounds 3]`` measures the throttle as served
instead: two one-process gateways on the same seeded store, one with throttling on and one with
``TSP_THROTTLE=0``, and wrk's latency distribution (``--latency``) of one caller (the demo
partner) at 1, 8 and 32 connections, on ``serviceCategories(first: 20)`` (cheap: the
throttle's share is largest) and the partner dashboard. Both gateways are measured at the same
moment (a wrk each, one thread each), so load from other jobs falls on both alike; the pairs
are rotated across rounds. The throttled
gateway's budgets are raised (``TSP_THROTTLE_CAPACITY=1e9``, ``TSP_THROTTLE_RESTORE_RATE=1e8``)
so nothing is refused, which the bench checks in its ``/metrics`` afterwards: the figure is
the throttle's cost to an honest caller, not its refusals. It prints p50 and p99 with the
throttle on / off at each concurrency (target for p99 at 8 connections: at most 1.2).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench import startup
from bench.support import GATEWAY, Server, demo_store, free_port, started_server

TINY = "{ __typename }"
CATEGORIES = "{ serviceCategories(first: 20) { nodes { id name } } }"
DASHBOARD = """{ viewer { partner { name serviceOffers(first: 10) { nodes { id status
  services { name } authorizations(first: 5) { nodes { id status endDate seller { name } } } } }
  } } }"""
TINY_NAME, CATEGORIES_NAME, DASHBOARD_NAME = "{ __typename }", "serviceCategories", "dashboard"
_RATE = re.compile(r"Requests/sec:\s+([0-9.]+)")
_TICKS = os.sysconf("SC_CLK_TCK")
_WARM_SECONDS = 2
_START_ROUNDS = 7
# Beyond this many cores used by other jobs, a 2-worker figure did not have two cores.
_BUSY_CORES = 0.2


def ensure_wrk() -> str:
    """The path of ``wrk``, installing Debian's package first when missing and root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise SystemExit("bench/http.py needs wrk: install it (apt-get install wrk) and rerun")
    print("installing wrk (apt-get install wrk) ...", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "wrk"],
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk did not install")
    return found


@dataclass(frozen=True)
class Sample:
    """One wrk run: requests/s and the cores spent by the server, wrk and everything else."""

    rate: float
    server_cores: float
    cpu_ms_per_request: float
    wrk_cores: float
    other_cores: float


def _machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (every core, every process)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / _TICKS


@dataclass
class Load:
    """A (server, query) pair to measure, and its samples."""

    label: str
    server: Server
    query: str
    token: str | None = None
    samples: list[Sample] = field(default_factory=list)

    def script(self) -> str:
        body = json.dumps({"query": self.query})
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        lines = [
            'wrk.method = "POST"',
            f"wrk.body = {json.dumps(body)}",
            *(f'wrk.headers["{name}"] = "{value}"' for name, value in headers.items()),
        ]
        return "\n".join(lines) + "\n"

    def check(self) -> None:
        """The query answers without errors, so the rate is of real answers."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        answer = httpx.post(
            self.server.url, json={"query": self.query}, headers=headers, timeout=30
        ).json()
        if answer.get("errors") or not answer.get("data"):
            raise RuntimeError(f"{self.label}: {self.query!r} answered {answer}")

    def median(self) -> Sample:
        """Each column's median over the rounds."""
        columns = zip(*(dataclasses.astuple(sample) for sample in self.samples), strict=True)
        return Sample(*(statistics.median(column) for column in columns))


def _wrk(wrk: str, load: Load, script: str, seconds: int, connections: int) -> Sample:
    wrk_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_before = load.server.cpu_seconds()
    machine_before = _machine_busy_seconds()
    started = time.perf_counter()
    run = subprocess.run(
        [wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "-s", script, load.server.url],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    elapsed = time.perf_counter() - started
    server = load.server.cpu_seconds() - server_before
    machine = _machine_busy_seconds() - machine_before
    wrk_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = wrk_after.ru_utime + wrk_after.ru_stime - wrk_before.ru_utime - wrk_before.ru_stime
    match = _RATE.search(run.stdout)
    if not match:
        raise RuntimeError(f"no rate in wrk's output:\n{run.stdout}")
    if "Non-2xx" in run.stdout or "Socket errors" in run.stdout:
        raise RuntimeError(f"wrk saw errors against {load.label}:\n{run.stdout}")
    rate = float(match.group(1))
    return Sample(
        rate=rate,
        server_cores=server / elapsed,
        cpu_ms_per_request=server / elapsed / rate * 1000,
        wrk_cores=wrk_cpu / elapsed,
        other_cores=max(0.0, (machine - server - wrk_cpu) / elapsed),
    )


def _label(server: str, workers: int, query: str) -> str:
    return f"{server} {workers} worker{'s' if workers > 1 else ' '} {query}"


def _line(label: str, sample: Sample) -> str:
    return (
        f"  {label:36} {sample.rate:7.0f} requests/s   server {sample.server_cores:4.2f} cores"
        f" {sample.cpu_ms_per_request:5.2f} ms/request   wrk {sample.wrk_cores:4.2f}"
        f"   others {sample.other_cores:4.2f}"
    )


def _measure(
    wrk: str, loads: list[Load], folder: str, seconds: int, rounds: int, connections: int
) -> None:
    scripts: dict[str, str] = {}
    for load in loads:
        load.check()
        scripts[load.label] = str(Path(folder) / f"load{len(scripts)}.lua")
        Path(scripts[load.label]).write_text(load.script())
        # Warm-up: every worker takes connections and fills its caches before the rounds.
        _wrk(wrk, load, scripts[load.label], _WARM_SECONDS, connections)
    for round_number in range(rounds):
        print(f"round {round_number + 1}/{rounds}   load average {_load_average()}", flush=True)
        shift = round_number % len(loads)
        for load in loads[shift:] + loads[:shift]:
            sample = _wrk(wrk, load, scripts[load.label], seconds, connections)
            load.samples.append(sample)
            print(_line(load.label, sample), flush=True)


def _load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main(seconds: int, rounds: int, connections: int) -> None:
    wrk = ensure_wrk()
    cores = os.cpu_count()
    print(f"wrk, 2 threads, {connections} connections; {rounds} rounds of {seconds} s per figure")
    print(f"{cores} cores; load average before: {_load_average()}")
    with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as servers:
        demo = demo_store(folder)
        partner = demo.token("partner")
        startup.measure(demo.env, _START_ROUNDS)

        def hello(workers: int) -> Server:
            port = free_port()
            command = [sys.executable, "-m", "uvicorn", "bench.hello_app:app"]
            options = ["--port", str(port), "--workers", str(workers), "--no-access-log"]
            return servers.enter_context(
                started_server([*command, *options], demo.env, port, workers)
            )

        def gateway(workers: int) -> Server:
            port = free_port()
            command = [*GATEWAY, "serve", "--port", str(port), "--workers", str(workers)]
            return servers.enter_context(started_server(command, demo.env, port, workers))

        hello1, hello2, gateway1, gateway2 = hello(1), hello(2), gateway(1), gateway(2)
        loads = [
            Load(_label("hello", 1, TINY_NAME), hello1, TINY),
            Load(_label("hello", 2, TINY_NAME), hello2, TINY),
        ]
        for query, name, token in (
            (TINY, TINY_NAME, None),
            (CATEGORIES, CATEGORIES_NAME, None),
            (DASHBOARD, DASHBOARD_NAME, partner),
        ):
            loads.append(Load(_label("gateway", 1, name), gateway1, query, token))
            loads.append(Load(_label("gateway", 2, name), gateway2, query, token))
        _measure(wrk, loads, folder, seconds, rounds, connections)
    print(f"medians of {rounds} rounds   load average after: {_load_average()}")
    medians = {load.label: load.median() for load in loads}
    for label, median in medians.items():
        print(_line(label, median))
    _ratios(medians)


# --- the throttle as served: latency of one caller, throttle on / off ------------------------

_LATENCY = re.compile(r"^\s+(50|99)%\s+([0-9.]+)(us|ms|s|m)\s*$", re.MULTILINE)
_MS_PER_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_THROTTLE_CONNECTIONS = (1, 8, 32)
# Budgets no honest caller drains, so the bench measures the throttle's work, not refusals.
_RAISED_BUDGETS = {
    "TSP_THROTTLE": "1",
    "TSP_THROTTLE_CAPACITY": "1e9",
    "TSP_THROTTLE_RESTORE_RATE": "1e8",
}


@dataclass(frozen=True)
class Latency:
    """One wrk run's median and 99th percentile latency (ms) and its rate."""

    p50: float
    p99: float
    rate: float


def _latencies(
    wrk: str, runs: list[tuple[Load, str]], seconds: int, connections: int
) -> list[Latency]:
    """wrk against every ``(load, script)`` at the same moment, one wrk thread each, so load
    from other jobs on a shared machine falls on all of them alike."""
    processes = [
        subprocess.Popen(
            [
                wrk,
                "-t1",
                f"-c{connections}",
                f"-d{seconds}s",
                # A slow answer is a latency to report, not a socket error (wrk's default: 2 s).
                "--timeout",
                "30s",
                "--latency",
                "-s",
                script,
                load.server.url,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for load, script in runs
    ]
    figures = []
    for (load, _), process in zip(runs, processes, strict=True):
        output, errors = process.communicate(timeout=seconds + 60)
        if process.returncode != 0 or "Non-2xx" in output or "Socket errors" in output:
            raise RuntimeError(f"wrk saw errors against {load.label}:\n{output}{errors}")
        found = {q: float(v) * _MS_PER_UNIT[u] for q, v, u in _LATENCY.findall(output)}
        rate = _RATE.search(output)
        if set(found) != {"50", "99"} or not rate:
            raise RuntimeError(f"no latency distribution in wrk's output:\n{output}")
        figures.append(Latency(found["50"], found["99"], float(rate.group(1))))
    return figures


def _throttled_count(server: Server) -> float:
    """How many requests ``server`` refused THROTTLED (its /metrics)."""
    text = httpx.get(server.url.replace("/graphql", "/metrics"), timeout=30).text
    found = re.search(r'^tsp_requests_refused_total\{code="THROTTLED"\} ([0-9.e+]+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


@dataclass
class _Pair:
    """One query at one concurrency against both gateways, and its figures."""

    name: str
    connections: int
    on: Load
    off: Load
    figures: dict[str, list[Latency]] = field(default_factory=lambda: {"on": [], "off": []})

    def median(self, setting: str, quantile: str) -> float:
        return float(statistics.median(getattr(f, quantile) for f in self.figures[setting]))


def throttle_main(seconds: int, rounds: int) -> None:
    wrk = ensure_wrk()
    print(
        f"wrk --latency, one caller (the demo partner), throttle on and off measured at the same"
        f" moment; {rounds} rounds of {seconds} s per figure; throttle on with raised budgets"
        f" ({_RAISED_BUDGETS['TSP_THROTTLE_CAPACITY']} capacity,"
        f" {_RAISED_BUDGETS['TSP_THROTTLE_RESTORE_RATE']}/s) / TSP_THROTTLE=0"
    )
    print(f"{os.cpu_count()} cores; load average before: {_load_average()}")
    with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as servers:
        demo = demo_store(folder)
        partner = demo.token("partner")

        def gateway(env: dict[str, str]) -> Server:
            port = free_port()
            command = [*GATEWAY, "serve", "--port", str(port)]
            return servers.enter_context(started_server(command, env, port, 1))

        throttled, free = gateway({**demo.env, **_RAISED_BUDGETS}), gateway(demo.env)
        scripts: dict[str, str] = {}
        pairs: list[_Pair] = []
        for query, name in ((CATEGORIES, CATEGORIES_NAME), (DASHBOARD, DASHBOARD_NAME)):
            on, off = (
                Load(f"on {name}", throttled, query, partner),
                Load(f"off {name}", free, query, partner),
            )
            for load in (on, off):
                load.check()
                scripts[load.label] = str(Path(folder) / f"latency{len(scripts)}.lua")
                Path(scripts[load.label]).write_text(load.script())
            pairs += [_Pair(name, c, on, off) for c in _THROTTLE_CONNECTIONS]
        for pair in pairs:  # warm-up
            runs = [(pair.on, scripts[pair.on.label]), (pair.off, scripts[pair.off.label])]
            _latencies(wrk, runs, _WARM_SECONDS, pair.connections)
        for round_number in range(rounds):
            print(f"round {round_number + 1}/{rounds}   load average {_load_average()}", flush=True)
            shift = round_number % len(pairs)
            for pair in pairs[shift:] + pairs[:shift]:
                runs = [(pair.on, scripts[pair.on.label]), (pair.off, scripts[pair.off.label])]
                with_throttle, without = _latencies(wrk, runs, seconds, pair.connections)
                pair.figures["on"].append(with_throttle)
                pair.figures["off"].append(without)
                print(
                    f"  {pair.name:18} c={pair.connections:<3}"
                    f" on p50 {with_throttle.p50:7.2f} p99 {with_throttle.p99:8.2f} ms"
                    f"   off p50 {without.p50:7.2f} p99 {without.p99:8.2f} ms",
                    flush=True,
                )
        refused = _throttled_count(throttled)
    print(f"medians of {rounds} rounds   load average after: {_load_average()}")
    print(f"requests refused THROTTLED by the throttled gateway: {refused:.0f} (must be 0)")
    print("throttle on / off (target for p99 at 8 connections: <= 1.2)")
    for pair in pairs:
        p50_on, p50_off = pair.median("on", "p50"), pair.median("off", "p50")
        p99_on, p99_off = pair.median("on", "p99"), pair.median("off", "p99")
        print(
            f"  {pair.name:18} c={pair.connections:<3} p50 {p50_on:8.2f} / {p50_off:8.2f} ms"
            f" = {p50_on / p50_off:5.2f}   p99 {p99_on:8.2f} / {p99_off:8.2f} ms"
            f" = {p99_on / p99_off:5.2f}"
        )


def _ratios(medians: dict[str, Sample]) -> None:
    def pair(query: str, server: str = "gateway") -> tuple[Sample, Sample]:
        return medians[_label(server, 1, query)], medians[_label(server, 2, query)]

    hello_one, hello_two = pair(TINY_NAME, "hello")
    tiny = medians[_label("gateway", 1, TINY_NAME)].rate / hello_one.rate
    print(f"gateway / Strawberry hello on {{ __typename }}:      {tiny:.2f}  (target >= 1.0)")
    print(
        "2 workers / 1 worker: requests/s (target >= 1.6), and CPU per request (1.0: no overhead)"
    )
    pairs = [("hello { __typename } (ceiling)", hello_one, hello_two)]
    for query in (TINY_NAME, CATEGORIES_NAME, DASHBOARD_NAME):
        pairs.append((f"gateway {query}", *pair(query)))
    for label, one, two in pairs:
        print(
            f"  {label:34} {two.rate / one.rate:5.2f} requests/s"
            f"   {two.cpu_ms_per_request / one.cpu_ms_per_request:5.2f} CPU per request"
            f"   (2 workers got {two.server_cores:.2f} cores; others used {two.other_cores:.2f})"
        )
    busiest = max(two.other_cores for _, _, two in pairs)
    if busiest > _BUSY_CORES:
        print(
            f"other jobs used up to {busiest:.2f} cores beside 2 workers: the workers ratios are"
            " bounded by the cores left (Linux shares the CPU equally between busy sessions)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--throttle", action="store_true", help="latency of one caller, throttle on / off"
    )
    arguments = parser.parse_args()
    if arguments.throttle:
        throttle_main(arguments.seconds, arguments.rounds)
    else:
        main(arguments.seconds, arguments.rounds, arguments.connections)
