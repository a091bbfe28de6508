"""Writing several documents: all or nothing, retried when a document changed underneath (the
documents a rule was checked against are held with ``store.hold``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from datastore.store import DocumentStore, VersionConflictError
from resolvers.insight_figures import NEW_SCOPES_PER_SERVICE, SHARED_SCOPES

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


def items_per_transaction(store: DocumentStore, writes_per_item: int = 3) -> int:
    """How many items of one partner a transaction of a long job may change when each writes
    ``writes_per_item`` documents (by default itself, its history entry and its event): with
    the insight counters their changes move (at most :data:`NEW_SCOPES_PER_SERVICE` more per
    item, and :data:`SHARED_SCOPES` for all) and the event counter, moved once, at most
    ``store.transaction_batch`` documents written in all.

    A counter document is written twice when the transaction creates it (a day's first
    change: incremented without being read, then started from the previous day's gauge; see
    ``resolvers.insight_counters``), and the first batch after midnight creates them all, so
    each counts twice here."""
    fixed = 1 + 2 * SHARED_SCOPES
    per_item = writes_per_item + 2 * NEW_SCOPES_PER_SERVICE
    return max(1, (store.transaction_batch - fixed) // per_item)
