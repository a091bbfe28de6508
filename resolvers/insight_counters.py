"""Insight counters, moved in the transaction of the change they count.

:func:`count` is called once per recorded history entry (by ``resolvers.history.record``,
next to the event the entry means), so every change that writes an event or a history entry
counts, and one that rolls back counts nothing: a retried or idempotent mutation replays its
first result without recording again, and of racing accepts only the committed one counts.

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

from collections.abc import Mapping
from typing import Any

from datastore import collections as c
from datastore.store import DESCENDING, Collection, DocumentStore
from resolvers import insight_figures as f

_SUBJECTS: dict[str, Collection[Mapping[str, Any]]] = {
    "ofr": c.SERVICE_OFFERS,
    "aut": c.AUTHORIZATIONS,
    "req": c.REQUESTS,
}


async def count(store: DocumentStore, entry: Mapping[str, Any]) -> None:
    """Count a history ``entry`` just recorded (inside its transaction), if it means a figure."""
    subject_id = str(entry["subjectId"])
    collection = _SUBJECTS.get(subject_id.partition("_")[0])
    if collection is None:
        return
    subject = (await store.get_many(collection, [subject_id])).get(subject_id)
    change = f.change_of(entry, subject) if subject is not None else None
    if change is not None:
        await add(store, change)


async def add(store: DocumentStore, change: f.Change) -> None:
    """Add ``change`` to every scope it counts in (joins the caller's transaction)."""

    async def work() -> None:
        dimensions = await dimensions_of(store, change.partner_id, change.service_ids)
        day, slot = f.slot_of(change.at)
        scopes = f.scopes_of(change, dimensions)
        ids = [f.counter_id(scope, day) for scope in scopes]
        found = await store.get_many(c.INSIGHT_COUNTERS, ids)
        for scope, counter_id in zip(scopes, ids, strict=True):
            document = found.get(counter_id)
            counts = {k: list(v) for k, v in document["counts"].items()} if document else {}
            acceptance = {k: dict(v) for k, v in document["acceptance"].items()} if document else {}
            f.add_to(counts, acceptance, change, slot)
            if document is None:
                base = await _gauge_before(store, scope, day)
                await store.insert(
                    c.INSIGHT_COUNTERS,
                    {
                        "_id": counter_id,
                        "scope": scope,
                        "day": day,
                        "base": base,
                        "counts": counts,
                        "acceptance": acceptance,
                    },
                )
            else:
                await store.update(
                    c.INSIGHT_COUNTERS,
                    counter_id,
                    expected_version=document["version"],
                    changes={"counts": counts, "acceptance": acceptance},
                )

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
