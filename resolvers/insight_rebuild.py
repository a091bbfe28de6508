"""``tsp-gateway insights rebuild``: every insight counter recomputed from the record.

History keeps every status change for good (the event log is pruned after its retention, so
history is the complete record of what events said), and link-page opens are kept as
documents: replaying both in time order through :func:`insight_figures.change_of` gives the
counters that were counted live, which a test checks on a store built through the API.

The counters are computed in memory, then replace the stored ones in one transaction that
also reads everything it replays: on SQLite no change commits in between; on MongoDB a change
counted meanwhile writes a counter this transaction writes too, so one of them runs again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from datastore import collections as c
from datastore.store import Collection, DocumentStore
from resolvers import insight_figures as f

_PAGE = 1_000
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

    def documents(self) -> list[dict[str, Any]]:
        """The counters with each day's ``base`` carried from the scope's previous day."""
        gauges: dict[str, int] = {}
        ordered = sorted(self.counters.items(), key=lambda kv: (kv[1]["scope"], kv[1]["day"]))
        for _, counter in ordered:
            counter["base"] = gauges.get(counter["scope"], 0)
            gauges[counter["scope"]] = f.day_end_gauge(counter)
        return [{"_id": key, **counter} for key, counter in ordered]


async def rebuild(store: DocumentStore) -> Rebuilt:
    """Replace every insight counter with one recomputed from history and link opens."""

    async def work() -> Rebuilt:
        tally = _Tally(store)
        entries = await _replay_history(store, tally)
        opens = await _replay_link_opens(store, tally)
        documents = tally.documents()
        await store.delete_many(c.INSIGHT_COUNTERS, {})
        for document in documents:
            await store.insert(c.INSIGHT_COUNTERS, document)
        return Rebuilt(entries, opens, len(documents))

    return await store.transaction(work)


async def _replay_history(store: DocumentStore, tally: _Tally) -> int:
    replayed = 0
    after: list[Any] | None = None
    while True:
        page = await store.find(c.HISTORY, sort=[("createdAt", 1)], limit=_PAGE, after=after)
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


async def _replay_link_opens(store: DocumentStore, tally: _Tally) -> int:
    replayed = 0
    after: list[Any] | None = None
    while True:
        page = await store.find(c.OFFER_LINK_OPENS, sort=[("at", 1)], limit=_PAGE, after=after)
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
