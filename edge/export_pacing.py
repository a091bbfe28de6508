"""How the export worker inside ``serve`` gives the event loop to interactive requests.

That worker shares the event loop with the requests ``serve`` answers, and a page it reads
holds the loop for several milliseconds at a time between its store round trips (assembling a
hundred nodes with their nested ones): a request arriving meanwhile waits behind it
(bench/export.py measured the interactive p99 at 3.6x during an export, at concurrency 1).
So the worker runs at a lower priority than requests. Before each page it reads the number of
requests in flight (the admission middleware's own count, ``edge.transport``) and:

- while any are in flight it waits for them to end (looking again every
  :data:`LOOK_SECONDS`), for at most about :data:`MAX_WAIT_SECONDS`, so that a sustained load slows
  an export to a page now and then but never stops it;
- each page it had to wait for is half the size of the last (down to :data:`MIN_PAGE`), so a
  request that arrives while it reads one waits behind less; each page it did not wait for is
  twice the size (up to the full page), so an export alone runs at full speed.

A worker without requests to yield to (``tsp-gateway export-worker``) reads full pages.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette

from edge.transport import AdmissionMiddleware

MIN_PAGE = 10
LOOK_SECONDS = 0.002
MAX_WAIT_SECONDS = 0.25
_LOOKS = round(MAX_WAIT_SECONDS / LOOK_SECONDS)

InFlight = Callable[[], int]
"""How many interactive requests are being served right now."""


def no_requests() -> int:
    return 0


class Pacing:
    """The size of the worker's next page, after waiting its turn."""

    def __init__(self, in_flight: InFlight, full_page: int) -> None:
        self.in_flight = in_flight
        self.full_page = full_page
        self.page = full_page

    async def next_page(self) -> int:
        """Wait while requests are in flight (bounded), then the size of the page to read."""
        # Let callbacks already due run first (a request that just arrived gets counted).
        await asyncio.sleep(0)
        if not self.in_flight():
            self.page = min(self.full_page, self.page * 2)
            return self.page
        # Polled: the admission middleware counts, it signals nothing (and is not ours to change).
        for _ in range(_LOOKS):
            await asyncio.sleep(LOOK_SECONDS)
            if not self.in_flight():
                break
        self.page = max(MIN_PAGE, self.page // 2)
        return self.page


def requests_in_flight(app: Starlette) -> InFlight:
    """The count of ``app``'s admission middleware (read, never changed), less the operations
    on WebSockets it counts, found in its middleware stack once Starlette has built it (at its
    first call); none before, or when the app has no admission middleware."""
    found: list[AdmissionMiddleware] = []

    def count() -> int:
        if not found:
            layer: Any = app.middleware_stack
            while layer is not None and not isinstance(layer, AdmissionMiddleware):
                layer = getattr(layer, "app", None)
            if layer is None:
                return 0
            found.append(layer)
        # Operations on WebSockets are left out: a subscription mostly waits for events, and
        # an export paced down to its smallest pages for as long as any client stays
        # subscribed would crawl for good.
        return found[0].in_flight - found[0].websocket_operations

    return count
