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
from starlette.types import ASGIApp
from websockets.asyncio.client import ClientConnection, connect

from datastore.store import DocumentStore
from edge.gateway_settings import Settings
from gateway import create_app
from tests.polling import until


@contextlib.asynccontextmanager
async def uvicorn_serving(
    app: ASGIApp, *, force_exit: bool = False, **options: Any
) -> AsyncIterator[int]:
    """Serves ``app`` with uvicorn in this event loop on a free port of 127.0.0.1 (``options``
    go to ``uvicorn.Config``) until the block ends; yields the port. The socket is bound here
    and handed to uvicorn, so no other process can take the port in between (tests run in
    parallel, and beside other runs)."""
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    port: int = listening.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, **options)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[listening]))
    try:
        for _ in range(12_000):  # bounded (two minutes at least): a busy machine starts slowly
            if server.started:
                break
            if task.done():
                task.result()
                raise AssertionError("uvicorn stopped before it started")
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("uvicorn did not start")
        yield port
    finally:
        server.should_exit = True
        server.force_exit = force_exit
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 60)
        listening.close()


PATIENCE = 60.0
"""How long a client waits for a message that should come (a generous bound: a loaded machine
is slow, and the bound only matters when the test fails anyway)."""

_SERVED: dict[str, Starlette] = {}
"""The app each ``served`` block serves, by its URL (for :func:`subscribed`)."""


@contextlib.asynccontextmanager
async def served(store: DocumentStore, settings: Settings) -> AsyncIterator[str]:
    """``http://127.0.0.1:<port>`` serving the app on ``store`` until the block ends."""
    app = create_app(settings, store=store)
    # Open connections are closed after timeout_graceful_shutdown; then the lifespan shuts the
    # app down.
    async with uvicorn_serving(
        app, access_log=False, lifespan="on", timeout_graceful_shutdown=2
    ) as port:
        url = f"http://127.0.0.1:{port}"
        _SERVED[url] = app
        try:
            yield url
        finally:
            del _SERVED[url]


def app_of(base_url: str) -> Starlette:
    """The app a ``served`` block serves at ``base_url``."""
    return _SERVED[base_url]


async def subscribed(base_url: str, count: int = 1) -> None:
    """Returns once ``count`` live-feed subscriptions have joined the event hub of the app
    served at ``base_url``: a change made after this reaches them (a change made before a
    subscription joins is not its to receive)."""
    hub = _SERVED[base_url].state.event_hub
    await until(lambda: len(hub.subscribers) >= count, f"{count} subscription(s) joining")


class WSClient:
    """One graphql-transport-ws connection."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self._ids = 0

    async def send(self, message: Any) -> None:
        await self.connection.send(message if isinstance(message, str) else json.dumps(message))

    async def receive(self, wait: float = PATIENCE) -> dict[str, Any]:
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

    async def next_data(self, wait: float = PATIENCE) -> dict[str, Any]:
        """The data of the next ``next`` message (fails on anything else)."""
        message = await self.receive(wait)
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        data: dict[str, Any] = message["payload"]["data"]
        return data

    async def closed(self, wait: float = PATIENCE) -> tuple[int | None, str]:
        """Wait for the server to close; its close code and reason."""
        with contextlib.suppress(Exception):
            while True:
                await asyncio.wait_for(self.connection.recv(), wait)
        await asyncio.wait_for(self.connection.wait_closed(), wait)
        return self.connection.close_code, self.connection.close_reason or ""


@contextlib.asynccontextmanager
async def ws_client(
    base_url: str,
    token: str | None,
    *,
    headers: list[tuple[str, str]] | None = None,
    payload: dict[str, Any] | None = None,
) -> AsyncIterator[WSClient]:
    """A connection that sent ``connection_init`` with ``token`` (and got its ack when the
    token is good; otherwise the caller reads the close); ``headers`` go with the upgrade
    request, and ``payload``, when given, is sent in ``connection_init`` instead."""
    url = base_url.replace("http", "ws", 1) + "/graphql"
    async with connect(
        url,
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        additional_headers=headers,
    ) as connection:
        client = WSClient(connection)
        if payload is None:
            payload = {"Authorization": f"Bearer {token}"} if token else {}
        await client.send({"type": "connection_init", "payload": payload})
        yield client
