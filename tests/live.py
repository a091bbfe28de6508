"""Live feeds in tests: the app served by uvicorn on 127.0.0.1 in the test's own event loop (so
it shares the test store), and a small graphql-transport-ws client on real sockets."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from websockets.asyncio.client import ClientConnection, connect

from datastore.store import DocumentStore
from gateway import Settings, create_app


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


_SERVED: dict[str, Starlette] = {}
"""The app each ``served`` block serves, by its URL (for :func:`subscribed`)."""


@contextlib.asynccontextmanager
async def served(store: DocumentStore, settings: Settings) -> AsyncIterator[str]:
    """``http://127.0.0.1:<port>`` serving the app on ``store`` until the block ends."""
    port = _free_port()
    app = create_app(settings, store=store)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        # Open connections are closed after this; then the lifespan shuts the app down.
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(500):  # bounded: a server that never starts fails the test
        if server.started:
            break
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    url = f"http://127.0.0.1:{port}"
    _SERVED[url] = app
    try:
        yield url
    finally:
        del _SERVED[url]
        server.should_exit = True
        await asyncio.wait_for(task, 15)


async def subscribed(base_url: str, count: int = 1) -> None:
    """Returns once ``count`` live-feed subscriptions have joined the event hub of the app
    served at ``base_url``: a change made after this reaches them (a change made before a
    subscription joins is not its to receive). Bounded: fails after 30 seconds."""
    hub = _SERVED[base_url].state.event_hub
    for _ in range(3000):
        if len(hub.subscribers) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{count} subscription(s) did not join the feed of {base_url}")


class WSClient:
    """One graphql-transport-ws connection."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self._ids = 0

    async def send(self, message: Any) -> None:
        await self.connection.send(message if isinstance(message, str) else json.dumps(message))

    async def receive(self, wait: float = 5.0) -> dict[str, Any]:
        """The next message that is not a ping (pings are answered)."""
        while True:
            raw = await asyncio.wait_for(self.connection.recv(), wait)
            message: dict[str, Any] = json.loads(raw)
            if message.get("type") == "ping":
                await self.send({"type": "pong"})
                continue
            return message

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        self._ids += 1
        operation = str(self._ids)
        payload = {"query": query, "variables": variables or {}}
        await self.send({"id": operation, "type": "subscribe", "payload": payload})
        return operation

    async def next_data(self, wait: float = 5.0) -> dict[str, Any]:
        """The data of the next ``next`` message (fails on anything else)."""
        message = await self.receive(wait)
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        data: dict[str, Any] = message["payload"]["data"]
        return data

    async def closed(self, wait: float = 5.0) -> tuple[int | None, str]:
        """Wait for the server to close; its close code and reason."""
        with contextlib.suppress(Exception):
            while True:
                await asyncio.wait_for(self.connection.recv(), wait)
        await asyncio.wait_for(self.connection.wait_closed(), wait)
        return self.connection.close_code, self.connection.close_reason or ""


@contextlib.asynccontextmanager
async def ws_client(base_url: str, token: str | None) -> AsyncIterator[WSClient]:
    """A connection that sent ``connection_init`` with ``token`` (and got its ack when the
    token is good; otherwise the caller reads the close)."""
    url = base_url.replace("http", "ws", 1) + "/graphql"
    async with connect(url, subprotocols=["graphql-transport-ws"]) as connection:  # type: ignore[list-item]
        client = WSClient(connection)
        payload = {"Authorization": f"Bearer {token}"} if token else {}
        await client.send({"type": "connection_init", "payload": payload})
        yield client
