"""A real ``tsp-gateway serve`` process on 127.0.0.1 for tests that need real sockets."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

SECRET = "server-secret-" + "q" * 40
# Inherited variables that would change what the server under test does.
_SCRUBBED = ("PROMETHEUS_MULTIPROC_DIR", "OTEL_", "TSP_", "HOST", "PORT")


def gateway_command(
    command: str, log: Path, env: dict[str, str], *args: str
) -> subprocess.Popen[bytes]:
    """``tsp-gateway <command> <args>`` in a process of its own with the environment ``env``
    (beside this one's, less what would change the gateway), its output in ``log``."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED)}
    with log.open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-c", _MAIN, command, *args],
            env={**environment, **env},
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


_MAIN = "import sys; from cli import main; sys.exit(main())"


def read_response(sock: socket.socket) -> bytes:
    """One response with a Content-Length body off a kept-alive connection (b"" if closed)."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        if not chunk:
            return received
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Gateway:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def running_gateway(
    workdir: Path, *args: str, env: dict[str, str] | None = None, http: str | None = None
) -> Iterator[Gateway]:
    """Serves the gateway with a fresh SQLite store in ``workdir`` until the block ends: with
    ``tsp-gateway serve``, or with uvicorn's own command line and the HTTP protocol class
    ``http`` (``module:Class``) when given."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED)}
    environment.update(
        {
            "TSP_JWT_SECRET": SECRET,
            "TSP_DATABASE_URL": f"sqlite:///{workdir / 'gateway.sqlite3'}",
            "TSP_SWEEP_INTERVAL_SECONDS": "0",
            # Generous timeouts (tests/conftest.py's PATIENT): a busy machine is slow, not wrong.
            "TSP_REQUEST_TIMEOUT_SECONDS": "300",
            "TSP_HEADER_TIMEOUT_SECONDS": "300",
            "TSP_BODY_TIMEOUT_SECONDS": "300",
            "TMPDIR": str(workdir),
            **(env or {}),
        }
    )
    serve = ["-c", _MAIN, "serve"]
    if http is not None:
        serve = ["-m", "uvicorn", "--factory", "gateway:app_from_env", "--http", http]
    # The port is chosen here and bound by the child: another process (a parallel test, another
    # run) may take it in between, so a child that could not bind is started again elsewhere.
    for _ in range(5):  # bounded
        port = free_port()
        log = workdir / f"gateway-{port}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [sys.executable, *serve, "--port", str(port), *args],
                env=environment,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        gateway = Gateway(f"http://127.0.0.1:{port}", port, process, log)
        if _became_healthy(gateway):
            break
        stop(gateway)
        if _ADDRESS_IN_USE not in gateway.output():
            raise AssertionError(f"gateway exited early:\n{gateway.output()}")
    else:
        raise AssertionError(f"gateway found no free port:\n{gateway.output()}")
    try:
        yield gateway
    finally:
        stop(gateway)


_ADDRESS_IN_USE = "address already in use"


def stop(gateway: Gateway) -> int:
    """Stops the server as an orchestrator would (SIGTERM), killing it if it hangs."""
    if gateway.process.poll() is None:
        gateway.process.send_signal(signal.SIGTERM)
        try:
            gateway.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            gateway.process.kill()
            gateway.process.wait()
    return gateway.process.returncode


def _became_healthy(gateway: Gateway) -> bool:
    """Whether the gateway answers /healthz (``False`` if it exited first)."""
    # Bounded by time, generously: a busy machine can take long to import and start it.
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if gateway.process.poll() is not None:
            return False
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{gateway.url}/healthz", timeout=30).status_code == 200:
                return True
        time.sleep(0.05)
    raise AssertionError(f"gateway did not become healthy:\n{gateway.output()}")
