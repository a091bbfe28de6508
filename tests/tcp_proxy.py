"""A real TCP proxy on 127.0.0.1 that a test can cut or stall: the store behind it becomes
unreachable mid-run, as when a network or a server goes away, or stops answering while its
connections stay open, as a partitioned primary does (no driver is patched)."""

from __future__ import annotations

import asyncio
import contextlib


class TcpProxy:
    """A real TCP proxy on 127.0.0.1 that can cut every connection at once, or stall them."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.stalled = False
        self.server: asyncio.Server | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.writers: set[asyncio.StreamWriter] = set()

    @property
    def address(self) -> str:
        """``host:port`` to connect to instead of the real server."""
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"127.0.0.1:{port}"

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(self.host, self.port)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, upstream_writer}
        for source, sink in ((reader, upstream_writer), (upstream_reader, writer)):
            task = asyncio.create_task(self._pump(source, sink))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await source.read(65536):
                if self.stalled:
                    continue  # swallowed: neither side hears from the other again
                sink.write(data)
                await sink.drain()
        sink.close()

    def stall(self) -> None:
        """From now on pass nothing either way, on open connections and new ones alike, while
        keeping them open: the server is there and never answers."""
        self.stalled = True

    async def cut(self) -> None:
        """Stop accepting and drop every open connection: the server is now unreachable."""
        if self.server is not None:
            self.server.close()
        for writer in list(self.writers):
            writer.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
