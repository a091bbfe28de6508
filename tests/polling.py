"""Bounded waits for what a test expects to happen in the background: the condition is polled,
and the test fails after a generous while (a loaded machine is slow, never wrong; the bound
only matters when the test fails anyway)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable

PATIENCE = 120.0
"""Seconds a test waits for something that should happen."""


async def until(
    condition: Callable[[], bool | Awaitable[bool]], what: str = "the condition"
) -> None:
    """Returns once ``condition()`` holds (awaited if it is a coroutine, such as a store read);
    fails the test after :data:`PATIENCE` seconds."""
    deadline = time.monotonic() + PATIENCE
    for polls in itertools.count():
        holds = condition()
        if holds if isinstance(holds, bool) else await holds:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not hold within {PATIENCE:.0f} s ({polls} polls)")
        await asyncio.sleep(0.001)  # fine-grained: tests act on the moment it holds
