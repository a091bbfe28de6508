"""Start-up: ``tsp-gateway serve`` to its first answer, against a hello-world Strawberry app, in
one run (``bench/http.py`` runs it first; ``python -m bench.startup [--rounds 7]`` alone).

Each round starts the gateway (one process, the defaults as served, on a SQLite store seeded
with the demo data) and ``uvicorn bench.hello_app:app``, one after the other in alternating
order, and posts ``{ __typename }`` every 10 ms until the first 200. It records the wall time
from the command's start to that answer and the CPU time the server's process spent by then
(what the machine's other jobs cannot inflate, unlike the wall time on a shared machine), then
stops the server. It prints the median of each over the rounds and **gateway / hello** for both
(target at most 2.0).

Both load the project's and the libraries' modules from bytecode, as an installed package
does: the bench compiles the project's modules first (``compileall``), since a machine that
sets ``PYTHONDONTWRITEBYTECODE`` would otherwise compile them from source on every start.
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.support import GATEWAY, cpu_seconds, demo_store, free_port

_PROJECT = Path(__file__).resolve().parent.parent
_SOURCES = ("datastore", "edge", "resolvers", "schema", "web", "bench", "gateway.py", "cli.py")
_POLL_SECONDS = 0.01
_START_SECONDS = 120
# The settings demo_store turns off for throughput benches: start-up is measured as served.
_NOT_AS_SERVED = ("TSP_THROTTLE", "TSP_SWEEP_INTERVAL_SECONDS")


@dataclass(frozen=True)
class Start:
    wall_seconds: float
    cpu_seconds: float


def first_answer(command: list[str], env: dict[str, str], port: int) -> Start:
    """Runs ``command`` until it answers ``{ __typename }`` on ``port`` with 200."""
    url = f"http://127.0.0.1:{port}/graphql"
    started = time.perf_counter()
    process = subprocess.Popen(
        [*command, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with httpx.Client(timeout=10) as client:
            while time.perf_counter() - started < _START_SECONDS:
                try:
                    answer = client.post(url, json={"query": "{ __typename }"})
                except httpx.TransportError:
                    answer = None
                if answer is not None and answer.status_code == 200:
                    wall = time.perf_counter() - started
                    return Start(wall, cpu_seconds(process.pid))
                if process.poll() is not None:
                    raise RuntimeError(f"{command} exited with {process.returncode}")
                time.sleep(_POLL_SECONDS)
        raise RuntimeError(f"{command} did not answer within {_START_SECONDS} s")
    finally:
        process.terminate()
        process.wait(timeout=30)


def measure(env: dict[str, str], rounds: int) -> None:
    """Prints each round and the medians' ratios (gateway / hello)."""
    for source in _SOURCES:
        path = _PROJECT / source
        if path.is_dir():
            compileall.compile_dir(path, quiet=1)
        else:
            compileall.compile_file(path, quiet=1)
    served = {name: value for name, value in env.items() if name not in _NOT_AS_SERVED}
    commands = {
        "gateway": [*GATEWAY, "serve"],
        "hello": [sys.executable, "-m", "uvicorn", "bench.hello_app:app", "--no-access-log"],
    }
    starts: dict[str, list[Start]] = {name: [] for name in commands}
    print(f"start-up to the first answer: {rounds} rounds (wall s, server CPU s)")
    for number in range(rounds):
        order = list(commands) if number % 2 == 0 else list(reversed(commands))
        for name in order:
            starts[name].append(first_answer(commands[name], served, free_port()))
        gateway, hello = starts["gateway"][-1], starts["hello"][-1]
        print(
            f"  round {number + 1}: gateway {gateway.wall_seconds:5.2f} s"
            f" ({gateway.cpu_seconds:4.2f} CPU)   hello {hello.wall_seconds:5.2f} s"
            f" ({hello.cpu_seconds:4.2f} CPU)   load average {os.getloadavg()[0]:.2f}",
            flush=True,
        )
    wall = {name: statistics.median(s.wall_seconds for s in runs) for name, runs in starts.items()}
    cpu = {name: statistics.median(s.cpu_seconds for s in runs) for name, runs in starts.items()}
    print(
        f"medians: gateway {wall['gateway']:.2f} s ({cpu['gateway']:.2f} CPU),"
        f" hello {wall['hello']:.2f} s ({cpu['hello']:.2f} CPU)"
    )
    print(
        f"start-up gateway / Strawberry hello: {wall['gateway'] / wall['hello']:.2f} wall,"
        f" {cpu['gateway'] / cpu['hello']:.2f} CPU  (target <= 2.0)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        measure(demo_store(folder).env, arguments.rounds)
