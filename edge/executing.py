"""How many GraphQL operations of HTTP requests execute at once; the others wait their turn.

An operation's work is CPU on the one event loop (the store's answers arrive in a moment), so
running every request in flight at once finishes none sooner: 32 requests sharing the loop
each take 32 times as long, and all of them hold what they have read until the last
finishes (the collector walks all of it). Run a few at a time, in arrival order, each
request takes its own time plus its wait, so the median answer is twice as quick and the
last no later. A few, not one, so that one operation's store round trip overlaps another's
work. Streams (SSE and WebSocket operations) live long and are not counted; the request
timeout bounds the wait."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class ExecutionGate:
    """At most ``limit`` operations inside :meth:`turn` at once, the rest waiting in order."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.executing = 0
        self.waiting = 0
        self._turns = asyncio.Semaphore(limit)  # wakes its waiters in arrival order

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        self.waiting += 1
        try:
            await self._turns.acquire()
        finally:
            self.waiting -= 1
        self.executing += 1
        try:
            yield
        finally:
            self.executing -= 1
            self._turns.release()
