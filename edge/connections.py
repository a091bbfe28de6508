"""uvicorn's HTTP protocol, counting open client connections in the metrics."""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.auto import AutoHTTPProtocol

from edge.metrics import OPEN_CONNECTIONS


class CountedHTTPProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
    """The protocol uvicorn would pick itself, plus the open-connections gauge."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        OPEN_CONNECTIONS.inc()
        super().connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        OPEN_CONNECTIONS.dec()
        super().connection_lost(exc)
