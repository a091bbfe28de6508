"""The durable event log: a transactional outbox every live feed and webhook reads.

Each state change that matters to a partner or a seller appends one event document in the
transaction of the change, so a rolled-back change leaves no event and a committed one always
has its event. Events are derived in one place from the history entry every change already
records (:func:`from_history`, called by :func:`resolvers.history.record`): the subject's id
prefix and the history action name the event type; the subject, read in the same transaction,
gives the partner and seller the event belongs to.

Positions. Every event takes the next value of one counter document (``event_sequence/events``),
incremented (``store.increment``, a write of the document) inside the transaction of the change;
the events of one change take consecutive positions in one increment:

- On SQLite writers are serialised, so positions are committed in increasing order.
- On MongoDB two transactions that both append an event write the same counter document, so
  snapshot isolation makes one of them conflict and retry after the other committed: a position
  is never committed after a larger one, and a rolled-back transaction rolls its increment back.

So positions are dense and commit in order, on every adapter and across processes: a follower
that has seen every event up to position ``p`` only ever needs ``position > p`` to miss nothing.
The price is that event-writing transactions are serialised on the counter, which for a log of
partner/seller business events (a few per second at most) is cheap.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from datastore import collections as c
from datastore.codec import utc_now
from datastore.documents import EventDocument
from datastore.enums import AuthorizationStatus, HistoryReasonCode
from datastore.ids import new_id
from datastore.store import DESCENDING, Collection, DocumentStore, DuplicateKeyError
from resolvers.held import Held, read_missing

DEFAULT_RETENTION = timedelta(days=30)
EXPIRING_NOTICE = timedelta(days=15)
_SEQUENCE_ID = "events"
_NOTICES = c.EVENT_SEQUENCE  # "expiring" notices live beside the counter, keyed by their subject


class EventType(StrEnum):
    """What happened, as partners and sellers subscribe to it."""

    AUTHORIZATION_GRANTED = "AUTHORIZATION_GRANTED"
    AUTHORIZATION_RENEWED = "AUTHORIZATION_RENEWED"
    AUTHORIZATION_CANCELED = "AUTHORIZATION_CANCELED"
    AUTHORIZATION_COMPLETED = "AUTHORIZATION_COMPLETED"
    AUTHORIZATION_CLOSED = "AUTHORIZATION_CLOSED"
    AUTHORIZATION_EXPIRING = "AUTHORIZATION_EXPIRING"
    OFFER_ACCEPTED = "OFFER_ACCEPTED"
    OFFER_WITHDRAWN = "OFFER_WITHDRAWN"
    REQUEST_RECEIVED = "REQUEST_RECEIVED"
    REQUEST_ACCEPTED = "REQUEST_ACCEPTED"
    REQUEST_REJECTED = "REQUEST_REJECTED"
    REQUEST_CLOSED = "REQUEST_CLOSED"
    REQUEST_CONNECTED = "REQUEST_CONNECTED"
    SERVICE_REVIEWED = "SERVICE_REVIEWED"
    CATEGORY_APPLICATION_REVIEWED = "CATEGORY_APPLICATION_REVIEWED"
    BULK_EXPORT_FINISHED = "BULK_EXPORT_FINISHED"


SUBJECT_COLLECTIONS: dict[str, Collection[Mapping[str, Any]]] = {
    "aut": c.AUTHORIZATIONS,
    "ofr": c.SERVICE_OFFERS,
    "req": c.REQUESTS,
    "svc": c.SERVICES,
    "cap": c.CATEGORY_APPLICATIONS,
    "bex": c.BULK_EXPORTS,
}
"""Where the subject of an event lives, by its id prefix."""

_FROM_HISTORY: dict[tuple[str, str], EventType] = {
    ("aut", "AUTHORIZED"): EventType.AUTHORIZATION_GRANTED,
    ("aut", "RENEWED"): EventType.AUTHORIZATION_RENEWED,
    ("aut", "CANCELED"): EventType.AUTHORIZATION_CANCELED,
    ("aut", "EXPIRED"): EventType.AUTHORIZATION_COMPLETED,
    ("aut", "CLOSED"): EventType.AUTHORIZATION_CLOSED,
    ("ofr", "ACCEPTED"): EventType.OFFER_ACCEPTED,
    ("ofr", "WITHDRAWN"): EventType.OFFER_WITHDRAWN,
    ("req", "CREATED"): EventType.REQUEST_RECEIVED,
    ("req", "ACCEPTED"): EventType.REQUEST_ACCEPTED,
    ("req", "REJECTED"): EventType.REQUEST_REJECTED,
    ("req", "CLOSED"): EventType.REQUEST_CLOSED,
    ("req", "CONNECTED"): EventType.REQUEST_CONNECTED,
    ("svc", "APPROVED"): EventType.SERVICE_REVIEWED,
    ("svc", "REJECTED"): EventType.SERVICE_REVIEWED,
    ("cap", "APPROVED"): EventType.CATEGORY_APPLICATION_REVIEWED,
    ("cap", "REJECTED"): EventType.CATEGORY_APPLICATION_REVIEWED,
}
"""(subject id prefix, history action) -> the event it means; other changes make none."""


def event_type_of(subject_id: str, action: str) -> EventType | None:
    """The event a history action on ``subject_id`` means, if any."""
    return _FROM_HISTORY.get((subject_id.partition("_")[0], action))


async def from_history(
    store: DocumentStore,
    entries: Sequence[Mapping[str, Any]],
    subjects: Held | None = None,
) -> list[EventDocument]:
    """Append the events just-recorded history ``entries`` mean, in their order (inside their
    transaction): one read of the subjects per collection, one increment of the counter, one
    insert. ``subjects``: documents this transaction has read already, by id (those it reads
    are added, for the next rule that needs them)."""
    subjects = {} if subjects is None else subjects
    meant = [(entry, kind) for entry in entries if (kind := event_type_of(*_key(entry)))]
    wanted: dict[str, list[str]] = {}
    for entry, _ in meant:
        subject_id = entry["subjectId"]
        wanted.setdefault(subject_id.partition("_")[0], []).append(subject_id)
    for prefix, ids in wanted.items():
        await read_missing(store, SUBJECT_COLLECTIONS[prefix], ids, subjects)
    appended = [
        (kind, subjects[entry["subjectId"]], _changes_of(entry), entry.get("createdAt"))
        for entry, kind in meant
        if entry["subjectId"] in subjects
    ]
    return await _append_many(store, appended)


def _key(entry: Mapping[str, Any]) -> tuple[str, str]:
    return entry["subjectId"], entry["action"]


def _changes_of(entry: Mapping[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if entry.get("fromStatus") is not None or entry.get("toStatus") is not None:
        changes["status"] = {"from": entry.get("fromStatus"), "to": entry.get("toStatus")}
    changes.update(entry.get("changes") or {})
    if entry.get("reasonCode"):
        changes["reasonCode"] = entry["reasonCode"]
    if entry.get("reason"):
        changes["reason"] = entry["reason"]
    return changes


async def append(
    store: DocumentStore,
    kind: EventType,
    subject: Mapping[str, Any],
    changes: Mapping[str, Any],
    *,
    at: datetime | None = None,
) -> EventDocument:
    """Append one event about ``subject`` at the next position (joins the caller's
    transaction; see the module docstring for why positions commit in order)."""
    (event,) = await _append_many(store, [(kind, subject, changes, at)])
    return event


_Appended = tuple[EventType, Mapping[str, Any], Mapping[str, Any], datetime | None]


_REASON_CODES = frozenset(HistoryReasonCode)


def _why(kind: EventType, changes: Mapping[str, Any]) -> dict[str, Any]:
    """``changes`` as stored, once checked: an event that changes a status names a reason code
    (SPEC.md §7), so every subscriber and webhook is told why, as a code it can switch on."""
    if "status" in changes and changes.get("reasonCode") not in _REASON_CODES:
        raise ValueError(
            f"{kind.value} changes a status, so it must name a reason code (HistoryReasonCode), "
            f"not {changes.get('reasonCode')!r}"
        )
    return dict(changes)


async def _append_many(store: DocumentStore, appended: Sequence[_Appended]) -> list[EventDocument]:
    if not appended:
        return []

    async def work() -> list[EventDocument]:
        first = await _reserve(store, len(appended))
        return await store.insert_many(
            c.EVENTS,
            [
                {
                    "_id": new_id("evt"),
                    "position": first + offset,
                    "type": kind.value,
                    "subjectId": subject["_id"],
                    "partnerId": subject.get("partnerId"),
                    "sellerId": subject.get("sellerId") or subject.get("acceptedBySellerId"),
                    "changes": _why(kind, changes),
                    "createdAt": at or utc_now(),
                }
                for offset, (kind, subject, changes, at) in enumerate(appended)
            ],
        )

    return await store.transaction(work)


async def _reserve(store: DocumentStore, count: int) -> int:
    """The first of ``count`` positions taken from the counter (the rest follow it)."""
    moved = await store.increment(c.EVENT_SEQUENCE, _SEQUENCE_ID, {"position": count})
    if moved is None:
        await store.insert(c.EVENT_SEQUENCE, {"_id": _SEQUENCE_ID, "position": count})
        return 1
    return int(moved["position"]) - count + 1


async def ensure_sequence(store: DocumentStore) -> None:
    """Create the counter before anything appends (so racing first appends on MongoDB
    conflict on an update rather than on an insert)."""
    if not (await store.get_many(c.EVENT_SEQUENCE, [_SEQUENCE_ID])):
        with contextlib.suppress(DuplicateKeyError):
            await store.insert(
                c.EVENT_SEQUENCE, {"_id": _SEQUENCE_ID, "position": 0, "prunedThrough": 0}
            )


@dataclass(frozen=True)
class LogBounds:
    """Where the log stands: positions up to ``pruned_through`` were pruned, and ``end`` is
    the newest committed position (0 for both before anything was appended or pruned)."""

    pruned_through: int
    end: int


async def bounds(store: DocumentStore) -> LogBounds:
    """The log's bounds, in one read of the counter.

    The end comes from the counter rather than from the newest event: the counter moves in the
    transaction of the events it numbers, so it is the committed end even once pruning has
    deleted every event (when the newest event would say 0). Read durably, as the log's
    followers read it (see ``DocumentStore.find``)."""
    found = await store.find(c.EVENT_SEQUENCE, {"_id": _SEQUENCE_ID}, limit=1, durable=True)
    if not found:
        return LogBounds(0, 0)
    return LogBounds(int(found[0].get("prunedThrough") or 0), int(found[0].get("position") or 0))


async def pruned_through(store: DocumentStore) -> int:
    """The largest position pruned so far (0 when nothing was)."""
    return (await bounds(store)).pruned_through


async def last_position(store: DocumentStore) -> int:
    """The position of the newest committed event (0 when there is none), read durably: a
    follower starting from it must not start past an event a failover may still undo."""
    newest = await store.find(c.EVENTS, sort=[("position", DESCENDING)], limit=1, durable=True)
    return int(newest[0]["position"]) if newest else 0


async def prune(
    store: DocumentStore, retention: timedelta = DEFAULT_RETENTION, now: datetime | None = None
) -> int:
    """Delete events, expiring notices and webhook deliveries older than ``retention``;
    returns how many events. Pruning always removes a prefix of the log (by position) and
    remembers where it ended, so a cursor from before it is refused with the oldest position
    still available instead of silently skipping.

    However large the backlog, no transaction writes more than ``store.transaction_batch``
    documents, and each one commits its progress (``prunedThrough`` moves with the events it
    deletes): a run that fails or is stopped midway has still shrunk the backlog, and the next
    one carries on where it ended."""
    cutoff = (now or utc_now()) - retention
    limit = store.transaction_batch
    for collection in (_NOTICES, c.WEBHOOK_DELIVERIES):
        while await _delete_expired(store, collection, cutoff, limit) >= limit:
            pass
    newest_old = await store.find(
        c.EVENTS, {"createdAt": {"$lt": cutoff}}, sort=[("position", DESCENDING)], limit=1
    )
    if not newest_old:
        return 0
    through = int(newest_old[0]["position"])
    pruned = 0
    while True:
        deleted = await _prune_events(store, through, limit)
        pruned += deleted
        if deleted < _events_per_prune(limit):
            return pruned


def _events_per_prune(limit: int) -> int:
    return max(1, limit - 1)  # and the counter, where the transaction notes its progress


async def _prune_events(store: DocumentStore, through: int, limit: int) -> int:
    """Delete the oldest events up to position ``through``, as many as one transaction may,
    and note the last one's position as pruned; returns how many."""

    async def work() -> int:
        oldest = await store.find(
            c.EVENTS,
            {"position": {"$lte": through}},
            sort=[("position", 1)],
            limit=_events_per_prune(limit),
        )
        if not oldest:
            return 0
        # Positions are unique and only ever appended above ``through``: exactly these go.
        last = int(oldest[-1]["position"])
        sequence = (await store.get_many(c.EVENT_SEQUENCE, [_SEQUENCE_ID]))[_SEQUENCE_ID]
        if int(sequence.get("prunedThrough") or 0) < last:
            await store.update(
                c.EVENT_SEQUENCE,
                _SEQUENCE_ID,
                expected_version=sequence["version"],
                changes={"prunedThrough": last},
            )
        return await store.delete_many(c.EVENTS, {"position": {"$lte": last}})

    return await store.transaction(work)


