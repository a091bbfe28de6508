"""Stopping a served gateway: SIGTERM ends the process even while clients hold event streams
open (an orchestrator's grace period is bounded; a stream never ends by itself)."""

from __future__ import annotations

import signal
import subprocess
from datetime import timedelta
from pathlib import Path

import httpx

from resolvers.identity import Role, issue_token
from tests.live import PATIENCE
from tests.servers import SECRET, running_gateway


def test_sigterm_stops_the_gateway_though_an_event_stream_is_open(tmp_path: Path) -> None:
    # A short request timeout: the grace a request gets before the streams are cut.
    with running_gateway(tmp_path, env={"TSP_REQUEST_TIMEOUT_SECONDS": "1"}) as gateway:
        bearer = issue_token(SECRET, Role.ADMIN, "admin", timedelta(hours=1))
        headers = {"Authorization": f"Bearer {bearer}", "Accept": "text/event-stream"}
        subscription = {"query": "subscription { events { cursor } }"}
        with (
            httpx.Client(base_url=gateway.url, timeout=PATIENCE) as http,
            http.stream("POST", "/graphql", json=subscription, headers=headers) as stream,
        ):
            assert stream.status_code == 200
            gateway.process.send_signal(signal.SIGTERM)
            try:
                # Bounded, generously: the stream is cut a second after the signal.
                code = gateway.process.wait(timeout=PATIENCE)
            except subprocess.TimeoutExpired:
                raise AssertionError("the gateway still runs while the stream is open") from None
    # uvicorn raises the signal it caught again once it has shut down: killed by SIGTERM, after
    # a clean stop (the lifespan's last line).
    assert code in (0, -signal.SIGTERM)
    assert "gateway stopped" in gateway.output()
