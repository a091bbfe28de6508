"""Writes a request must not wait for: tried briefly on its path, then again in the background.

A seller following a referral link is sent on to onboarding; the click the visit records is a
count a partner reads later. While the store cannot take writes (another process holds SQLite's
write lock, the disk is full, MongoDB has no primary), waiting for it held the seller up to the
store's busy timeout and then failed the visit. Such a write is given :attr:`wait_seconds` on
the request's path; one the store has not taken by then joins a queue that one background task
writes, oldest first, one at a time (so that, once the store is back, deferred writes do not
crowd the writers of requests), backing off while the store refuses. A first try still running
when the request stops waiting is not cancelled (its clean-up could hold the request: on
MongoDB, aborting a started transaction waits for a primary); it finishes in the background,
and is queued if it failed. A write still not taken
after :attr:`give_up_seconds` is lost; so is one beyond :attr:`max_pending` waiting (a store
down for long must not grow memory without end). What is lost is counted and logged.

A deferred write must be idempotent: it may have committed when its first try was cut off, so
it is tried again with the same document (a duplicate key then means it was written).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from prometheus_client import Counter

from datastore.store import STORE_TROUBLE

logger = logging.getLogger("tsp.deferred_writes")

DEFERRED = Counter(
    "tsp_deferred_writes",
    "Writes a request did not wait for (the store could not take them at once), by what was "
    "written and outcome: deferred (handed to the background), written later, or lost.",
    ["write", "outcome"],
)

Attempt = Callable[[], Awaitable[object]]


@dataclass(frozen=True)
class _Pending:
    what: str
    attempt: Attempt
    give_up_at: float


class DeferredWrites:
    """One per app, owned by its lifespan (:meth:`close` ends the background writing)."""

    def __init__(
        self,
        *,
        wait_seconds: float = 0.5,
        first_retry_seconds: float = 0.5,
        longest_retry_seconds: float = 10.0,
        give_up_seconds: float = 300.0,
        max_pending: int = 1_000,
    ) -> None:
        self.wait_seconds = wait_seconds
        self.first_retry_seconds = first_retry_seconds
        self.longest_retry_seconds = longest_retry_seconds
        self.give_up_seconds = give_up_seconds
        self.max_pending = max_pending
        self._queue: collections.deque[_Pending] = collections.deque()
        self._writer: asyncio.Task[None] | None = None
        # First tries still running when their request stopped waiting.
        self._first_tries: dict[asyncio.Future[object], str] = {}

    @property
    def pending(self) -> int:
        """Writes waiting in the background for the store."""
        return len(self._queue)

    async def write(self, what: str, attempt: Attempt) -> bool:
        """Run ``attempt`` (``what`` it writes names it in logs and metrics); ``True`` when it
        was written now, ``False`` when the store could not take it in time and it was handed
        to the background. Any other error is raised, as from the write itself."""
        first = asyncio.ensure_future(attempt())
        try:
            done, _ = await asyncio.wait({first}, timeout=self.wait_seconds)
        except asyncio.CancelledError:  # the request was: the write goes on all the same
            self._go_on(first, what, attempt)
            raise
        if not done:
            self._go_on(first, what, attempt)
            return False
        error = first.exception()
        if error is None:
            return True
        if isinstance(error, STORE_TROUBLE):
            # A commit the store could not confirm is tried again too: the write is idempotent.
            self._defer(what, attempt)
            return False
        raise error

    async def close(self) -> None:
        """Stop writing in the background; what was still waiting is logged as lost."""
        first_tries, self._first_tries = self._first_tries, {}
        for task in first_tries:
            task.cancel()
        await asyncio.gather(*first_tries, return_exceptions=True)
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        left = collections.Counter(pending.what for pending in self._queue)
        left.update(first_tries.values())
        self._queue.clear()
        for what, count in left.items():
            self._lost(what, count, "the process stopped before the store took it")

    def _go_on(self, first: asyncio.Future[object], what: str, attempt: Attempt) -> None:
        """Leave a first try running in the background. Not cancelled, which would wait for its
        clean-up (on MongoDB, aborting a started transaction waits for a primary); what it
        leaves unwritten is queued."""
        DEFERRED.labels(write=what, outcome="deferred").inc()
        self._first_tries[first] = what
        first.add_done_callback(lambda _: self._first_try_ended(first, attempt))

    def _first_try_ended(self, first: asyncio.Future[object], attempt: Attempt) -> None:
        what = self._first_tries.pop(first, None)
        if what is None or first.cancelled():
            return  # closing: counted as lost there
        error = first.exception()
        if error is None:
            DEFERRED.labels(write=what, outcome="written").inc()
        elif isinstance(error, STORE_TROUBLE):
            self._defer(what, attempt, counted=True)
        else:
            self._lost(what, 1, repr(error))

    def _defer(self, what: str, attempt: Attempt, *, counted: bool = False) -> None:
        if len(self._queue) >= self.max_pending:
            reason = f"the store cannot take writes and {len(self._queue)} are already waiting"
            self._lost(what, 1, reason)
            return
        if not counted:
            DEFERRED.labels(write=what, outcome="deferred").inc()
        self._queue.append(_Pending(what, attempt, time.monotonic() + self.give_up_seconds))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write_queued())

    async def _write_queued(self) -> None:
        pause = self.first_retry_seconds
        while self._queue:
            await asyncio.sleep(pause)
            pending = self._queue[0]
            if time.monotonic() >= pending.give_up_at:
                self._queue.popleft()
                self._lost(pending.what, 1, "the store did not take it in time")
                continue
            try:
                await pending.attempt()
            except STORE_TROUBLE:
                pause = min(pause * 2, self.longest_retry_seconds)  # the store is still away
                continue
            except Exception as unexpected:  # logged here: nothing else awaits this task
                self._queue.popleft()
                self._lost(pending.what, 1, repr(unexpected))
                continue
            self._queue.popleft()
            DEFERRED.labels(write=pending.what, outcome="written").inc()
            pause = 0.0  # the store is back: the rest go one after another

    def _lost(self, what: str, count: int, reason: str) -> None:
        DEFERRED.labels(write=what, outcome="lost").inc(count)
        logger.warning("%s lost (%d): %s", what, count, reason)