async def _delete_expired(
    store: DocumentStore, collection: Collection[Mapping[str, Any]], cutoff: datetime, limit: int
) -> int:
    """Delete up to ``limit`` of the oldest documents created before ``cutoff``; returns how
    many."""

    async def work() -> int:
        expired = await store.find(
            collection, {"createdAt": {"$lt": cutoff}}, sort=[("createdAt", 1)], limit=limit
        )
        if not expired:
            return 0
        return await store.delete_many(collection, {"_id": {"$in": [d["_id"] for d in expired]}})

    return await store.transaction(work)


async def notice_expiring(
    store: DocumentStore, now: datetime | None = None, *, batch: int = 200
) -> int:
    """Write AUTHORIZATION_EXPIRING once per active authorization and end date, when the end
    is at most 15 days away; returns how many were written.

    "Once" holds across processes: a notice document keyed by the authorization and its end
    is inserted in the transaction of the event, so of two racing sweeps one commits and the
    other's insert is refused (a renewal moves the end date and earns a new notice)."""
    now = now or utc_now()
    written = 0
    after: list[Any] | None = None
    sort = [("endsAt", 1)]
    while True:
        due = await store.find(
            c.AUTHORIZATIONS,
            {
                "status": AuthorizationStatus.ACTIVE,
                "endsAt": {"$gt": now, "$lte": now + EXPIRING_NOTICE},
            },
            sort=sort,
            limit=batch,
            after=after,
        )
        if not due:
            return written
        keys = {_notice_key(a): a for a in due}
        seen = await store.get_many(_NOTICES, list(keys))
        for key, authorization in keys.items():
            if key not in seen and await _notice(store, key, authorization, now):
                written += 1
        if len(due) < batch:
            return written
        after = [due[-1]["endsAt"], due[-1]["_id"]]


def _notice_key(authorization: Mapping[str, Any]) -> str:
    return f"expiring|{authorization['_id']}|{authorization['endsAt'].isoformat()}"


async def _notice(
    store: DocumentStore, key: str, authorization: Mapping[str, Any], now: datetime
) -> bool:
    async def work() -> None:
        await store.insert(_NOTICES, {"_id": key, "createdAt": now})
        await append(
            store,
            EventType.AUTHORIZATION_EXPIRING,
            authorization,
            {"endsAt": authorization["endsAt"].isoformat()},
            at=now,
        )

    try:
        await store.transaction(work)
    except DuplicateKeyError:
        return False
    return True
