"""The durable event log: one event per change that matters, in the change's transaction,
dense positions in commit order, the expiring notice once, pruning after the retention."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from datastore import collections as c
from datastore.codec import Document, utc_now
from datastore.enums import AuthorizationStatus
from datastore.ids import new_id
from datastore.store import ASCENDING, DocumentStore
from resolvers import events, history
from resolvers.identity import Role, Viewer
from tests.conftest import GraphQLClient, PartnerFactory, SellerFactory, ServiceFactory, token
from tests.test_seller_request_api import ACCEPT, CREATE, _form


async def _log(store: DocumentStore) -> list[Document]:
    return await store.find(c.EVENTS, sort=[("position", ASCENDING)])


async def authorization(
    store: DocumentStore, partner: Document, seller: Document, service: Document, **fields: Any
) -> Document:
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
            "activeKey": f"{seller['_id']}|{service['_id']}",
            "createdAt": now,
            "updatedAt": now,
            **fields,
        },
    )


async def test_request_moves_write_their_events_with_parties_and_changes(
    gql: GraphQLClient,
    store: DocumentStore,
    make_partner: PartnerFactory,
    make_seller: SellerFactory,
) -> None:
    partner, seller = await make_partner(), await make_seller()
    created = await gql(CREATE, _form(partner["_id"]), as_=token(Role.SELLER, seller["_id"]))
    request_id = created["data"]["createRequest"]["requests"][0]["id"]
    await gql(ACCEPT, {"id": request_id}, as_=token(Role.PARTNER, partner["_id"]))
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


async def test_a_rolled_back_change_writes_no_event(
    store: DocumentStore,
    make_partner: PartnerFactory,
    make_seller: SellerFactory,
    make_service: ServiceFactory,
) -> None:
    partner, seller = await make_partner(), await make_seller()
    granted = await authorization(store, partner, seller, await make_service(partner))

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


async def test_changes_that_mean_no_event_write_none(
    store: DocumentStore, make_partner: PartnerFactory, make_service: ServiceFactory
) -> None:
    service = await make_service(await make_partner())
    await history.record(
        store, subject_id=service["_id"], action="UPDATED", actor=Viewer(Role.ADMIN, "admin")
    )
    assert await _log(store) == []
    assert events.event_type_of(service["_id"], "APPROVED") is events.EventType.SERVICE_REVIEWED


async def test_concurrent_writers_get_dense_unique_positions(
    store: DocumentStore,
    make_partner: PartnerFactory,
    make_seller: SellerFactory,
    make_service: ServiceFactory,
) -> None:
    partner, seller = await make_partner(), await make_seller()
    granted = await authorization(store, partner, seller, await make_service(partner))
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
    store: DocumentStore,
    make_partner: PartnerFactory,
    make_seller: SellerFactory,
    make_service: ServiceFactory,
) -> None:
    partner, seller = await make_partner(), await make_seller()
    soon = await authorization(store, partner, seller, await make_service(partner))
    await authorization(  # ends in 40 days: not yet
        store, partner, seller, await make_service(partner), endsAt=utc_now() + timedelta(40)
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
    store: DocumentStore,
    make_partner: PartnerFactory,
    make_seller: SellerFactory,
    make_service: ServiceFactory,
) -> None:
    partner, seller = await make_partner(), await make_seller()
    granted = await authorization(store, partner, seller, await make_service(partner))
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
