"""Documents a transaction holds already, by id: the rules that run at its end (events,
insight counters) read only those it does not."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from datastore.store import Collection, DocumentStore

Held = dict[str, Mapping[str, Any]]


async def read_missing(
    store: DocumentStore,
    collection: Collection[Mapping[str, Any]],
    ids: Iterable[str],
    held: Held,
) -> None:
    """Add to ``held`` those of ``ids`` in ``collection`` it lacks, in one read (none when it
    has them all); ids with no document stay missing."""
    missing = [document_id for document_id in ids if document_id not in held]
    if missing:
        held.update(await store.get_many(collection, missing))
