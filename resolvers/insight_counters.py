"""Insight counters, moved in the transaction of the change they count.

:func:`count` is called with the history entries a transaction records (by
``resolvers.history.record_many``, next to the events the entries mean), so every change
that writes an event or a history entry counts, and one that rolls back counts nothing: a
retried or idempotent mutation replays its first result without recording again, and of racing
accepts only the committed one counts. A transaction's counting increments every counter
document it touches in one round trip, without reading them (``store.increment_many``: the
document is created on a day's first change), whatever the number of scopes.

On MongoDB two transactions counting into the same document both write it, so one runs again
(they already serialise on the event log's position counter); on SQLite writers are
serialised anyway.

A new day's document starts from the gauge where the scope's previous document left it
(``base``, read and added once the increment says it created the document): "active at the
end of a bucket" then reads the few documents of the range plus one before it. That assumes
changes are counted in time order, which holds while transactions that count also take event
positions in commit order (``resolvers.events``); a clock stepping back across a day boundary
could leave a stale ``base``, which ``tsp-gateway insights rebuild`` puts right.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from datastore import collections as c
from datastore.store import DESCENDING, Collection, DocumentStore
from resolvers import insight_figures as f
from resolvers.held import Held, read_missing

_SUBJECTS: dict[str, Collection[Mapping[str, Any]]] = {
    "ofr": c.SERVICE_OFFERS,
    "aut": c.AUTHORIZATIONS,
    "req": c.REQUESTS,
}


async def count(
    store: DocumentStore,
    entries: Sequence[Mapping[str, Any]],
    subjects: Held | None = None,
) -> None:
    """Count history ``entries`` just recorded (inside their transaction), those that mean a
    figure: their subjects read together (but for those in ``subjects``, read already by this
    transaction), every counter document read and written once."""
    subjects = {} if subjects is None else subjects
    ids: dict[Collection[Mapping[str, Any]], list[str]] = {}
    counted = []
    for entry in entries:
        subject_id = str(entry["subjectId"])
        collection = _SUBJECTS.get(subject_id.partition("_")[0])
        if collection is not None:
            counted.append(entry)
            ids.setdefault(collection, []).append(subject_id)
    for collection, wanted in ids.items():
        await read_missing(store, collection, wanted, subjects)
    changes = [
        change
        for entry in counted
        if (subject := subjects.get(str(entry["subjectId"]))) is not None
        and (change := f.change_of(entry, subject)) is not None
    ]
    await add_many(store, changes, subjects)


async def add(store: DocumentStore, change: f.Change) -> None:
    """Add ``change`` to every scope it counts in (joins the caller's transaction)."""
    await add_many(store, [change])


async def add_many(
    store: DocumentStore,
    changes: Sequence[f.Change],
    held: Held | None = None,
) -> None:
    """Add ``changes`` to every scope each counts in, in one transaction (the caller's, if
    it runs one): one increment of every counter document they touch, without reading them;
    on a day's first change, the new documents' ``base`` is read and added after. ``held``:
    documents the transaction has read already, by id (partners and services among them are
    not read again)."""
    if not changes:
        return

    async def work() -> None:
        named: dict[str, dict[str, None]] = {}
        for change in changes:
            named.setdefault(change.partner_id, {}).update(dict.fromkeys(change.service_ids))
        dimensions = {
            partner_id: await dimensions_of(store, partner_id, list(service_ids), held)
            for partner_id, service_ids in named.items()
        }
        # A counter document adds what every change counted in its scope adds; documents
        # counted by the same changes (an accept's partner and most platform scopes) share
        # one sum of them.
        added: list[dict[str, int]] = []
        counted_by: dict[str, list[int]] = {}
        keys: dict[str, tuple[str, str]] = {}
        for index, change in enumerate(changes):
            day, slot = f.slot_of(change.at)
            added.append(f.amounts_of(change, slot))
            for scope in f.scopes_of(change, dimensions[change.partner_id]):
                counter_id = f.counter_id(scope, day)
                keys[counter_id] = (scope, day)
                counted_by.setdefault(counter_id, []).append(index)
        sums: dict[tuple[int, ...], dict[str, int]] = {}
        amounts: dict[str, dict[str, int]] = {}
        for counter_id, indices in counted_by.items():
            total = sums.get(key := tuple(indices))
            if total is None:
                total = sums[key] = {}
                for index in indices:
                    f.add_amounts(total, added[index])
            amounts[counter_id] = total
        created = await store.increment_many(
            c.INSIGHT_COUNTERS,
            amounts,
            on_insert={
                i: {"scope": scope, "day": day, "base": 0} for i, (scope, day) in keys.items()
            },
        )
        if created:
            await _carry_gauges(store, sorted(keys[i] for i in created))

    await store.transaction(work)


async def _carry_gauges(store: DocumentStore, new: Sequence[tuple[str, str]]) -> None:
    """Start each new day's document from the gauge where its scope's previous document left
    it: one read of those documents per day (in day order, so a day created in this same
    transaction is carried on from), one increment of the bases that are not 0."""
    days: dict[str, list[str]] = {}
    for scope, day in new:
        days.setdefault(day, []).append(scope)
    for day, scopes in sorted(days.items()):
        previous = await store.find_grouped(
            c.INSIGHT_COUNTERS,
            "scope",
            scopes,
            {"day": {"$lt": day}},
            sort=[("day", DESCENDING)],
            limit_per_group=1,
        )
        bases = {
            f.counter_id(scope, day): {"base": gauge}
            for scope, found in previous.items()
            if found and (gauge := f.day_end_gauge(found[0]))
        }
        if bases:
            await store.increment_many(c.INSIGHT_COUNTERS, bases)


async def dimensions_of(
    store: DocumentStore,
    partner_id: str,
    service_ids: list[str] | Any,
    held: Held | None = None,
) -> f.Dimensions:
    """The partner's type and each service's market and category (platform scopes); those in
    ``held`` (by id) are not read again."""
    held = {} if held is None else held
    await read_missing(store, c.PARTNERS, [partner_id], held)
    await read_missing(store, c.SERVICES, service_ids, held)
    partner = held.get(partner_id)
    services = {i: held[i] for i in service_ids if i in held}
    return f.Dimensions(
        partner_type=partner["type"] if partner else "",
        services={i: (s["market"], s["categoryId"]) for i, s in services.items()},
    )
