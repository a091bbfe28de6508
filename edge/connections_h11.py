"""uvicorn's ``h11`` HTTP protocol with the bounds of :mod:`edge.connections` (the header
deadline and size, and the connections per client address), for servers without ``httptools``:
``--http edge.connections_h11:GuardedH11Protocol``."""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from edge.connections import (
    ConnectionGuard,
    ConnectionRules,
    RequestHead,
    head_of_bytes,
    keep_place_through_upgrade,
)


class _BoundedHeads(h11.Connection):
    """h11's connection, showing the guard each request head it reads: one over the bounds, or
    on a connection over its address's limit, is answered by the guard and reads as ``PAUSED``
    to uvicorn, which then reads no more of it (the request never reaches the app).

    h11 keeps a head's bytes until it is whole, and refuses a buffer longer than its
    ``max_incomplete_event_size`` (set to the bound): that refusal is the guard's 414 or 431."""

    guard: ConnectionGuard | None = None

    def next_event(self) -> Any:
        reading_head = self.their_state is h11.IDLE
        try:
            event = super().next_event()
        except h11.RemoteProtocolError as error:
            guard = self.guard if reading_head and error.error_status_hint == 431 else None
            if guard is not None and guard.head_grew(head_of_bytes(self.trailing_data[0])):
                return h11.PAUSED
            raise
        if isinstance(event, h11.Request) and self.guard is not None:
            fields = list(event.headers)  # names in lower case
            size = len(event.target) + sum(len(name) + len(value) + 4 for name, value in fields)
            head = RequestHead(event.method.decode("ascii"), event.target, fields, size)
            if self.guard.head_complete(head):
                return h11.PAUSED
        return event


class GuardedH11Protocol(H11Protocol):
    """uvicorn's ``h11`` protocol with the guard: h11's state says whether the client is
    between requests (``IDLE``) and its buffer whether the next one has begun."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Before any byte arrives: the bound is the gateway's setting, not uvicorn's option.
        self.conn = _BoundedHeads(
            h11.SERVER, max_incomplete_event_size=ConnectionRules.from_env().max_header_bytes
        )

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.guard = ConnectionGuard(transport, self.client, self._pending_head)
        assert isinstance(self.conn, _BoundedHeads)
        self.conn.guard = self.guard
        self.guard.opened()

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.closed()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self.guard.answered:
            super().data_received(data)

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        # The WebSocket protocol owns the connection from here, and its place with it.
        keep_place_through_upgrade(self, self.guard)
        super().handle_websocket_upgrade(event)

    def handle_events(self) -> None:
        if self.guard.answered:
            return
        super().handle_events()
        if self.guard.answered:
            return
        if self.conn.their_state is not h11.IDLE:
            self.guard.headers_arrived()
        elif self.conn.trailing_data[0]:
            self.guard.expect_headers()

    def send_400_response(self, msg: str) -> None:
        # h11 has consumed the lines of a head it could not read: what it held is unknown.
        self.guard.malformed(msg, None)

    def _pending_head(self) -> RequestHead | None:
        received = self.conn.trailing_data[0]
        if (
            self.conn.their_state is not h11.IDLE
            or not received
            or (self.cycle is not None and not self.cycle.response_complete)
        ):
            return None
        return head_of_bytes(received)
