"""One lane, off the event loop, for parsing and validating large documents no cache answers.

Within the limits, a fresh document of ~1000 field selections takes 10-40 ms of CPU to parse
and validate (more on a busy machine); on the event loop, every other request of the process
waits that long, so a few callers sending ever new large documents set everyone's latency
(``bench/abuse.py``: duplicated fields, deep fragments). The lane runs that work in one worker
thread instead: the loop keeps serving while it works, taking the GIL back within
:data:`SWITCH_INTERVAL_SECONDS` whenever it has something to do.

On its own, the GIL would split the CPU evenly between the lane and the loop for as long as
the lane works. So the work pauses for the loop every ~0.5 ms (:func:`pause_for_the_loop`,
called by the parser and by a validation rule of no errors of its own, :class:`LoopFirst`):
it waits until the loop has run every callback that was ready, then goes on. A request the
loop is serving meanwhile runs nearly as fast as with the lane idle.

The lane is bounded, so a caller cannot queue work faster than it is done: each caller has at
most one document in it (a second is refused ``VALIDATION_IN_PROGRESS``), and it holds at most
:attr:`ValidationLane.max_pending` documents (then ``VALIDATION_QUEUE_FULL``). Both refusals
carry ``Retry-After`` and, like every refused document, spend from the caller's bucket.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from graphql import ASTValidationRule, DocumentNode, GraphQLError, ValidationContext

from edge.engine import parse_with_token_hook
from edge.errors import gateway_error
from edge.metrics import count_refusal

T = TypeVar("T")

SWITCH_INTERVAL_SECONDS = 0.0005
"""How long the lane's thread may hold the GIL while the event loop waits for it (CPython's
default, 5 ms, is as long as a whole small request takes here)."""

RETRY_AFTER_SECONDS = 1

TOKENS_PER_PAUSE = 64
NODES_PER_PAUSE = 64
"""How often the work pauses for the loop: each is about half a millisecond of parsing or
validating here."""
LONGEST_PAUSE_SECONDS = 0.05
"""A pause ends after this long even if the loop has not come round (busy with a long step),
so the lane's work always ends."""

_worker = threading.local()


class LaneRefusal(Exception):
    """The lane does not take the document now; :attr:`error` says why, with a code."""

    def __init__(self, error: GraphQLError) -> None:
        super().__init__(error.message)
        self.error = error


class ValidationLane:
    """One worker thread parsing and validating documents, at most one per caller and
    ``max_pending`` in all (running or waiting)."""

    def __init__(self, max_pending: int = 16) -> None:
        self.max_pending = max_pending
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tsp-validation")
        # Callers with a document in the lane. A document leaves when its work ends, not when
        # its request gives up waiting: a caller abandoning requests cannot pile work up.
        self._callers: set[str] = set()
        self._lock = threading.Lock()
        if sys.getswitchinterval() > SWITCH_INTERVAL_SECONDS:
            sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)

    @property
    def pending(self) -> int:
        """Documents in the lane, running or waiting."""
        with self._lock:
            return len(self._callers)

    async def run(self, caller: str, work: Callable[[], T]) -> T:
        """``work()`` in the lane for ``caller``; :class:`LaneRefusal` when the caller already
        has a document in it or it is full."""
        with self._lock:
            if caller in self._callers:
                raise LaneRefusal(_busy())
            if len(self._callers) >= self.max_pending:
                raise LaneRefusal(_full(self.max_pending))
            self._callers.add(caller)
        loop = asyncio.get_running_loop()

        def paced() -> T:
            _worker.loop = loop
            try:
                return work()
            finally:
                _worker.loop = None

        try:
            future = self._executor.submit(paced)
        except BaseException:
            self._leave(caller)
            raise
        future.add_done_callback(lambda _: self._leave(caller))
        return await _awaited(future)

    def close(self) -> None:
        """Drop the documents waiting; the one running finishes in its thread."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _leave(self, caller: str) -> None:
        with self._lock:
            self._callers.discard(caller)


def pause_for_the_loop() -> None:
    """In the lane: wait (at most :data:`LONGEST_PAUSE_SECONDS`) until the event loop has run
    the callbacks ready now, so that the requests it serves go before the lane's work.
    Elsewhere: nothing."""
    loop: asyncio.AbstractEventLoop | None = getattr(_worker, "loop", None)
    if loop is None:
        return
    turn = threading.Event()
    try:
        loop.call_soon_threadsafe(turn.set)
    except RuntimeError:  # the loop is closed: nobody to wait for
        return
    turn.wait(LONGEST_PAUSE_SECONDS)


class LoopFirst(ASTValidationRule):
    """Not a rule of the specification: it pauses validation in the lane for the event loop
    every :data:`NODES_PER_PAUSE` nodes, and reports nothing."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        self.nodes = 0

    def enter(self, *_: object) -> None:
        self.nodes += 1
        if self.nodes % NODES_PER_PAUSE == 0:
            pause_for_the_loop()


class _TokenPauses:
    """Pauses for the event loop every :data:`TOKENS_PER_PAUSE` tokens parsed."""

    def __init__(self) -> None:
        self.tokens = 0

    def __call__(self) -> None:
        self.tokens += 1
        if self.tokens % TOKENS_PER_PAUSE == 0:
            pause_for_the_loop()


def parse_loop_first(source: str, **options: Any) -> DocumentNode:
    """``graphql.parse`` (the same document or error), pausing for the event loop."""
    return parse_with_token_hook(source, _TokenPauses(), **options)


async def _awaited(future: Future[T]) -> T:
    # wrap_future cancels a document still waiting when its request is cancelled.
    return await asyncio.wrap_future(future)


def _busy() -> GraphQLError:
    count_refusal("VALIDATION_IN_PROGRESS")
    return gateway_error(
        "This caller already has a document being parsed or validated; send the next one "
        f"when that one is answered. Retry in {RETRY_AFTER_SECONDS} s.",
        "VALIDATION_IN_PROGRESS",
        retryAfterSeconds=RETRY_AFTER_SECONDS,
    )


def _full(maximum: int) -> GraphQLError:
    count_refusal("VALIDATION_QUEUE_FULL")
    return gateway_error(
        f"The gateway is validating {maximum} large documents already; retry in "
        f"{RETRY_AFTER_SECONDS} s.",
        "VALIDATION_QUEUE_FULL",
        maximum=maximum,
        retryAfterSeconds=RETRY_AFTER_SECONDS,
    )
