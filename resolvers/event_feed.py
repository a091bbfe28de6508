"""A caller's live feed of the event log: what it missed since a cursor, then what happens.

The feed joins the process's hub first (noting the hub's position ``start``), then replays
``after < position <= start`` from the store, then takes live events past ``start`` from its
queue; positions are dense and commit in order, so nothing is missed and nothing repeats.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection
from datetime import datetime
from typing import Any

from datastore import collections as c
from datastore.codec import utc_now
from datastore.documents import EventDocument
from datastore.store import ASCENDING, DocumentStore
from resolvers.errors import PublicError, QueryErrorCode
from resolvers.event_hub import SlowConsumer, hub_for
from resolvers.events import EventType, bounds
from resolvers.identity import Viewer
from resolvers.visibility import event_scope

_REPLAY_PAGE = 200


def cursor_of(event: EventDocument) -> str:
    """The cursor that resumes a feed just after ``event``."""
    return str(event["position"])


def _position(after: str | None) -> int | None:
    if after is None:
        return None
    if not after.isdigit() or len(after) > 18:
        raise PublicError(
            "after must be the cursor of an event (a position, e.g. '42')",
            QueryErrorCode.INVALID_CURSOR,
            field="after",
        )
    return int(after)


async def _check_resumable(store: DocumentStore, since: int) -> None:
    """Refuse a cursor the log cannot resume from: pruned, or beyond its end.

    A cursor beyond the end was never issued by this log (it comes from a store since restored
    from a backup, or is made up): its feed would skip every event up to it, so it is refused
    rather than served as silence. The end is read before the feed joins the hub and the log
    only grows, so a cursor that passes (the end itself included) names a committed position:
    whatever is appended after this read is replayed from the store or arrives live."""
    log = await bounds(store)
    if since < log.pruned_through:
        gone = log.pruned_through
        raise PublicError(
            f"events up to position {gone} were pruned (they are kept for a limited "
            f"time); the oldest position available is {gone + 1}: resume with after: "
            f'"{gone}" or subscribe without a cursor',
            QueryErrorCode.EVENT_CURSOR_PRUNED,
            field="after",
            oldestPosition=gone + 1,
        )
    if since > log.end:
        raise PublicError(
            f"after is beyond the end of the event log, whose newest position is {log.end} "
            "(was the store restored from a backup?): read again what you follow and "
            f'subscribe without a cursor, or resume with after: "{log.end}"',
            QueryErrorCode.INVALID_CURSOR,
            field="after",
            lastPosition=log.end,
        )


async def open_feed(
    store: DocumentStore,
    viewer: Viewer,
    types: Collection[EventType] | None,
    after: str | None,
    *,
    until: datetime | None = None,
) -> AsyncIterator[EventDocument]:
    """The events ``viewer`` may see, of ``types`` (all when ``None``), after the cursor
    ``after`` (from now on when ``None``), replayed then live, in position order, each once.

    Refuses (raises :class:`PublicError`) before anything streams: anonymous callers, an empty
    list of types, a malformed cursor, a pruned one, one beyond the log's end. The feed ends
    with an UNAUTHENTICATED error at ``until`` (when the caller's token expires)."""
    scope = event_scope(viewer)
    if scope is None:
        raise PublicError(
            "sign in to follow events: send your token", QueryErrorCode.UNAUTHENTICATED
        )
    if types is not None and not types:
        # Omitted means every type; an empty list names none, which a client can only mean
        # by mistake: refused as a webhook refuses it, rather than read as all or nothing.
        raise PublicError(
            "types: name at least one event type, or omit types to follow every type",
            QueryErrorCode.NO_EVENT_TYPES,
            field="types",
        )
    since = _position(after)
    if since is not None:
        await _check_resumable(store, since)
    wanted = {EventType(t).value for t in types or ()}
    return _feed(store, scope, wanted, since, until)


async def _feed(
    store: DocumentStore,
    scope: dict[str, str],
    wanted: set[str],
    since: int | None,
    until: datetime | None,
) -> AsyncIterator[EventDocument]:
    def wants(event: EventDocument) -> bool:
        return all(event.get(k) == v for k, v in scope.items()) and (
            not wanted or event["type"] in wanted
        )

    hub = await hub_for(store)
    subscription = hub.subscribe(wants)
    try:
        cursor = subscription.start if since is None else since
        while cursor < subscription.start:
            filter: dict[str, Any] = {
                **scope,
                "position": {"$gt": cursor, "$lte": subscription.start},
            }
            if wanted:
                filter["type"] = {"$in": sorted(wanted)}
            page = await store.find(
                c.EVENTS, filter, sort=[("position", ASCENDING)], limit=_REPLAY_PAGE, durable=True
            )
            for event in page:
                yield event
            if len(page) < _REPLAY_PAGE:
                break
            cursor = int(page[-1]["position"])
        cursor = max(cursor, subscription.start)
        while True:
            try:
                async with asyncio.timeout(_seconds_until(until)):
                    event = await subscription.next()
            except TimeoutError as error:
                raise PublicError(
                    "your token expired: subscribe again with a fresh one and your last cursor",
                    QueryErrorCode.UNAUTHENTICATED,
                ) from error
            except SlowConsumer as error:
                raise PublicError(
                    f"{error}: resume with the last cursor you received",
                    QueryErrorCode.SLOW_CONSUMER,
                ) from error
            if event["position"] > cursor:
                cursor = int(event["position"])
                yield event
    finally:
        subscription.close()


def _seconds_until(moment: datetime | None) -> float | None:
    return None if moment is None else max(0.0, (moment - utc_now()).total_seconds())
