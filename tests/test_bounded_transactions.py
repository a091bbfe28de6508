"""Every transaction of a job that grows with the data writes at most ``transaction_batch``
documents: closing a partner with 5,000 active authorizations, pruning 50,000 expired events.

Counted on SQLite, where every write goes through one connection: the rows it changed between
each ``BEGIN`` and ``COMMIT`` (``SQLiteStore.rows_written`` read from the trace callback; a
multi-row insert counts each row). Other callers' writes get in between two batches, so none
waits longer than one. A job stopped midway has committed its progress: pruning carries on
where it ended, and an interrupted close is finished by closePartner called again, by
reopenPartner, or by the sweep (those three on every adapter)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from datastore import collections as c
from datastore.codec import utc_now
from datastore.documents import AuthorizationDocument, PartnerDocument
from datastore.enums import (
    AuthorizationChannel,
    AuthorizationReason,
    AuthorizationStatus,
    Market,
    PartnerStatus,
    RequestStatus,
    SellerKind,
)
from datastore.ids import new_id
from datastore.sqlite import SQLiteStore
from datastore.store import DocumentStore
from edge.gateway_settings import Settings, SettingsError
from edge.settings import TransportSettings
from gateway import open_store as open_gateway_store
from resolvers import events
from resolvers import insight_counters as counters
from resolvers import insight_figures as figures
from resolvers.authorization_lifecycle import sweep_expired, sweep_periodically
from resolvers.identity import Role
from resolvers.insight_figures import NEW_SCOPES_PER_SERVICE, SHARED_SCOPES
from resolvers.writes import items_per_transaction
from tests.conftest import (
    OFFER_SETTINGS,
    SETTINGS,
    GraphQLClient,
    Make,
    PartnerFactory,
    ServiceFactory,
    serving,
    token,
    token_of,
)
from tests.polling import until
from tests.stores import sqlite_only
from tests.test_authorization_api import CANCEL

CLOSE = """mutation($id: ID!) { closePartner(input: {id: $id, reason: "Policy violation"}) {
  partner { id status } userErrors { code } } }"""
REOPEN = """mutation($id: ID!) { reopenPartner(input: {id: $id, reason: "Appeal upheld"}) {
  partner { id status } userErrors { code } } }"""
GRANTS = """query($id: ID!) { node(id: $id) { ... on Authorization { status grantsAccess } } }"""
ADMIN = token(Role.ADMIN)
# A close of thousands of items answers when its last batch committed: no request timeout.
PATIENT = replace(SETTINGS, transport=TransportSettings(request_timeout_seconds=600))
_WRITES = ("INSERT", "UPDATE", "DELETE")


@dataclass
class Transaction:
    """One transaction on the writing connection: its writing statements, the rows changed."""

    statements: list[str] = field(default_factory=list)
    rows: int = 0

    def mentions(self, text: str) -> bool:
        return any(text in statement for statement in self.statements)


class Writes:
    """A trace callback that groups the SQLite store's statements into transactions and counts
    the rows each one changed; ``on_commit`` is called (on the connection's thread) with each
    transaction as its ``COMMIT`` starts."""

    def __init__(
        self, store: SQLiteStore, on_commit: Callable[[Transaction], object] | None = None
    ) -> None:
        self.store = store
        self.on_commit = on_commit
        self.committed: list[Transaction] = []
        self.begun = 0
        self._open: Transaction | None = None
        self._rows_at_begin = 0

    def __call__(self, statement: str) -> None:
        # The reading connection's statements arrive here too (reads, no BEGIN of their own).
        if statement.startswith("BEGIN"):
            self.begun += 1
            self._open = Transaction()
            self._rows_at_begin = self.store.rows_written
        elif statement in ("COMMIT", "ROLLBACK") and self._open is not None:
            self._open.rows = self.store.rows_written - self._rows_at_begin
            self.committed.append(self._open)
            done, self._open = self._open, None
            if statement == "COMMIT" and self.on_commit is not None:
                self.on_commit(done)
        elif self._open is not None and statement.startswith(_WRITES):
            self._open.statements.append(statement)


async def seed_active_authorizations(
    store: DocumentStore, service: Mapping[str, Any], count: int
) -> None:
    """``count`` sellers, each with an active authorization of ``service`` (two inserts)."""
    now = utc_now()
    sellers = [
        {
            "_id": new_id("slr"),
            "name": f"Seller {number}",
            "kind": SellerKind.LOCAL,
            "market": Market.US,
            "hasShopAccount": True,
            "createdAt": now,
        }
        for number in range(count)
    ]
    await store.insert_many(c.SELLERS, sellers)
    await store.insert_many(
        c.AUTHORIZATIONS,
        [
            {
                "_id": new_id("aut"),
                "sellerId": seller["_id"],
                "partnerId": service["partnerId"],
                "serviceId": service["_id"],
                "settings": OFFER_SETTINGS,
                "shopIds": [],
                "tiktokAccountIds": [],
                "channel": AuthorizationChannel.SERVICE_LINK,
                "startsAt": now - timedelta(days=1),
                "endsAt": now + timedelta(days=60),
                "status": AuthorizationStatus.ACTIVE,
                "statusReason": AuthorizationReason.AUTHORIZED,
                "activeKey": f"{seller['_id']}|{service['_id']}",
                "createdAt": now,
                "updatedAt": now,
            }
            for seller in sellers
        ],
    )


async def landed(store: DocumentStore) -> None:
    """Returns once the write the store has begun is committed. A task cancelled as its
    commit starts ends before that commit does (it goes on in the store's thread): read at
    once, one value can be from before it and the next from after (seen on a busy machine).
    A transaction of our own is queued behind it."""

    async def nothing() -> None:
        return None

    await store.transaction(nothing)


async def write_elsewhere(store: DocumentStore, writes: Writes, seller_id: str) -> int:
    """Another caller's write, asked for now: how many transactions began before its own."""
    asked = writes.begun
    began: list[int] = []

    async def work() -> None:
        began.append(writes.begun - 1)  # its own BEGIN is traced by now
        seller = (await store.get_many(c.SELLERS, [seller_id]))[seller_id]
        await store.update(
            c.SELLERS, seller_id, expected_version=seller["version"], changes={"name": "Other"}
        )

    await store.transaction(work)
    return began[0] - asked


async def assert_closed_completely(store: DocumentStore, partner_id: str, ended: int) -> None:
    partner = (await store.get_many(c.PARTNERS, [partner_id]))[partner_id]
    assert (partner["status"], partner.get("closing")) == (PartnerStatus.CLOSED, None)
    mine = {"partnerId": partner_id}
    assert await store.count(c.AUTHORIZATIONS, {**mine, "status": "ACTIVE"}) == 0
    assert await store.count(c.AUTHORIZATIONS, {**mine, "statusReason": "PARTNER_REMOVED"}) == (
        ended
    )
    assert await store.count(c.EVENTS, {**mine, "type": "AUTHORIZATION_CLOSED"}) == ended
    assert await store.count(c.SERVICES, {**mine, "listed": True}) == 0
    live = [RequestStatus.PARTNER_REVIEWING, RequestStatus.PARTNER_ACCEPTED, "CONNECTED"]
    assert await store.count(c.REQUESTS, {**mine, "status": {"$in": live}}) == 0


@sqlite_only
async def test_closing_a_partner_with_5000_authorizations_writes_a_batch_per_transaction(
    store: DocumentStore, make: Make
) -> None:
    assert isinstance(store, SQLiteStore)
    partner = await make.partner()
    await seed_active_authorizations(store, await make.service(partner), 5_000)
    for _ in range(3):
        await make.request(await make.seller(), partner)
    other_seller = await make.seller()
    other = await make.authorization(other_seller, await make.service(await make.partner()))
    writes = Writes(store)

    def close_batches() -> int:
        return sum(1 for t in writes.committed if t.mentions('"partnerId":"' + partner["_id"]))

    await store.trace(writes)
    try:
        async with serving(store, PATIENT) as http:
            gql = GraphQLClient(http)
            closing = asyncio.create_task(gql(CLOSE, {"id": partner["_id"]}, as_=ADMIN))
            # Another caller's mutation, sent once the close has begun.
            await until(lambda: close_batches() >= 1)
            canceled = await gql(CANCEL, {"id": other["_id"]}, as_=token_of(other_seller))
            # A write asked for between two batches, or during one, goes in before the next.
            await until(lambda: close_batches() >= 10 or closing.done())
            waited_for = await write_elsewhere(store, writes, other_seller["_id"])
            closed = await closing
    finally:
        await store.trace(None)

    assert closed["data"]["closePartner"] == {
        "partner": {"id": partner["_id"], "status": "CLOSED"},
        "userErrors": [],
    }
    assert canceled["data"]["cancelAuthorization"]["userErrors"] == []
    await assert_closed_completely(store, partner["_id"], 5_000)
    # Bounded: no transaction wrote more than the batch, and the batches were full ones (as
    # many items as leave room for the insight counters their changes may move, each with its
    # history entry and event).
    batch = store.transaction_batch
    assert max(t.rows for t in writes.committed) <= batch
    batches = [
        i for i, t in enumerate(writes.committed) if t.mentions('"partnerId":"' + partner["_id"])
    ]
    assert len(batches) >= 5_000 // items_per_transaction(store)
    assert max(writes.committed[i].rows for i in batches) >= 3 * items_per_transaction(store)
    # The other caller's mutation committed while the close still had batches to run, and the
    # later write waited for one batch at most.
    cancel = next(i for i, t in enumerate(writes.committed) if t.mentions(other["_id"]))
    last_batch = batches[-1]
    assert cancel < last_batch
    assert waited_for <= 1


@sqlite_only
async def test_pruning_50000_expired_events_writes_a_batch_per_transaction_and_resumes(
    store: DocumentStore, make: Make
) -> None:
    assert isinstance(store, SQLiteStore)
    other_seller = await make.seller()
    old, now = utc_now() - timedelta(days=31), utc_now()
    await store.insert_many(
        c.EVENTS,
        [
            {
                "_id": new_id("evt"),
                "position": position,
                "type": "AUTHORIZATION_RENEWED",
                "subjectId": new_id("aut"),
                "partnerId": "ptn_a",
                "sellerId": "slr_a",
                "changes": {},
                "createdAt": old if position <= 50_000 else now,
            }
            for position in range(1, 50_011)
        ],
    )
    await store.insert(c.EVENT_SEQUENCE, {"_id": "events", "position": 50_010, "prunedThrough": 0})
    await store.insert_many(
        c.EVENT_SEQUENCE,
        [{"_id": f"expiring|{new_id('aut')}|x", "createdAt": old} for _ in range(1_000)],
    )
    await store.insert_many(
        c.WEBHOOK_DELIVERIES,
        [
            {
                "_id": new_id("dlv"),
                "webhookId": "whk_a",
                "eventId": "evt_a",
                "eventType": "AUTHORIZATION_RENEWED",
                "position": 1,
                "attempt": 1,
                "succeeded": True,
                "durationMs": 3,
                "createdAt": old,
            }
            for _ in range(1_000)
        ],
    )
    loop = asyncio.get_running_loop()
    pruner: asyncio.Task[int] | None = None

    def event_batches() -> int:
        return sum(1 for t in writes.committed if t.mentions('DELETE FROM "events"'))

    def stop_after_three(transaction: Transaction) -> None:
        if pruner is not None and event_batches() == 3 and transaction.mentions('"events"'):
            loop.call_soon_threadsafe(pruner.cancel)  # a crash, as the third batch commits

    writes = Writes(store, on_commit=stop_after_three)
    await store.trace(writes)
    try:
        pruner = asyncio.create_task(events.prune(store))
        (stopped,) = await asyncio.gather(pruner, return_exceptions=True)
        await landed(store)
        assert max(t.rows for t in writes.committed) <= store.transaction_batch
        assert isinstance(stopped, asyncio.CancelledError)
        # What the stopped run did stays done: the oldest events are gone, and noted.
        through = await events.pruned_through(store)
        assert 0 < through < 50_000
        oldest = await store.find(c.EVENTS, sort=[("position", 1)], limit=1)
        assert oldest[0]["position"] == through + 1
        # The next run carries on; a write asked for meanwhile waits for one batch at most.
        pruner = asyncio.create_task(events.prune(store))
        await until(lambda: event_batches() >= 10 or pruner.done())
        waited_for = await write_elsewhere(store, writes, other_seller["_id"])
        pruned = await pruner
    finally:
        await store.trace(None)

    assert through + pruned == 50_000
    assert await events.pruned_through(store) == 50_000
    assert [e["position"] for e in await store.find(c.EVENTS, sort=[("position", 1)])] == list(
        range(50_001, 50_011)
    )
    assert await store.count(c.EVENT_SEQUENCE) == 1  # the counter, no notice
    assert await store.count(c.WEBHOOK_DELIVERIES) == 0
    batch = store.transaction_batch
    assert max(t.rows for t in writes.committed) <= batch
    assert event_batches() >= 50_000 // batch
    assert max(t.rows for t in writes.committed) > batch * 2 // 3
    assert waited_for <= 1


@sqlite_only
async def test_a_close_interrupted_midway_leaves_nothing_granting_access_and_a_retry_finishes(
    store: DocumentStore, make: Make
) -> None:
    assert isinstance(store, SQLiteStore)
    partner = await make.partner()
    await seed_active_authorizations(store, await make.service(partner), 1_000)
    loop = asyncio.get_running_loop()
    closing: asyncio.Task[dict[str, Any]] | None = None

    def stop_after_two(transaction: Transaction) -> None:
        ending = '"statusReason":"PARTNER_REMOVED"'
        ended = sum(1 for t in writes.committed if t.mentions(ending))
        if closing is not None and ended == 2 and transaction.mentions(ending):
            loop.call_soon_threadsafe(closing.cancel)  # the request is cut off mid-close

    writes = Writes(store, on_commit=stop_after_two)
    await store.trace(writes)
    try:
        async with serving(store, PATIENT) as http:
            gql = GraphQLClient(http)
            closing = asyncio.create_task(gql(CLOSE, {"id": partner["_id"]}, as_=ADMIN))
            stopped = (await asyncio.gather(closing, return_exceptions=True))[0]
            await landed(store)
            stored = (await store.get_many(c.PARTNERS, [partner["_id"]]))[partner["_id"]]
            still_active = await store.find(
                c.AUTHORIZATIONS, {"partnerId": partner["_id"], "status": "ACTIVE"}
            )
            # Closed first: what is still ACTIVE grants the partner nothing.
            grants = await gql(GRANTS, {"id": still_active[0]["_id"]}, as_=ADMIN)
            retried = await gql(CLOSE, {"id": partner["_id"]}, as_=ADMIN)
            again = await gql(CLOSE, {"id": partner["_id"]}, as_=ADMIN)
    finally:
        await store.trace(None)

    assert (stored["status"], stored.get("closing")) == (PartnerStatus.CLOSED, True)
    assert 0 < len(still_active) < 1_000
    assert isinstance(stopped, asyncio.CancelledError)
    assert grants["data"]["node"] == {"status": "ACTIVE", "grantsAccess": False}
    assert retried["data"]["closePartner"] == {
        "partner": {"id": partner["_id"], "status": "CLOSED"},
        "userErrors": [],
    }
    assert again["data"]["closePartner"]["userErrors"] == [{"code": "ALREADY_CLOSED"}]
    await assert_closed_completely(store, partner["_id"], 1_000)


async def interrupted_close(
    store: DocumentStore, make: Make
) -> tuple[PartnerDocument, list[AuthorizationDocument]]:
    """A partner as a close stopped after its first transaction leaves it: CLOSED and marked
    ``closing``, its service still listed, authorizations and a request still active."""
    partner = await make.partner(
        status=PartnerStatus.CLOSED, closing=True, closedAt=utc_now(), closedReason="Policy"
    )
    service = await make.service(partner, listed=True)
    active = [await make.authorization(await make.seller(), service) for _ in range(25)]
    await make.request(await make.seller(), partner)
    return partner, active


@pytest.fixture
def small_batches(store: DocumentStore) -> Any:
    """Batches of 10 writes (3 items each), so a few dozen items take several."""
    before, store.transaction_batch = store.transaction_batch, 10
    yield
    store.transaction_batch = before


async def test_the_sweep_finishes_an_interrupted_close(
    store: DocumentStore, small_batches: None, make: Make
) -> None:
    partner, _ = await interrupted_close(store, make)
    untouched = await make.partner()
    sweeper = asyncio.create_task(sweep_periodically(store, 3600))
    try:
        await until_stored(store, partner["_id"], lambda p: not p.get("closing"))
    finally:
        sweeper.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sweeper
    await assert_closed_completely(store, partner["_id"], 25)
    assert (await store.get_many(c.PARTNERS, [untouched["_id"]]))[untouched["_id"]][
        "status"
    ] == PartnerStatus.ACTIVE


async def test_reopening_finishes_an_interrupted_close_first(
    gql: GraphQLClient, store: DocumentStore, small_batches: None, make: Make
) -> None:
    partner, active = await interrupted_close(store, make)
    reopened = await gql(REOPEN, {"id": partner["_id"]}, as_=ADMIN)
    assert reopened["data"]["reopenPartner"] == {
        "partner": {"id": partner["_id"], "status": "ACTIVE"},
        "userErrors": [],
    }
    # What closing ends stays ended, also when the close was interrupted.
    ended = await store.get_many(c.AUTHORIZATIONS, [a["_id"] for a in active])
    assert {a["status"] for a in ended.values()} == {AuthorizationStatus.CLOSED}
    stored = (await store.get_many(c.PARTNERS, [partner["_id"]]))[partner["_id"]]
    assert stored.get("closing") is None


async def until_stored(
    store: DocumentStore, partner_id: str, condition: Callable[[PartnerDocument], bool]
) -> None:
    for _ in range(2_000):  # bounded
        if condition((await store.get_many(c.PARTNERS, [partner_id]))[partner_id]):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the partner never reached the state")


async def test_the_batch_is_a_setting_the_store_is_opened_with(tmp_path: Path) -> None:
    secret = "s" * 40
    assert Settings.from_env({"TSP_JWT_SECRET": secret}).transaction_batch == 300
    settings = Settings.from_env(
        {
            "TSP_JWT_SECRET": secret,
            "TSP_TRANSACTION_BATCH": "50",
            "TSP_DATABASE_URL": f"sqlite:///{tmp_path / 'sized.sqlite3'}",
        }
    )
    opened = await open_gateway_store(settings)
    try:
        assert opened.transaction_batch == 50
        # Each with its history entry and event, and the insight counters it may move.
        assert items_per_transaction(opened) == (50 - 1 - 2 * SHARED_SCOPES) // (
            3 + 2 * NEW_SCOPES_PER_SERVICE
        )
    finally:
        await opened.close()
    for refused in ("9", "0", "many"):
        with pytest.raises(SettingsError, match="TSP_TRANSACTION_BATCH"):
            Settings.from_env({"TSP_JWT_SECRET": secret, "TSP_TRANSACTION_BATCH": refused})


@sqlite_only
async def test_the_first_batch_of_a_day_stays_bounded_when_every_counter_is_new(
    store: DocumentStore,
    make_partner: PartnerFactory,
    make_service: ServiceFactory,
) -> None:
    """The first changes of a day create the counter documents they move (without reading
    them) and then start each from the gauge the day before left: a second write of those
    documents, which the sweep's batches leave room for too."""
    assert isinstance(store, SQLiteStore)
    partner = await make_partner()
    services = [await make_service(partner, categoryId=f"scat_day{n}") for n in range(30)]
    for service in services:
        await seed_active_authorizations(store, service, 1)
    await store.delete_all(c.INSIGHT_COUNTERS)
    ended = utc_now() - timedelta(minutes=1)
    for authorization in await store.find(c.AUTHORIZATIONS, {"partnerId": partner["_id"]}):
        await store.update(
            c.AUTHORIZATIONS,
            authorization["_id"],
            expected_version=authorization["version"],
            changes={"endsAt": ended},
        )
    # Yesterday every service gained an active authorization: today's gauges start at 1.
    yesterday = utc_now() - timedelta(days=1)
    await counters.add_many(
        store,
        [
            figures.Change(yesterday, partner["_id"], [s["_id"]], {figures.ACTIVE_CHANGE: 1})
            for s in services
        ],
    )
    writes = Writes(store)
    usual, store.transaction_batch = store.transaction_batch, 100
    await store.trace(writes)
    try:
        assert await sweep_expired(store) >= len(services)
    finally:
        await store.trace(None)
        store.transaction_batch = usual
    assert max(t.rows for t in writes.committed) <= 100
    # Each of today's documents started from yesterday's gauge, and every authorization ended.
    today = await store.find(c.INSIGHT_COUNTERS, {"day": utc_now().date().isoformat()})
    assert len(today) > len(services)
    assert {figures.day_end_gauge(d) for d in today} == {0}


@sqlite_only
async def test_unlisting_a_closed_partners_services_writes_at_most_a_batch(
    store: DocumentStore, make_partner: PartnerFactory, make_service: ServiceFactory
) -> None:
    """Unlisting a service leaves its words as they were, so its text index is not written:
    a batch of ``transaction_batch`` services writes that many rows (re-indexing each one
    wrote about 13 rows a service: 30 services were 398 rows in a transaction of 100)."""
    assert isinstance(store, SQLiteStore)
    partner = await make_partner()
    for _ in range(130):
        await make_service(partner)
    writes = Writes(store)
    usual, store.transaction_batch = store.transaction_batch, 100
    await store.trace(writes)
    try:
        async with serving(store, PATIENT) as http:
            closed = await GraphQLClient(http)(CLOSE, {"id": partner["_id"]}, as_=ADMIN)
    finally:
        await store.trace(None)
        store.transaction_batch = usual
    assert closed["data"]["closePartner"]["userErrors"] == []
    await assert_closed_completely(store, partner["_id"], 0)
    unlisting = [t for t in writes.committed if t.mentions('"listed":false')]
    assert [t.rows for t in unlisting] == [100, 30]
    assert max(t.rows for t in writes.committed) <= 100
