"""Writing several documents: all or nothing, retried when a document changed underneath."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from datastore.store import DocumentStore, VersionConflictError

T = TypeVar("T")
_ATTEMPTS = 3


async def atomically(store: DocumentStore, work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work`` in a transaction; when a version-guarded update loses a race, run it again
    (``work`` re-reads what it changes, so the retry decides on fresh data)."""
    for attempt in range(_ATTEMPTS):
        try:
            return await store.transaction(work)
        except VersionConflictError:
            if attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")
