"""Readiness: whether the store can commit a write now, answered within a second.

``DocumentStore.ping`` writes and reads a row, so a locked or full store is not ready. Two
things keep ``/readyz`` quick whatever the store does: a timeout of its own (SQLite's busy
timeout is 5 s, MongoDB's server selection as long), and one ping in flight at a time, which
concurrent probes share, so a burst of probes is not a queue of writes behind one another.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from datastore.store import DocumentStore, StoreError, StoreUnavailableError
from schema.extensions import RETRY_AFTER_SECONDS, STORE_UNAVAILABLE

logger = logging.getLogger("tsp.gateway")

READY_TIMEOUT_SECONDS = 0.8
"""How long a probe waits for the store: a store that cannot commit a write in that time is
not ready."""


class _NotInTime(StoreUnavailableError):
    """The probe's own timeout: its message is the gateway's, fit for any client."""


_CANNOT_COMMIT = "the store refused a write; the gateway's log says why"


class Readiness:
    """Probes ``store`` for ``/readyz``."""

    def __init__(self, store: DocumentStore) -> None:
        self.store = store
        self._ping: asyncio.Task[None] | None = None

    async def problem(self) -> StoreError | None:
        """Why the store is not ready (``None`` when it is)."""
        if self._ping is None or self._ping.done():
            self._ping = asyncio.get_running_loop().create_task(self.store.ping())
            # A ping no probe waited out still has its failure looked at (no warning).
            self._ping.add_done_callback(_retrieve)
        try:
            await asyncio.wait_for(asyncio.shield(self._ping), READY_TIMEOUT_SECONDS)
        except StoreError as error:
            return error
        except TimeoutError:
            return _NotInTime(f"the store did not commit a write within {READY_TIMEOUT_SECONDS} s")
        return None

    async def close(self) -> None:
        if self._ping is not None:
            self._ping.cancel()
            await asyncio.gather(self._ping, return_exceptions=True)


def _retrieve(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()


async def _healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def _readyz(request: Request) -> Response:
    """Ready when the store can commit a write now (``request.app.state.readiness``)."""
    error = await request.app.state.readiness.problem()
    if error is not None:
        logger.warning("not ready: %s", error)
        # The driver's words (a full disk, a refused login) are the log's, as for any client.
        reason = str(error) if isinstance(error, _NotInTime) else _CANNOT_COMMIT
        return JSONResponse(
            {"status": "unavailable", "code": STORE_UNAVAILABLE, "reason": reason},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    return JSONResponse({"status": "ready"})


def health_routes() -> list[Route]:
    """``/healthz`` (the process answers) and ``/readyz`` (its store can commit a write)."""
    return [Route("/healthz", _healthz), Route("/readyz", _readyz)]


async def store_unavailable_page(request: Request, error: Exception) -> Response:
    """Any page (a referral redirect, say) that needed the store while it was unavailable:
    503 with ``Retry-After``, never a 500."""
    logger.warning("store unavailable: %s", error)
    return Response(
        "The service is temporarily unavailable; retry shortly.\n",
        status_code=503,
        media_type="text/plain",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
