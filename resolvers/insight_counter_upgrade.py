"""Insight counters written by the release before sparse quarter hours, converted once.

That release kept each figure of a counter document's day as a dense list of 96 quarter-hour
slots; this one keeps a sparse map (``counts.<figure>.q<slot>``, see
:func:`insight_figures.amounts_of`) so that counting increments paths without reading. An
increment cannot move a slot of a list (SQLite's ``json_set`` would skip it, MongoDB's
``$inc`` would fail the write), and a series cannot read one, so every process converts the
store's old documents when it prepares the store, before it serves or runs a job.

Once the whole collection has been seen in the sparse form, :data:`_DONE` is written to
``store_upgrades``: later starts read that one document and nothing else. Until then the
counters are read in ``_id`` order, a page at a time, and each page's old documents are
written back converted in the transaction that read them (at most ``transaction_batch``
documents, one row each), under their version: two processes starting together convert each
document once, the second's transaction conflicting and then reading it converted. Converting
a converted document changes nothing, so a start interrupted half-way is finished by the next.

Processes of the previous release must be stopped first: they rewrite a counter document from
what they read, and cannot read the sparse form.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Mapping
from typing import Any

from datastore import collections as c
from datastore.codec import utc_now
from datastore.documents import InsightCounterDocument
from datastore.store import DocumentStore, DuplicateKeyError, keyset_of
from resolvers.writes import atomically

_DONE = "insight-counters-sparse"
_ORDER = [("_id", 1)]


async def make_counters_sparse(store: DocumentStore) -> int:
    """Convert every counter document of the previous format; returns how many this call
    converted (0 once the store says it was done)."""
    if await store.get_many(c.STORE_UPGRADES, [_DONE]):
        return 0
    converted = 0
    after: list[Any] | None = None
    while True:
        page, written = await atomically(store, functools.partial(_convert_page, store, after))
        converted += written
        if len(page) < store.transaction_batch:
            break
        after = keyset_of(page[-1], _ORDER)
    with contextlib.suppress(DuplicateKeyError):  # another process finished too
        await store.insert(c.STORE_UPGRADES, {"_id": _DONE, "doneAt": utc_now()})
    return converted


async def _convert_page(
    store: DocumentStore, after: list[Any] | None
) -> tuple[list[InsightCounterDocument], int]:
    page = await store.find(
        c.INSIGHT_COUNTERS, sort=_ORDER, limit=store.transaction_batch, after=after
    )
    old = [document for document in page if _is_dense(document)]
    if old:
        await store.replace_many(c.INSIGHT_COUNTERS, [_sparse(document) for document in old])
    return page, len(old)


def _is_dense(document: Mapping[str, Any]) -> bool:
    return any(isinstance(slots, list) for slots in (document.get("counts") or {}).values())


def _sparse(document: Mapping[str, Any]) -> dict[str, Any]:
    """``document`` as counting it now would have left it: each dense figure the map of the
    quarter hours it moved in, and no empty map (a figure, or the histogram, never counted)."""
    counts: dict[str, Any] = {}
    for figure, slots in (document.get("counts") or {}).items():
        if not isinstance(slots, list):
            counts[figure] = slots
        elif moved := {f"q{slot}": amount for slot, amount in enumerate(slots) if amount}:
            counts[figure] = moved
    sparse = {k: v for k, v in document.items() if k not in ("counts", "acceptance")}
    if counts:
        sparse["counts"] = counts
    if document.get("acceptance"):
        sparse["acceptance"] = document["acceptance"]
    return sparse
