"""On MongoDB the event log is followed with read concern ``majority``: what the hub polls,
where it starts, a feed's replay and its cursor check, and a webhook's scan read only events
no failover can roll back (a follower past a rolled-back event would never deliver the one
committed later at its position). Watched with PyMongo's command monitoring on the store's
own client: the commands as the driver sends them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from datastore import collections as c
from datastore.codec import utc_now
from datastore.ids import new_id
from datastore.mongodb import MongoStore
from edge.stream_settings import StreamSettings
from edge.webhooks import WebhookWorker
from resolvers import events
from resolvers.event_feed import open_feed
from resolvers.event_hub import EventHub, install, uninstall
from resolvers.identity import Role, Viewer
from resolvers.store_setup import set_up_store
from resolvers.webhooks import WebhookStatus
from tests.polling import until
from tests.stores import SentCommands, drop_store, mongodb_url_for_test_database, requires_mongodb

_FOLLOWED = ("events", "event_sequence")


@pytest.fixture
def commands() -> SentCommands:
    return SentCommands()


@pytest.fixture(params=[pytest.param("mongodb", id="mongodb", marks=requires_mongodb)])
async def mongo(commands: SentCommands, tmp_path: Path) -> AsyncIterator[MongoStore]:
    store = MongoStore(mongodb_url_for_test_database(), event_listeners=[commands])
    await store.connect()
    await set_up_store(store)
    yield store
    await drop_store(store)


def _reads_of(commands: SentCommands, collections: tuple[str, ...]) -> list[dict[str, Any]]:
    """The ``find`` commands on ``collections`` sent outside a transaction."""
    return [
        command
        for command in commands.named("find")
        if command["find"] in collections and "txnNumber" not in command
    ]


async def test_the_event_log_is_followed_with_read_concern_majority(
    mongo: MongoStore, commands: SentCommands
) -> None:
    subject = {"_id": new_id("aut"), "partnerId": "ptn_durable", "sellerId": "slr_durable"}
    now = utc_now()
    await mongo.insert(
        c.WEBHOOKS,
        {
            "_id": new_id("whk"),
            "partnerId": "ptn_durable",
            "slot": 0,
            "url": "https://receiver.example/hook",
            "types": ["OFFER_ACCEPTED"],  # none of the log's: the scan reads, sends nothing
            "secret": "whsec_test",
            "status": WebhookStatus.ACTIVE,
            "cursor": 0,
            "attempts": 0,
            "createdAt": now,
            "updatedAt": now,
        },
    )
    commands.sent.clear()
    event = await events.append(mongo, events.EventType.AUTHORIZATION_RENEWED, subject, {"n": 1})
    # Its transaction committed with write concern majority: a majority read on the primary
    # sees it at once (the primary acknowledged the commit only once its majority commit
    # point, which such reads read at, had reached it).
    assert await events.last_position(mongo) == event["position"]
    assert (await events.bounds(mongo)).end == event["position"]

    hub = EventHub(mongo, poll_seconds=0.01)
    install(hub)
    try:
        feed = await open_feed(mongo, Viewer(Role.PARTNER, "ptn_durable"), None, "0")
        replayed = await asyncio.wait_for(anext(feed), 30)
        assert replayed["_id"] == event["_id"]
        await feed.aclose()  # type: ignore[attr-defined]
        polled = hub.polls
        await until(lambda: hub.polls > polled + 1, "the hub polled the log")
    finally:
        await uninstall(hub)
    assert await WebhookWorker(mongo, StreamSettings()).run_once() == 0

    followed = _reads_of(commands, _FOLLOWED)
    # last_position (twice: here and the hub's start), bounds, the replay, the hub's polls,
    # the webhook's scan.
    assert len([r for r in followed if r["find"] == "event_sequence"]) >= 2, followed
    assert len([r for r in followed if r["find"] == "events"]) >= 6, followed
    assert all(read.get("readConcern") == {"level": "majority"} for read in followed), followed
    # Reads that do not follow the log keep the server's default (local).
    others = _reads_of(commands, ("webhooks",))
    assert others, commands.sent
    assert all("readConcern" not in read for read in others), others


async def test_inside_a_transaction_the_log_is_read_from_its_snapshot(
    mongo: MongoStore, commands: SentCommands
) -> None:
    """A webhook created in a transaction starts from the newest event as that transaction's
    snapshot has it (a read concern cannot be set per operation inside one; committed with
    write concern majority, the snapshot holds majority-committed data only)."""
    subject = {"_id": new_id("aut"), "partnerId": "ptn_durable", "sellerId": "slr_durable"}
    event = await events.append(mongo, events.EventType.AUTHORIZATION_RENEWED, subject, {})
    commands.sent.clear()

    async def work() -> int:
        return await events.last_position(mongo)

    assert await mongo.transaction(work) == event["position"]
    [read] = [command for command in commands.named("find") if command["find"] == "events"]
    assert "txnNumber" in read
    assert read["readConcern"]["level"] == "snapshot"
