"""The per-process follower of the event log: fan-out by position, slow consumers cut off."""

from __future__ import annotations

import asyncio

import pytest

from datastore.store import DocumentStore
from resolvers.errors import PublicError
from resolvers.event_feed import open_feed
from resolvers.event_hub import EventHub, SlowConsumer, install, uninstall
from resolvers.events import EventType, append, ensure_sequence
from resolvers.identity import Role, Viewer
from tests.conftest import Make
from tests.polling import until
from tests.test_event_log import authorization


async def test_a_consumer_that_falls_behind_is_cut_off_and_others_are_not(
    store: DocumentStore, make: Make
) -> None:
    await ensure_sequence(store)
    partner, seller = await make.partner(), await make.seller()
    granted = await authorization(store, partner, seller, await make.service(partner))
    hub = EventHub(store, poll_seconds=0.01, queue_size=4)
    await hub.start()
    try:
        slow = hub.subscribe(lambda event: True)
        keeping_up = hub.subscribe(lambda event: True)
        received = []
        for number in range(6):
            await append(store, EventType.AUTHORIZATION_RENEWED, granted, {"n": number})
            hub.poke()
            received.append((await asyncio.wait_for(keeping_up.next(), 30))["changes"]["n"])
        assert received == list(range(6))
        drained = []
        with pytest.raises(SlowConsumer):
            while True:
                drained.append((await asyncio.wait_for(slow.next(), 30))["changes"]["n"])
        # What fitted came first, in order; then the cut-off (and no unbounded buffer).
        assert drained == [0, 1, 2]
        assert slow not in hub.subscribers and keeping_up in hub.subscribers
    finally:
        await hub.stop()


async def test_a_slow_feed_ends_with_slow_consumer(store: DocumentStore, make: Make) -> None:
    await ensure_sequence(store)
    partner, seller = await make.partner(), await make.seller()
    granted = await authorization(store, partner, seller, await make.service(partner))
    hub = EventHub(store, poll_seconds=0.01, queue_size=3)
    install(hub)
    try:
        feed = await open_feed(store, Viewer(Role.PARTNER, partner["_id"]), None, None)
        first = asyncio.ensure_future(anext(feed))
        await until(lambda: bool(hub.subscribers), "the feed joined")
        for number in range(5):
            await append(store, EventType.AUTHORIZATION_RENEWED, granted, {"n": number})
        assert (await asyncio.wait_for(first, 30))["changes"]["n"] == 0
        await until(lambda: not hub.subscribers, "the feed cut off")  # the rest arrived unread
        with pytest.raises(PublicError) as refused:
            for _ in range(5):
                await asyncio.wait_for(anext(feed), 30)
        assert refused.value.extensions == {"code": "SLOW_CONSUMER"}
        await feed.aclose()  # type: ignore[attr-defined]
    finally:
        await uninstall(hub)
