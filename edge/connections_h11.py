"""uvicorn's ``h11`` HTTP protocol with the bounds of :mod:`edge.connections` (the header
deadline and the connections per client address), for servers without ``httptools``:
``--http edge.connections_h11:GuardedH11Protocol``."""

from __future__ import annotations

import asyncio

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from edge.connections import ConnectionGuard, keep_place_through_upgrade, malformed_request


class GuardedH11Protocol(H11Protocol):
    """uvicorn's ``h11`` protocol with the guard: h11's state says whether the client is
    between requests (``IDLE``) and its buffer whether the next one has begun."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.guard = ConnectionGuard(transport, self.client, self._tell_client)
        if self.guard.admit():
            self.guard.expect_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.closed()
        super().connection_lost(exc)

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        # The WebSocket protocol owns the connection from here, and its place with it.
        keep_place_through_upgrade(self, self.guard)
        super().handle_websocket_upgrade(event)

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is not h11.IDLE:
            self.guard.headers_arrived()
        elif self.conn.trailing_data[0]:
            self.guard.expect_headers()

    def send_400_response(self, msg: str) -> None:
        self.transport.write(malformed_request(msg))
        self.transport.close()

    def _tell_client(self) -> bool:
        return (
            self.conn.their_state is h11.IDLE
            and bool(self.conn.trailing_data[0])
            and (self.cycle is None or self.cycle.response_complete)
        )
