"""The durable event log: one event per change that matters, in the change's transaction,
dense positions in commit order, the expiring notice once, pruning after the retention."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from datastore import collections as c
from datastore.codec import utc_now
from datastore.collections import INDEXES
from datastore.documents import AuthorizationDocument, EventDocument
from datastore.enums import AuthorizationStatus, PartnerType, Region
from datastore.ids import new_id
from datastore.store import (
    ASCENDING,
    DocumentStore,
    StoreUnavailableError,
    VersionConflictError,
)
from resolvers import event_feed, events, history
from resolvers.errors import PublicError
from resolvers.event_hub import EventHub
from resolvers.identity import Role, Viewer
from tests.conftest import (
    GraphQLClient,
    Make,
    accepted_offer,
    request_form,
    token_of,
)
from tests.polling import until
from tests.stores import ADAPTERS, drop_store, open_store
from tests.test_seller_request_api import ACCEPT, CREATE
from tests.test_seller_request_api import CLOSE as CLOSE_REQUEST
from tests.test_seller_request_api import REJECT as REJECT_REQUEST


async def _log(store: DocumentStore) -> list[EventDocument]:
    return await store.find(c.EVENTS, sort=[("position", ASCENDING)])


async def authorization(
    store: DocumentStore,
    partner: Mapping[str, Any],
    seller: Mapping[str, Any],
    service: Mapping[str, Any],
    **fields: Any,
) -> AuthorizationDocument:
    now = utc_now()
    return await store.insert(
        c.AUTHORIZATIONS,
        {
            "_id": new_id("aut"),
            "sellerId": seller["_id"],
            "partnerId": partner["_id"],
            "serviceId": service["_id"],
            "settings": {},
            "shopIds": [],
            "tiktokAccountIds": [],
            "channel": "SERVICE_STORE",
            "startsAt": now - timedelta(days=30),
            "endsAt": now + timedelta(days=10),
            "status": AuthorizationStatus.ACTIVE,
            "statusReason": "AUTHORIZED",
            "activeKey": f"{seller['_id']}|{service['_id']}",
            "createdAt": now,
            "updatedAt": now,
            **fields,
        },
    )


async def test_request_moves_write_their_events_with_parties_and_changes(
    gql: GraphQLClient, store: DocumentStore, make: Make
) -> None:
    partner, seller = await make.partner(), await make.seller()
    created = await gql(CREATE, request_form(partner["_id"]), as_=token_of(seller))
    request_id = created["data"]["createRequest"]["requests"][0]["id"]
    await gql(ACCEPT, {"id": request_id}, as_=token_of(partner))
    log = await _log(store)
    assert [(e["type"], e["position"]) for e in log] == [
        ("REQUEST_RECEIVED", 1),
        ("REQUEST_ACCEPTED", 2),
    ]
    accepted = log[1]
    assert accepted["subjectId"] == request_id
    assert (accepted["partnerId"], accepted["sellerId"]) == (partner["_id"], seller["_id"])
    assert accepted["changes"]["status"] == {"from": "PARTNER_REVIEWING", "to": "PARTNER_ACCEPTED"}
    assert accepted["createdAt"] >= log[0]["createdAt"]


async def test_a_rolled_back_change_writes_no_event(store: DocumentStore, make: Make) -> None:
    partner, seller = await make.partner(), await make.seller()
    granted = await authorization(store, partner, seller, await make.service(partner))

    async def work() -> None:
        await history.record(
            store, subject_id=granted["_id"], action="CANCELED", actor=Viewer(Role.SELLER, "s")
        )
        assert len(await _log(store)) == 1  # visible inside the transaction
        raise RuntimeError("the change fails after recording")

    with pytest.raises(RuntimeError):
        await store.transaction(work)
    assert await _log(store) == []
    # The position was rolled back with it: the next event is still 1.
    await history.record(
        store, subject_id=granted["_id"], action="CANCELED", actor=Viewer(Role.SELLER, "s")
    )
    assert [(e["type"], e["position"]) for e in await _log(store)] == [
        ("AUTHORIZATION_CANCELED", 1)
    ]


async def test_changes_that_mean_no_event_write_none(store: DocumentStore, make: Make) -> None:
    service = await make.service(await make.partner())
    await history.record(
        store, subject_id=service["_id"], action="UPDATED", actor=Viewer(Role.ADMIN, "admin")
    )
    assert await _log(store) == []
    assert events.event_type_of(service["_id"], "APPROVED") is events.EventType.SERVICE_REVIEWED


async def test_concurrent_writers_get_dense_unique_positions(
    store: DocumentStore, make: Make
) -> None:
    partner, seller = await make.partner(), await make.seller()
    granted = await authorization(store, partner, seller, await make.service(partner))
    for _ in range(5):
        await asyncio.gather(
            *(
                events.append(store, events.EventType.AUTHORIZATION_RENEWED, granted, {"n": i})
                for i in range(20)
            )
        )
    positions = [e["position"] for e in await _log(store)]
    assert positions == list(range(1, 101))


async def test_the_sweep_writes_expiring_once_per_end_date(
    store: DocumentStore, make: Make
) -> None:
    partner, seller = await make.partner(), await make.seller()
    soon = await authorization(store, partner, seller, await make.service(partner))
    await authorization(  # ends in 40 days: not yet
        store, partner, seller, await make.service(partner), endsAt=utc_now() + timedelta(40)
    )
    results = await asyncio.gather(*(events.notice_expiring(store) for _ in range(4)))
    assert sum(results) == 1
    assert await events.notice_expiring(store) == 0
    log = await _log(store)
    assert [(e["type"], e["subjectId"], e["sellerId"]) for e in log] == [
        ("AUTHORIZATION_EXPIRING", soon["_id"], seller["_id"])
    ]
    # A renewal moves the end: the new end earns its own notice.
    await store.update(
        c.AUTHORIZATIONS,
        soon["_id"],
        expected_version=soon["version"],
        changes={"endsAt": soon["endsAt"] + timedelta(days=2)},
    )
    assert await events.notice_expiring(store) == 1


async def test_pruning_removes_old_events_and_remembers_where_it_ended(
    store: DocumentStore, make: Make
) -> None:
    partner, seller = await make.partner(), await make.seller()
    granted = await authorization(store, partner, seller, await make.service(partner))
    old = utc_now() - timedelta(days=31)
    for _ in range(3):
        await events.append(store, events.EventType.AUTHORIZATION_RENEWED, granted, {}, at=old)
    await events.append(store, events.EventType.AUTHORIZATION_RENEWED, granted, {})
    assert await events.prune(store) == 3
    assert [e["position"] for e in await _log(store)] == [4]
    assert await events.pruned_through(store) == 3
    assert await events.prune(store) == 0
    assert await events.prune(store, timedelta(0), utc_now() + timedelta(seconds=1)) == 1
    assert await events.pruned_through(store) == 4


@pytest.fixture(params=ADAPTERS)
async def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[DocumentStore]:
    opened = await open_store(request.param, tmp_path)
    await opened.ensure_indexes(INDEXES)
    await events.ensure_sequence(opened)
    yield opened
    await drop_store(opened)


async def test_positions_are_dense_and_rollbacks_leave_none_on_every_adapter(
    any_store: DocumentStore,
) -> None:
    subject = {"_id": new_id("aut"), "partnerId": "ptn_a", "sellerId": "slr_a"}

    async def append_or_fail(number: int) -> None:
        async def work() -> None:
            await events.append(any_store, events.EventType.AUTHORIZATION_RENEWED, subject, {})
            if number % 3 == 0:
                raise RuntimeError("this change fails")

        # Concurrent writers on MongoDB conflict on the counter and are retried.
        for _ in range(20):
            try:
                await any_store.transaction(work)
                return
            except VersionConflictError:
                await asyncio.sleep(0.01)
            except RuntimeError:
                return

    await asyncio.gather(*(append_or_fail(n) for n in range(30)))
    log = await any_store.find(c.EVENTS, sort=[("position", ASCENDING)])
    assert [e["position"] for e in log] == list(range(1, 21))
    assert (await events.bounds(any_store)).end == 20


async def test_the_log_keeps_its_end_once_pruning_empties_it_on_every_adapter(
    any_store: DocumentStore,
) -> None:
    """A feed resuming at the end must be served after everything up to it was pruned: the end
    is the counter's, not the newest event's (there is none)."""
    subject = {"_id": new_id("aut"), "partnerId": "ptn_a", "sellerId": "slr_a"}
    old = utc_now() - timedelta(days=31)
    for _ in range(3):
        await events.append(any_store, events.EventType.AUTHORIZATION_RENEWED, subject, {}, at=old)
    assert await events.prune(any_store) == 3
    assert await _log(any_store) == []
    assert await events.bounds(any_store) == events.LogBounds(pruned_through=3, end=3)
    viewer = Viewer(Role.PARTNER, "ptn_a")
    await event_feed.open_feed(any_store, viewer, None, "3")
    with pytest.raises(PublicError) as beyond:
        await event_feed.open_feed(any_store, viewer, None, "4")
    assert beyond.value.extensions == {
        "code": "INVALID_CURSOR",
        "field": "after",
        "lastPosition": 3,
    }


async def test_racing_first_appends_all_commit_with_dense_positions_on_every_adapter(
    any_store: DocumentStore,
) -> None:
    """With no counter document yet, every racing append inserts it: on MongoDB the losers may
    be told "duplicate key" instead of "write conflict", and must be run again all the same."""
    subject = {"_id": new_id("aut"), "partnerId": "ptn_a", "sellerId": "slr_a"}

    async def append() -> None:
        for _ in range(20):
            try:
                await events.append(any_store, events.EventType.AUTHORIZATION_RENEWED, subject, {})
                return
            except VersionConflictError:
                await asyncio.sleep(0.01)

    for _ in range(5):
        await any_store.delete_all(c.EVENTS)
        await any_store.delete_all(c.EVENT_SEQUENCE)
        await asyncio.gather(*(append() for _ in range(8)))
        log = await any_store.find(c.EVENTS, sort=[("position", ASCENDING)])
        assert [e["position"] for e in log] == list(range(1, 9))


async def test_an_offer_accepted_granted_renewed_and_canceled_through_the_api(
    gql: GraphQLClient, store: DocumentStore, make: Make
) -> None:
    from tests.test_authorization_api import CANCEL, RENEW

    partner, seller = await make.partner(), await make.seller(market="ID")
    accepted = await accepted_offer(gql, make, partner, seller)
    offer, authorization_id = accepted.offer, accepted.authorization_id
    as_seller = token_of(seller)
    await gql(RENEW, {"id": authorization_id, "period": "ONE_MONTH"}, as_=as_seller)
    await gql(CANCEL, {"id": authorization_id}, as_=as_seller)
    log = await _log(store)
    assert [(e["type"], e["subjectId"]) for e in log] == [
        ("AUTHORIZATION_GRANTED", authorization_id),
        ("OFFER_ACCEPTED", offer["_id"]),
        ("AUTHORIZATION_RENEWED", authorization_id),
        ("AUTHORIZATION_CANCELED", authorization_id),
    ]
    assert all((e["partnerId"], e["sellerId"]) == (partner["_id"], seller["_id"]) for e in log)
    assert log[3]["changes"] == {
        "status": {"from": "ACTIVE", "to": "CANCELED"},
        "reasonCode": "CANCELED_BY_SELLER",
    }


async def test_the_periodic_sweep_notices_expiring_and_prunes(
    store: DocumentStore, make: Make
) -> None:
    from resolvers.authorization_lifecycle import sweep_periodically

    partner, seller = await make.partner(), await make.seller()
    soon = await authorization(store, partner, seller, await make.service(partner))
    old = utc_now() - timedelta(days=3)
    await events.append(store, events.EventType.AUTHORIZATION_RENEWED, soon, {}, at=old)
    sweeper = asyncio.create_task(
        sweep_periodically(store, 3600, event_retention=timedelta(days=2))
    )

    async def noticed() -> bool:
        return [e["type"] for e in await _log(store)] == ["AUTHORIZATION_EXPIRING"]

    try:
        await until(noticed, "the sweep noticing the expiring authorization")
    finally:
        sweeper.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sweeper
    log = await _log(store)
    assert [(e["type"], e["subjectId"]) for e in log] == [("AUTHORIZATION_EXPIRING", soon["_id"])]
    assert await events.pruned_through(store) == 1


async def test_every_status_change_event_names_why_as_its_history_entry_does(
    gql: GraphQLClient, store: DocumentStore, make: Make, admin: str
) -> None:
    """SPEC.md §7: every status change carries a reason code; the event of a change (what
    subscribers and webhooks receive) names the code its history entry keeps, and the reason
    given in words."""
    from tests.test_category_application_api import APPLY, _category
    from tests.test_category_application_api import REVIEW as REVIEW_APPLICATION
    from tests.test_service_lifecycle_api import REVIEW as REVIEW_SERVICE

    partner = await make.partner()
    as_partner = token_of(partner)

    async def done(query: str, variables: dict[str, Any], caller: str) -> dict[str, Any]:
        answered: dict[str, Any] = await gql.payload(query, variables, as_=caller)
        assert answered["userErrors"] == [], answered
        return answered

    async def request_from(seller: Mapping[str, Any]) -> str:
        created = await done(CREATE, request_form(partner["_id"]), token_of(seller))
        return str(created["requests"][0]["id"])

    # A request accepted, then connected by the offer its seller accepts.
    connecting = await make.seller(market="ID")
    accepted = await request_from(connecting)
    await done(ACCEPT, {"id": accepted}, as_partner)
    offer = (await accepted_offer(gql, make, partner, connecting)).offer
    # A request rejected with a reason, one closed by its seller, one by its partner.
    rejecting, closing_seller, closing_partner = [await make.seller() for _ in range(3)]
    rejected = await request_from(rejecting)
    answer = {"id": rejected, "reason": "  We do not serve your market yet "}
    await done(REJECT_REQUEST, answer, as_partner)
    closed_by_seller = await request_from(closing_seller)
    await done(CLOSE_REQUEST, {"id": closed_by_seller}, token_of(closing_seller))
    closed_by_partner = await request_from(closing_partner)
    await done(CLOSE_REQUEST, {"id": closed_by_partner}, as_partner)
    # Reviews: a public service approved and one rejected, an application of each.
    reviewed: dict[str, str] = {}
    for decision, reason in (("APPROVE", None), ("REJECT", "The logo is blurry")):
        service = await make.service(partner, status="IN_REVIEW", needsReview=True)
        review = {"id": service["_id"], "decision": decision, "reason": reason}
        await done(REVIEW_SERVICE, {"input": review}, admin)
        reviewed[f"service {decision}"] = service["_id"]
    for decision, name, reason in (
        ("APPROVE", "Shop Management", None),
        ("REJECT", "Shop Registration", "Not in this market"),
    ):
        category = _category(
            PartnerType(partner["type"]), Region(partner["registrationRegion"]), name
        )
        applying = {"categoryId": category, "market": partner["targetMarkets"][0]}
        applied = await done(APPLY, {"input": applying}, as_partner)
        application_id = applied["categoryApplication"]["id"]
        review = {"id": application_id, "decision": decision, "reason": reason}
        await done(REVIEW_APPLICATION, {"input": review}, admin)
        reviewed[f"application {decision}"] = application_id

    log = await _log(store)
    why = {
        (e["type"], e["subjectId"]): (e["changes"].get("reasonCode"), e["changes"].get("reason"))
        for e in log
        if e["type"] != "AUTHORIZATION_GRANTED"  # AUTHORIZED already: its history is below
    }
    assert why == {
        ("REQUEST_RECEIVED", accepted): ("SENT_BY_SELLER", None),
        ("REQUEST_ACCEPTED", accepted): ("ACCEPTED_BY_PARTNER", None),
        ("OFFER_ACCEPTED", offer["_id"]): ("AUTHORIZED", None),
        ("REQUEST_CONNECTED", accepted): ("AUTHORIZED", None),
        ("REQUEST_RECEIVED", rejected): ("SENT_BY_SELLER", None),
        ("REQUEST_REJECTED", rejected): ("REJECTED_BY_PARTNER", "We do not serve your market yet"),
        ("REQUEST_RECEIVED", closed_by_seller): ("SENT_BY_SELLER", None),
        ("REQUEST_CLOSED", closed_by_seller): ("CLOSED_BY_SELLER", None),
        ("REQUEST_RECEIVED", closed_by_partner): ("SENT_BY_SELLER", None),
        ("REQUEST_CLOSED", closed_by_partner): ("CLOSED_BY_PARTNER", None),
        ("SERVICE_REVIEWED", reviewed["service APPROVE"]): ("APPROVED_BY_ADMIN", None),
        ("SERVICE_REVIEWED", reviewed["service REJECT"]): (
            "REJECTED_BY_ADMIN",
            "The logo is blurry",
        ),
        ("CATEGORY_APPLICATION_REVIEWED", reviewed["application APPROVE"]): (
            "APPROVED_BY_ADMIN",
            None,
        ),
        ("CATEGORY_APPLICATION_REVIEWED", reviewed["application REJECT"]): (
            "REJECTED_BY_ADMIN",
            "Not in this market",
        ),
    }
    # Each event says what its history entry says.
    entries = await store.find(c.HISTORY, sort=[("createdAt", ASCENDING), ("_id", ASCENDING)])
    for event in log:
        [entry] = [
            e
            for e in entries
            if e["subjectId"] == event["subjectId"]
            and events.event_type_of(e["subjectId"], e["action"]) == event["type"]
            and e.get("toStatus") == event["changes"]["status"]["to"]
        ]
        assert entry["reasonCode"] == event["changes"]["reasonCode"], event


async def test_an_event_that_changes_a_status_without_a_reason_code_is_refused(
    store: DocumentStore,
) -> None:
    """The one check behind every status-change event, whichever rule appends it."""
    subject = {"_id": new_id("req"), "partnerId": "ptn_a", "sellerId": "slr_a"}
    moved = {"status": {"from": "PARTNER_REVIEWING", "to": "PARTNER_ACCEPTED"}}
    for why in ({}, {"reasonCode": "BECAUSE"}):
        with pytest.raises(ValueError, match="REQUEST_ACCEPTED changes a status"):
            await events.append(store, events.EventType.REQUEST_ACCEPTED, subject, moved | why)
    assert await _log(store) == []
    await events.append(
        store,
        events.EventType.REQUEST_ACCEPTED,
        subject,
        moved | {"reasonCode": "ACCEPTED_BY_PARTNER"},
    )
    await events.append(store, events.EventType.AUTHORIZATION_EXPIRING, subject, {"endsAt": "x"})
    assert [e["type"] for e in await _log(store)] == ["REQUEST_ACCEPTED", "AUTHORIZATION_EXPIRING"]


async def test_a_hub_that_could_not_start_starts_on_the_next_call(
    any_store: DocumentStore,
) -> None:
    """The store cannot be read when the first subscribers start the process's hub (closed
    here; on MongoDB, no primary for its durable read): each start raises, and a later one
    starts it. A failed start used to leave every later subscriber waiting for good."""
    subject = {"_id": new_id("aut"), "partnerId": "ptn_a", "sellerId": "slr_a"}
    first = await events.append(any_store, events.EventType.AUTHORIZATION_RENEWED, subject, {})
    await any_store.close()
    hub = EventHub(any_store, poll_seconds=0.01)
    try:
        failed = await asyncio.gather(hub.start(), hub.start(), return_exceptions=True)
        assert [type(error) for error in failed] == [StoreUnavailableError] * 2, failed
        await any_store.connect()
        await asyncio.wait_for(hub.start(), 30)
        assert hub.position == first["position"]
        live = hub.subscribe(lambda event: True)
        second = await events.append(any_store, events.EventType.AUTHORIZATION_RENEWED, subject, {})
        hub.poke()
        assert (await asyncio.wait_for(live.next(), 30))["_id"] == second["_id"]
    finally:
        await hub.stop()
