"""Writes a request must not wait for: tried briefly on its path, then again in the background.

A seller following a referral link is sent on to onboarding; the click the visit records is a
count a partner reads later. While the store cannot take writes (another process holds SQLite's
write lock, the disk is full, MongoDB has no primary), waiting for it held the seller up to the
store's busy timeout and then failed the visit. Such a write is given :attr:`wait_seconds` on
the request's path; one the store has not taken by then is handed to a background task that
tries it again, backing off, for up to :attr:`give_up_seconds`, and logs it once if it is lost.
A process keeps at most :attr:`max_pending` of them (a store down for long must not grow memory
without end); the rest are lost, counted and logged.

A deferred write must be idempotent: it may have committed when its first try was cut off, so
it is tried again with the same document (a duplicate key then means it was written).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Awaitable, Callable

from prometheus_client import Counter

from datastore.store import CommitUnknownError, StoreUnavailableError

logger = logging.getLogger("tsp.deferred_writes")

DEFERRED = Counter(
    "tsp_deferred_writes",
    "Writes a request did not wait for (the store could not take them at once), by what was "
    "written and outcome: deferred (handed to the background), written later, or lost.",
    ["write", "outcome"],
)

Attempt = Callable[[], Awaitable[object]]
# What the store raises when it could not take a write now; a commit it could not confirm is
# tried again too (the write is idempotent).
_NOT_TAKEN = (StoreUnavailableError, CommitUnknownError)


class DeferredWrites:
    """One per app, owned by its lifespan (:meth:`close` ends the background tries)."""

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
        self._pending: dict[asyncio.Task[None], str] = {}  # each with what it writes

    @property
    def pending(self) -> int:
        """Writes waiting in the background for the store."""
        return len(self._pending)

    async def write(self, what: str, attempt: Attempt) -> bool:
        """Run ``attempt`` (``what`` it writes names it in logs and metrics); ``True`` when it
        was written now, ``False`` when the store could not take it in time and it was handed
        to the background. Any other error is raised, as from the write itself."""
        try:
            await asyncio.wait_for(attempt(), self.wait_seconds)
            return True
        except (*_NOT_TAKEN, TimeoutError):
            self._defer(what, attempt)
            return False

    async def close(self) -> None:
        """Stop the background tries; what they had not written is logged as lost."""
        pending, self._pending = self._pending, {}
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        lost = collections.Counter(what for task, what in pending.items() if task.cancelled())
        for what, count in lost.items():
            DEFERRED.labels(write=what, outcome="lost").inc(count)
            logger.warning(
                "%s lost (%d): the process stopped before the store took it", what, count
            )

    def _defer(self, what: str, attempt: Attempt) -> None:
        if len(self._pending) >= self.max_pending:
            DEFERRED.labels(write=what, outcome="lost").inc()
            logger.warning(
                "%s lost: the store cannot take writes and %d are already waiting for it",
                what,
                len(self._pending),
            )
            return
        DEFERRED.labels(write=what, outcome="deferred").inc()
        task = asyncio.get_running_loop().create_task(self._retry(what, attempt))
        self._pending[task] = what
        task.add_done_callback(lambda done: self._pending.pop(done, None))

    async def _retry(self, what: str, attempt: Attempt) -> None:
        deadline = time.monotonic() + self.give_up_seconds
        pause = self.first_retry_seconds
        error: Exception | None = None
        try:
            while time.monotonic() + pause < deadline:
                await asyncio.sleep(pause)
                try:
                    await attempt()
                except _NOT_TAKEN as unavailable:
                    error = unavailable
                    pause = min(pause * 2, self.longest_retry_seconds)
                    continue
                DEFERRED.labels(write=what, outcome="written").inc()
                return
        except Exception as unexpected:  # logged once here: nothing else awaits this task
            error = unexpected
        DEFERRED.labels(write=what, outcome="lost").inc()
        logger.warning("%s lost: %s", what, error or "the store did not take it in time")
