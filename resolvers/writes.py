"""Writing several documents: all or nothing, retried when a document changed underneath; and
holding the documents a rule was checked against."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from datastore.store import Collection, D, DocumentStore, VersionConflictError

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


async def hold(store: DocumentStore, collection: Collection[D], document_id: str) -> D | None:
    """The document as this transaction sees it, written back (its version moves on) so that
    the check made on it holds: any concurrent transaction that writes it too conflicts with
    this one, and one of them runs again on fresh data (the rule in ``datastore.store``).
    ``None`` when it does not exist. Read and written in one round trip (an increment of
    nothing but the version). Call it inside :func:`atomically`'s ``work``."""
    return await store.increment(collection, document_id, {})
