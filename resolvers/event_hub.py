"""One follower of the event log per process, fanning committed events out to live feeds.

The log's positions commit densely and in order (see :mod:`resolvers.events`), so following it
is reading ``position > last seen`` again and again: one indexed query per poll for the whole
process however many subscribers it has, and changes made by any process on the same store
arrive within one poll interval (SQLite in WAL mode: a reader sees every committed write).

Each subscriber has a bounded queue: a consumer that falls ``queue_size`` events behind is cut
off (its feed ends with :class:`SlowConsumer`) rather than buffered without bound; it can
resume from its last cursor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from datastore import collections as c
from datastore.documents import EventDocument
from datastore.store import ASCENDING, DocumentStore
from resolvers.events import last_position
from resolvers.round_failures import RoundFailures

logger = logging.getLogger("tsp.events")

DEFAULT_POLL_SECONDS = 0.05
DEFAULT_QUEUE_SIZE = 1000
_BATCH = 500


class SlowConsumer(Exception):
    """A subscriber fell too far behind the log and was cut off."""


@dataclass(eq=False)
class Subscription:
    """One live feed: what it wants, where the hub stood when it joined, and its queue."""

    wants: Callable[[EventDocument], bool]
    start: int
    queue: asyncio.Queue[EventDocument | None]
    overflowed: bool = False
    _hub: EventHub | None = field(default=None, repr=False)

    async def next(self) -> EventDocument:
        """The next event it wants; raises :class:`SlowConsumer` once it was cut off."""
        event = await self.queue.get()
        if event is None:
            raise SlowConsumer("this subscriber fell too far behind the event log")
        return event

    def close(self) -> None:
        if self._hub is not None:
            self._hub.subscribers.discard(self)


class EventHub:
    """Follows the event log of ``store`` and hands each event to the subscribers wanting it."""

    def __init__(
        self,
        store: DocumentStore,
        *,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
        queue_size: int = DEFAULT_QUEUE_SIZE,
    ) -> None:
        self.store = store
        self.poll_seconds = poll_seconds
        self.queue_size = queue_size
        self.subscribers: set[Subscription] = set()
        self.position = 0
        self.polls = 0
        self._task: asyncio.Task[None] | None = None
        self._started = False
        self._starting = asyncio.Lock()
        self._watcher: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    async def start(self) -> None:
        """Start following from the newest event (idempotent). A start that fails (the store
        unavailable) raises, and the next call tries again: callers waiting meanwhile try in
        turn, rather than waiting for good on a start that never happens."""
        if self._started:
            return
        async with self._starting:
            if self._started:
                return
            self.position = await last_position(self.store)
            self._task = asyncio.create_task(self._follow())
            watch = getattr(self.store, "watch_inserts", None)
            if watch is not None:
                # MongoDB: a change stream on the log wakes the follower at once; polling
                # stays as the fallback that never misses (positions are the truth).
                self._watcher = asyncio.create_task(self._watch(watch(c.EVENTS)))
            self._started = True

    async def _watch(self, inserts: AsyncIterator[None]) -> None:
        async for _ in inserts:
            self.poke()

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for subscription in list(self.subscribers):
            _cut_off(subscription)

    def poke(self) -> None:
        """Poll now rather than at the next tick (a change was just committed here)."""
        self._wake.set()

    def subscribe(self, wants: Callable[[EventDocument], bool]) -> Subscription:
        """A live feed of the events ``wants`` accepts, from the hub's current position on
        (``start``: events up to it are the caller's to replay from the store)."""
        subscription = Subscription(
            wants=wants, start=self.position, queue=asyncio.Queue(self.queue_size), _hub=self
        )
        self.subscribers.add(subscription)
        return subscription

    async def _follow(self) -> None:
        failures = RoundFailures(logger, "following the event log")
        while True:
            try:
                batch = await self.store.find(
                    c.EVENTS,
                    {"position": {"$gt": self.position}},
                    sort=[("position", ASCENDING)],
                    limit=_BATCH,
                    durable=True,  # an event a failover undoes would hide the one after it
                )
                self.polls += 1
                failures.succeeded()
            except Exception:
                failures.failed()
                batch = []
            for event in batch:
                self._deliver(event)
                self.position = int(event["position"])
            if len(batch) < _BATCH:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
                self._wake.clear()

    def _deliver(self, event: EventDocument) -> None:
        for subscription in list(self.subscribers):
            if not subscription.wants(event):
                continue
            if subscription.queue.qsize() >= self.queue_size - 1:
                _cut_off(subscription)
                continue
            subscription.queue.put_nowait(event)


def _cut_off(subscription: Subscription) -> None:
    subscription.close()
    subscription.overflowed = True
    # The last slot is kept free for this marker, so it always fits.
    subscription.queue.put_nowait(None)


_HUBS: dict[int, EventHub] = {}


async def hub_for(store: DocumentStore) -> EventHub:
    """The process's hub following ``store``, started on first use."""
    hub = _HUBS.get(id(store))
    if hub is None or hub.store is not store:
        hub = _HUBS[id(store)] = EventHub(store)
    await hub.start()
    return hub


def install(hub: EventHub) -> None:
    """Use ``hub`` (with its own settings) for its store from now on."""
    _HUBS[id(hub.store)] = hub


async def uninstall(hub: EventHub) -> None:
    """Stop ``hub`` and forget it (when the app that installed it shuts down)."""
    await hub.stop()
    if _HUBS.get(id(hub.store)) is hub:
        del _HUBS[id(hub.store)]
