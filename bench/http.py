"""Requests per second over real HTTP with a compiled load generator (wrk), as ratios in one run.

Run ``python -m bench.http [--seconds 10] [--connections 32]``. Installs ``wrk`` from Debian's
packages when it is missing and the bench runs as root (else it says how), seeds a SQLite store
with the demo data, and measures on 127.0.0.1, one after the other:

- a hello-world Strawberry + Starlette app (``bench/hello_app.py``) under uvicorn, answering
  ``{ __typename }``: the floor any Strawberry server pays;
- the gateway (``tsp-gateway serve``, one process) answering ``{ __typename }``,
  ``serviceCategories(first: 20)`` and the partner dashboard (offers, their services and
  authorizations, as the demo partner);
- the gateway with ``--workers 2`` answering ``serviceCategories(first: 20)``.

It prints each figure and the ratios **gateway / Strawberry hello** on the tiny query and
**2 workers / 1 worker**. Throttling is off (one caller sending thousands of requests measures
throughput, which a per-caller budget would stop by design). wrk shares the machine's cores
with the servers, so on a 2-core machine the figures are a floor and the workers ratio is
bounded by the cores left over.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import httpx

from bench.support import demo_store, free_port, serve_gateway, served

TINY = "{ __typename }"
CATEGORIES = "{ serviceCategories(first: 20) { nodes { id name } } }"
DASHBOARD = """{ viewer { partner { name serviceOffers(first: 10) { nodes { id status
  services { name } authorizations(first: 5) { nodes { id status endDate seller { name } } } } }
  } } }"""
_RATE = re.compile(r"Requests/sec:\s+([0-9.]+)")


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


def _wrk(
    wrk: str, url: str, query: str, token: str | None, seconds: int, connections: int
) -> float:
    body = json.dumps({"query": query})
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    lines = [
        'wrk.method = "POST"',
        f"wrk.body = {json.dumps(body)}",
        *(f'wrk.headers["{name}"] = "{value}"' for name, value in headers.items()),
    ]
    # Check once that the query answers without errors, so the rate is of real answers.
    answer = httpx.post(url, content=body, headers=headers, timeout=30).json()
    if answer.get("errors"):
        raise RuntimeError(f"{query!r} answered {answer['errors']}")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write("\n".join(lines) + "\n")
    try:
        run = subprocess.run(
            [wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "-s", script.name, url],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=True,
        )
    finally:
        os.unlink(script.name)
    match = _RATE.search(run.stdout)
    if not match:
        raise RuntimeError(f"no rate in wrk's output:\n{run.stdout}")
    if "Non-2xx" in run.stdout:
        raise RuntimeError(f"wrk saw errors:\n{run.stdout}")
    return float(match.group(1))


def main(seconds: int, connections: int) -> None:
    wrk = ensure_wrk()
    rates: dict[str, float] = {}

    def measure(label: str, url: str, query: str, bearer: str | None = None) -> None:
        rates[label] = _wrk(wrk, url, query, bearer, seconds, connections)
        print(f"  {label:40} {rates[label]:9.0f} requests/s", flush=True)

    with tempfile.TemporaryDirectory() as folder:
        demo = demo_store(folder)
        print(f"wrk, 2 threads, {connections} connections, {seconds} s each")
        port = free_port()
        hello = [sys.executable, "-m", "uvicorn", "bench.hello_app:app", "--port", str(port)]
        with served([*hello, "--log-level", "warning"], demo.env, port) as app:
            measure("Strawberry hello { __typename }", f"{app.url}/graphql", TINY)
        with serve_gateway(demo.env) as gateway:
            url = f"{gateway.url}/graphql"
            measure("gateway { __typename }", url, TINY)
            measure("gateway serviceCategories(first: 20)", url, CATEGORIES)
            measure("gateway partner dashboard", url, DASHBOARD, demo.token("partner"))
        with serve_gateway(demo.env, "--workers", "2") as gateway:
            measure("gateway --workers 2 serviceCategories", f"{gateway.url}/graphql", CATEGORIES)
    tiny = rates["gateway { __typename }"] / rates["Strawberry hello { __typename }"]
    workers = (
        rates["gateway --workers 2 serviceCategories"]
        / rates["gateway serviceCategories(first: 20)"]
    )
    print(f"gateway / Strawberry hello on {{ __typename }}: {tiny:.2f}  (target >= 1.0)")
    print(f"2 workers / 1 worker on serviceCategories:   {workers:.2f}  (target >= 1.6)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    arguments = parser.parse_args()
    main(arguments.seconds, arguments.connections)
