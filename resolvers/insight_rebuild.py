"""``tsp-gateway insights rebuild``: every insight counter recomputed from the record.

History keeps every status change for good (the event log is pruned after its retention, so
history is the complete record of what events said), and link-page opens are kept as
documents: replaying both in time order through :func:`insight_figures.change_of` gives the
counters that were counted live, which a test checks on a store built through the API.

A rebuild runs beside a serving gateway without holding the store for long. A change is
counted in its own UTC day's counters, at the time its transaction started, so only the
latest days can still be written to: every day before yesterday is *settled*. Settled days are
replayed one at a time, read outside any transaction (their record no longer changes), and
their counters replaced in transactions of at most ``store.transaction_batch`` documents: each
document goes from its old figures to its new ones at once, though a reader may meet a day
half replaced while the rebuild runs. Settled counters that the record no longer produces are
deleted after (each document a rebuild writes carries its ``rebuild`` mark). Yesterday and
today are replayed and replaced in one last transaction that also reads what it replays: on
SQLite no change commits in between; on MongoDB it writes the open days' counters first, so a
change counted meanwhile writes a counter this transaction has written and runs again after
it. Only that transaction grows with the record, by two days of it.

A day's ``base`` is where its scope's previous document left the gauge, carried in memory from
day to day in time order.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from datastore import collections as c
from datastore.codec import utc_now
from datastore.store import Collection, DocumentStore
from resolvers import insight_figures as f
from resolvers.offer_dates import day_after, day_start

_PAGE = 1_000
_OPEN_DAYS = timedelta(days=1)
"""How far back a change may still be counted: a transaction counts at the time it started, and
none runs for long (MongoDB's are bounded by ``TSP_TRANSACTION_SECONDS``), so a day is settled
once the next one is over."""
_SUBJECTS: dict[str, Collection[Mapping[str, Any]]] = {
    "ofr": c.SERVICE_OFFERS,
    "aut": c.AUTHORIZATIONS,
    "req": c.REQUESTS,
}


@dataclass(frozen=True)
class Rebuilt:
    """What a rebuild replayed and wrote."""

    history_entries: int
    link_opens: int
    counters: int


class _Tally:
    """Counter documents being rebuilt, with the partners and services they need."""

    def __init__(self, store: DocumentStore) -> None:
        self.store = store
        self.counters: dict[str, dict[str, Any]] = {}
        self.partner_types: dict[str, str] = {}
        self.services: dict[str, tuple[str, str]] = {}

    async def add(self, changes: Sequence[f.Change]) -> None:
        await self._learn(changes)
        for change in changes:
            day, slot = f.slot_of(change.at)
            dimensions = f.Dimensions(
                self.partner_types.get(change.partner_id, ""),
                {s: self.services[s] for s in change.service_ids if s in self.services},
            )
            amounts = f.amounts_of(change, slot)
            for scope in f.scopes_of(change, dimensions):
                counter = self.counters.setdefault(
                    f.counter_id(scope, day), {"scope": scope, "day": day, "base": 0}
                )
                f.apply_amounts(counter, amounts)

    async def _learn(self, changes: Sequence[f.Change]) -> None:
        partners = list({ch.partner_id for ch in changes} - self.partner_types.keys())
        for key, partner in (await self.store.get_many(c.PARTNERS, partners)).items():
            self.partner_types[key] = partner["type"]
        services = list(f.services_named(changes) - self.services.keys())
        for key, service in (await self.store.get_many(c.SERVICES, services)).items():
            self.services[key] = (service["market"], service["categoryId"])

    def documents(self, gauges: dict[str, int], mark: str) -> list[dict[str, Any]]:
        """The counters tallied so far, emptied: each day's ``base`` carried from the scope's
        previous day (``gauges``: where each scope's earlier documents left it, moved on)."""
        ordered = sorted(self.counters.items(), key=lambda kv: (kv[1]["scope"], kv[1]["day"]))
        self.counters = {}
        for _, counter in ordered:
            counter["base"] = gauges.get(counter["scope"], 0)
            gauges[counter["scope"]] = f.day_end_gauge(counter)
        return [{"_id": key, **counter, "rebuild": mark} for key, counter in ordered]


async def rebuild(store: DocumentStore, *, now: datetime | None = None) -> Rebuilt:
    """Replace every insight counter with one recomputed from history and link opens (``now``:
    what today is, for tests)."""
    open_from = ((now or utc_now()) - _OPEN_DAYS).date()
    cut = day_start(open_from)
    mark = secrets.token_hex(8)
    gauges: dict[str, int] = {}
    tally = _Tally(store)
    entries = opens = written = 0
    day = await _next_day(store, None, cut)
    while day is not None:
        entries += await _replay_history(store, tally, day_start(day), day_after(day))
        opens += await _replay_link_opens(store, tally, day_start(day), day_after(day))
        written += await _replace(store, tally.documents(gauges, mark))
        day = await _next_day(store, day_after(day), cut)
    await _delete_unmarked(store, open_from, mark)
    open_ids = await _ids_from(store, open_from)

    async def last_days() -> Rebuilt:
        # The open days' counters are written first: on MongoDB a change counted meanwhile
        # then meets this transaction's write and runs again after it, instead of making this
        # one run again (under steady traffic it might never finish).
        await store.delete_many(c.INSIGHT_COUNTERS, {"_id": {"$in": open_ids}})
        last = _Tally(store)
        replayed = await _replay_history(store, last, cut, None)
        opened = await _replay_link_opens(store, last, cut, None)
        documents = last.documents(dict(gauges), mark)
        # Counters created since they were listed.
        known = set(open_ids)
        since = [d["_id"] for d in documents if d["_id"] not in known]
        await store.delete_many(c.INSIGHT_COUNTERS, {"_id": {"$in": since}})
        await store.insert_many(c.INSIGHT_COUNTERS, documents)
        return Rebuilt(entries + replayed, opens + opened, written + len(documents))

    return await store.transaction(last_days)


async def _next_day(store: DocumentStore, since: datetime | None, before: datetime) -> date | None:
    """The first day from ``since`` (from the first, when ``None``) and before ``before`` that
    the record holds an entry or a link open of."""
    window = _window(since, before)
    first: list[datetime] = []
    entry = await store.find(c.HISTORY, {"createdAt": window}, sort=[("createdAt", 1)], limit=1)
    first += [e["createdAt"] for e in entry]
    opened = await store.find(c.OFFER_LINK_OPENS, {"at": window}, sort=[("at", 1)], limit=1)
    first += [o["at"] for o in opened]
    return min(first).date() if first else None


async def _replace(store: DocumentStore, documents: Sequence[Mapping[str, Any]]) -> int:
    """Replace counter documents whole, a transaction of at most the batch at a time."""
    size = max(1, store.transaction_batch // 2)  # each document is deleted, then inserted
    for start in range(0, len(documents), size):
        chunk = documents[start : start + size]

        async def work(chunk: Sequence[Mapping[str, Any]] = chunk) -> None:
            ids = [d["_id"] for d in chunk]
            await store.delete_many(c.INSIGHT_COUNTERS, {"_id": {"$in": ids}})
            await store.insert_many(c.INSIGHT_COUNTERS, chunk)

        await store.transaction(work)
    return len(documents)


async def _delete_unmarked(store: DocumentStore, before: date, mark: str) -> None:
    """Delete the settled counters (days before ``before``) this rebuild did not write: one
    pass in id order (no index has ``day`` first), a batch at a time."""
    wanted = {"day": {"$lt": before.isoformat()}, "rebuild": {"$ne": mark}}
    after: list[Any] | None = None
    while True:
        page = await store.find(
            c.INSIGHT_COUNTERS,
            wanted,
            sort=[("_id", 1)],
            limit=store.transaction_batch,
            after=after,
        )
        if not page:
            return
        await store.delete_many(c.INSIGHT_COUNTERS, {"_id": {"$in": [d["_id"] for d in page]}})
        after = [page[-1]["_id"]]


async def _ids_from(store: DocumentStore, since: date) -> list[str]:
    """The ids of the counters of ``since`` and later days."""
    ids: list[str] = []
    after: list[Any] | None = None
    while True:
        page = await store.find(
            c.INSIGHT_COUNTERS,
            {"day": {"$gte": since.isoformat()}},
            sort=[("_id", 1)],
            limit=_PAGE,
            after=after,
        )
        ids += [d["_id"] for d in page]
        if len(page) < _PAGE:
            return ids
        after = [page[-1]["_id"]]


async def _replay_history(
    store: DocumentStore, tally: _Tally, since: datetime, until: datetime | None
) -> int:
    replayed = 0
    after: list[Any] | None = None
    window = _window(since, until)
    while True:
        page = await store.find(
            c.HISTORY, {"createdAt": window}, sort=[("createdAt", 1)], limit=_PAGE, after=after
        )
        subjects: dict[str, Mapping[str, Any]] = {}
        for prefix, collection in _SUBJECTS.items():
            ids = list({e["subjectId"] for e in page if e["subjectId"].startswith(prefix + "_")})
            subjects.update(await store.get_many(collection, ids) if ids else {})
        changes = [
            change
            for entry in page
            if entry["subjectId"] in subjects
            and (change := f.change_of(entry, subjects[entry["subjectId"]])) is not None
        ]
        await tally.add(changes)
        replayed += len(page)
        if len(page) < _PAGE:
            return replayed
        after = [page[-1]["createdAt"], page[-1]["_id"]]


async def _replay_link_opens(
    store: DocumentStore, tally: _Tally, since: datetime, until: datetime | None
) -> int:
    replayed = 0
    after: list[Any] | None = None
    window = _window(since, until)
    while True:
        page = await store.find(
            c.OFFER_LINK_OPENS, {"at": window}, sort=[("at", 1)], limit=_PAGE, after=after
        )
        offers = await store.get_many(c.SERVICE_OFFERS, list({o["offerId"] for o in page}))
        await tally.add(
            [
                f.link_open(o["at"], o["partnerId"], offers[o["offerId"]]["serviceIds"])
                for o in page
                if o["offerId"] in offers
            ]
        )
        replayed += len(page)
        if len(page) < _PAGE:
            return replayed
        after = [page[-1]["at"], page[-1]["_id"]]


def _window(since: datetime | None, until: datetime | None) -> dict[str, datetime]:
    """The filter on an instant from ``since`` (included) to ``until`` (excluded), either open."""
    bounds = {"$gte": since, "$lt": until}
    return {operator: at for operator, at in bounds.items() if at is not None}
