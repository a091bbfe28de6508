"""The gateway as deployed: a real ``tsp-gateway serve`` on 127.0.0.1 with real sockets,
keep-alive pools, several workers and their shared metrics."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.servers import Gateway, read_response, running_gateway, stop

LIMITS = {
    "TSP_MAX_BODY_BYTES": "1000",
    "TSP_BODY_TIMEOUT_SECONDS": "0.5",
    "TSP_MAX_IN_FLIGHT": "400",
}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(tmp_path_factory.mktemp("served"), env=LIMITS) as served:
        yield served


def raw_exchange(gateway: Gateway, request: bytes) -> bytes:
    """Sends ``request`` as is and reads until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=30) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def test_a_half_sent_body_is_cut_off_with_408(gateway: Gateway) -> None:
    # Content-Length promises 100 bytes; 9 arrive, then nothing.
    answer = raw_exchange(
        gateway,
        b"POST /graphql HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
        b'Content-Length: 100\r\n\r\n{"query":',
    )
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b'"code":"BODY_TIMEOUT"' in answer


def test_a_declared_oversized_body_is_refused_before_it_is_sent(gateway: Gateway) -> None:
    # Only the headers are sent: the answer comes without waiting for the 5 MB.
    answer = raw_exchange(
        gateway,
        b"POST /graphql HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
        b"Content-Length: 5000000\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b'"code":"PAYLOAD_TOO_LARGE"' in answer
    assert b"connection: close" in answer.lower()


def test_an_idle_pooled_connection_outlives_uvicorns_default_keep_alive(
    gateway: Gateway,
) -> None:
    # uvicorn closes connections idle for 5 s unless told otherwise; a client pool that keeps
    # them longer (browsers, most HTTP libraries) then sends its next request into a closing
    # socket. The gateway keeps them for TSP_KEEPALIVE_TIMEOUT_SECONDS (75 s by default).
    request = b"GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n"
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=30) as sock:
        sock.sendall(request)
        assert read_response(sock).startswith(b"HTTP/1.1 200 ")
        time.sleep(6)
        sock.sendall(request)
        assert read_response(sock).startswith(b"HTTP/1.1 200 ")


async def test_pooled_keep_alive_connections_are_not_dropped(tmp_path: Path) -> None:
    # Default settings, but for the connections one address may hold: the 200 callers here
    # all connect from 127.0.0.1.
    with running_gateway(tmp_path, env={"TSP_MAX_CONNECTIONS_PER_CLIENT": "256"}) as served:
        results, opened = await _burst(served)
    failures = [result for result in results if result != 200]
    assert failures == []
    # The pool really held many connections open at once, all still open.
    assert 1 < opened[("tsp_http_connections_open", ())] <= 201


async def _burst(
    gateway: Gateway,
) -> tuple[list[int | str], dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    """1,000 requests from a client pool of 200 keep-alive connections: 200 callers sending 5
    each (to ``/readyz``, which asks the store: what is measured is the connections)."""
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=gateway.url, limits=limits, timeout=120) as client:

        async def one() -> int | str:
            try:
                response = await client.get("/readyz")
            except httpx.HTTPError as error:
                return repr(error)
            return response.status_code

        async def caller() -> list[int | str]:
            return [await one() for _ in range(5)]

        batches = await asyncio.gather(*(caller() for _ in range(200)))
        results = [result for batch in batches for result in batch]
        opened = _samples((await client.get("/metrics")).text)
    return list(results), opened


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_serve_with_two_workers_shares_metrics_and_cleans_up(tmp_path: Path) -> None:
    with running_gateway(tmp_path, "--workers", "2") as served:
        metrics_dirs = list(tmp_path.glob("tsp-metrics-*"))
        with httpx.Client(base_url=served.url, timeout=60) as client:
            for _ in range(20):
                # A fresh connection each time, so both workers take requests.
                response = client.post(
                    "/graphql",
                    json={"query": "query WorkersProbe { __typename }"},
                    headers={"Connection": "close"},
                )
                assert response.json()["data"] == {"__typename": "Query"}
            scraped = client.get("/metrics").text
        pids = {path.stem.rsplit("_", 1)[-1] for path in metrics_dirs[0].glob("*.db")}
        assert stop(served) == 0
    assert len(metrics_dirs) == 1
    assert len(pids) == 2  # each worker writes its own samples
    # One scrape, answered by one worker, counts what both served.
    key = ("tsp_graphql_operations_total", (("operation", "WorkersProbe"), ("outcome", "ok")))
    assert _samples(scraped)[key] == 20
    assert not metrics_dirs[0].exists()
