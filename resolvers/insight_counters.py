"""Insight counters, moved in the transaction of the change they count.

:func:`count` is called with the history entries a transaction records (by
``resolvers.history.record_many``, next to the events the entries mean), so every change
that writes an event or a history entry counts, and one that rolls back counts nothing: a
retried or idempotent mutation replays its first result without recording again, and of racing
accepts only the committed one counts. A transaction's counting reads the counter documents it
touches once and writes them in one round trip (two on a day's first change), whatever the
number of scopes.

Each counter document is read and written back under its version, so on MongoDB two
transactions counting into the same document conflict and one runs again (they already
serialise on the event log's position counter); on SQLite writers are serialised anyway.

A new day's document starts from the gauge where the scope's previous document left it
(``base``): "active at the end of a bucket" then reads the few documents of the range plus
one before it. That assumes changes are counted in time order, which holds while
transactions that count also take event positions in commit order (``resolvers.events``); a
clock stepping back across a day boundary could leave a stale ``base``, which
``tsp-gateway insights rebuild`` puts right.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from datastore import collections as c
from datastore.store import DESCENDING, Collection, DocumentStore
from resolvers import insight_figures as f

_SUBJECTS: dict[str, Collection[Mapping[str, Any]]] = {
    "ofr": c.SERVICE_OFFERS,
    "aut": c.AUTHORIZATIONS,
    "req": c.REQUESTS,
}


async def count(store: DocumentStore, entries: Sequence[Mapping[str, Any]]) -> None:
    """Count history ``entries`` just recorded (inside their transaction), those that mean a
    figure: their subjects read together, every counter document read and written once."""
    ids: dict[Collection[Mapping[str, Any]], list[str]] = {}
    for entry in entries:
        subject_id = str(entry["subjectId"])
        collection = _SUBJECTS.get(subject_id.partition("_")[0])
        if collection is not None:
            ids.setdefault(collection, []).append(subject_id)
    if not ids:
        return
    subjects: dict[str, Mapping[str, Any]] = {}
    for collection, wanted in ids.items():
        subjects.update(await store.get_many(collection, wanted))
    changes = [
        change
        for entry in entries
        if (subject := subjects.get(str(entry["subjectId"]))) is not None
        and (change := f.change_of(entry, subject)) is not None
    ]
    await add_many(store, changes)


async def add(store: DocumentStore, change: f.Change) -> None:
    """Add ``change`` to every scope it counts in (joins the caller's transaction)."""
    await add_many(store, [change])


async def add_many(store: DocumentStore, changes: Sequence[f.Change]) -> None:
    """Add ``changes`` to every scope each counts in, in one transaction (the caller's, if
    it runs one): one read of the counter documents they touch, each written once."""
    if not changes:
        return

    async def work() -> None:
        dimensions = {
            change.partner_id: await dimensions_of(store, change.partner_id, change.service_ids)
            for change in changes
        }
        placed = []
        for change in changes:
            day, slot = f.slot_of(change.at)
            scopes = f.scopes_of(change, dimensions[change.partner_id])
            placed.append((change, slot, [(scope, day) for scope in scopes]))
        keys = list(dict.fromkeys(key for _, _, touched in placed for key in touched))
        found = await store.get_many(c.INSIGHT_COUNTERS, [f.counter_id(*key) for key in keys])
        documents: dict[tuple[str, str], dict[str, Any]] = {}
        for key in keys:
            document = found.get(f.counter_id(*key))
            documents[key] = {
                "counts": {k: list(v) for k, v in document["counts"].items()} if document else {},
                "acceptance": (
                    {k: dict(v) for k, v in document["acceptance"].items()} if document else {}
                ),
            }
        for change, slot, touched in placed:
            for key in touched:
                f.add_to(documents[key]["counts"], documents[key]["acceptance"], change, slot)
        new: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        for (scope, day), maps in documents.items():
            counter_id = f.counter_id(scope, day)
            document = found.get(counter_id)
            if document is None:
                base = await _gauge_before(store, scope, day)
                new.append({"_id": counter_id, "scope": scope, "day": day, "base": base, **maps})
            else:
                changed.append({**document, **maps})
        # Two round trips at most, however many scopes: a day's first change inserts.
        if new:
            await store.insert_many(c.INSIGHT_COUNTERS, new)
        if changed:
            await store.replace_many(c.INSIGHT_COUNTERS, changed)

    await store.transaction(work)


async def dimensions_of(
    store: DocumentStore, partner_id: str, service_ids: list[str] | Any
) -> f.Dimensions:
    """The partner's type and each service's market and category (platform scopes)."""
    partner = (await store.get_many(c.PARTNERS, [partner_id])).get(partner_id)
    services = await store.get_many(c.SERVICES, list(service_ids)) if service_ids else {}
    return f.Dimensions(
        partner_type=partner["type"] if partner else "",
        services={i: (s["market"], s["categoryId"]) for i, s in services.items()},
    )


async def _gauge_before(store: DocumentStore, scope: str, day: str) -> int:
    previous = await store.find(
        c.INSIGHT_COUNTERS,
        {"scope": scope, "day": {"$lt": day}},
        sort=[("day", DESCENDING)],
        limit=1,
    )
    return f.day_end_gauge(previous[0]) if previous else 0
