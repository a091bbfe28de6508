"""Counter documents the previous release wrote (each figure a dense list of 96 quarter hours)
are converted when the store is set up, on every adapter: counting then goes on in them, and
every figure equals what a rebuild computes from the record."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from datastore import collections as c
from datastore.codec import utc_now
from datastore.documents import PartnerDocument
from datastore.enums import Market
from datastore.store import DocumentStore
from resolvers import insight_figures as f
from resolvers.identity import Role
from resolvers.insight_counter_upgrade import make_counters_sparse
from resolvers.insight_rebuild import rebuild
from resolvers.store_setup import set_up_store
from tests.conftest import GraphQLClient, PartnerFactory, SellerFactory, ServiceFactory, token
from tests.test_insights_api import ACCEPT, CREATE_OFFER, OPEN, PARTNER_INSIGHTS, SETTINGS


def _as_the_previous_release_wrote(document: Mapping[str, Any]) -> dict[str, Any]:
    """A counter document as the release before sparse slots stored it (its ``add_to``):
    ``counts`` and ``acceptance`` always present, each figure 96 slots, the histogram sparse."""
    counts = {}
    for figure, slots in (document.get("counts") or {}).items():
        dense = [0] * f.SLOTS_PER_DAY
        for name, amount in slots.items():
            dense[f.slot_number(name)] += amount
        counts[figure] = dense
    return {**document, "counts": counts, "acceptance": dict(document.get("acceptance") or {})}


async def _offer_accepted(
    gql: GraphQLClient, partner: Mapping[str, Any], services: list[Any], seller: Mapping[str, Any]
) -> None:
    today = utc_now().date()
    offer_input = {
        "serviceIds": [s["_id"] for s in services],
        "startDate": today.isoformat(),
        "endDate": (today + timedelta(days=90)).isoformat(),
        "settings": SETTINGS,
    }
    made = await gql(CREATE_OFFER, {"input": offer_input}, as_=token(Role.PARTNER, partner["_id"]))
    link = made["data"]["createServiceOffer"]["serviceOffer"]["linkToken"]
    caller = token(Role.SELLER, seller["_id"])
    opened = await gql(OPEN, {"token": link, "visitor": None}, as_=caller)
    assert opened["data"]["recordOfferLinkOpen"]["counted"] is True, opened
    accepted = await gql(ACCEPT, {"token": link}, as_=caller)
    assert not accepted["data"]["authorizeServiceOffer"]["userErrors"], accepted


async def _figures(gql: GraphQLClient, partner: Mapping[str, Any], services: list[Any]) -> Any:
    today = utc_now().date().isoformat()
    variables = {
        "id": partner["_id"],
        "from": today,
        "to": today,
        "g": "DAY",
        "tz": "UTC",
        "services": [s["_id"] for s in services],
    }
    answer = await gql(PARTNER_INSIGHTS, variables, as_=token(Role.ADMIN))
    assert "errors" not in answer, answer
    return answer["data"]["partner"]["insights"]


async def _counters(store: DocumentStore) -> dict[str, tuple[Any, ...]]:
    return {
        d["_id"]: (d["scope"], d["day"], d["base"], d.get("counts"), d.get("acceptance"))
        for d in await store.find(c.INSIGHT_COUNTERS)
    }


async def test_old_counters_are_converted_at_set_up_and_count_on_as_rebuilt(
    gql: GraphQLClient,
    store: DocumentStore,
    make_partner: PartnerFactory,
    make_service: ServiceFactory,
    make_seller: SellerFactory,
) -> None:
    partner: PartnerDocument = await make_partner()
    services = [await make_service(partner) for _ in range(3)]
    first, second = await make_seller(market=Market.ID), await make_seller(market=Market.ID)
    await _offer_accepted(gql, partner, services, first)
    # The store as the previous release left it, never set up by this one.
    stored = await store.find(c.INSIGHT_COUNTERS)
    assert stored
    await store.replace_many(
        c.INSIGHT_COUNTERS, [_as_the_previous_release_wrote(d) for d in stored]
    )

    # Two processes starting at once.
    await asyncio.gather(set_up_store(store), set_up_store(store))
    assert not [d for d in await store.find(c.INSIGHT_COUNTERS) if _holds_a_list(d)]
    await _offer_accepted(gql, partner, services, second)

    live = await _figures(gql, partner, services)
    (today,) = live["buckets"]
    assert (today["offersCreated"], today["linkOpens"], today["offersAccepted"]) == (2, 2, 2)
    assert (today["grantedFromOffer"], today["activeAtEnd"]) == (6, 6)
    for per_service in live["services"]:
        (bucket,) = per_service["buckets"]
        assert (bucket["offersAccepted"], bucket["grantedFromOffer"]) == (2, 2)
    counted = await _counters(store)
    await rebuild(store)
    assert await _figures(gql, partner, services) == live
    assert await _counters(store) == counted


def _holds_a_list(document: Mapping[str, Any]) -> bool:
    return any(isinstance(slots, list) for slots in (document.get("counts") or {}).values())


async def test_conversion_goes_a_batch_at_a_time_and_once_per_store(
    store: DocumentStore,
) -> None:
    """Converted a page of ``transaction_batch`` documents at a time, all of them; once the
    store was converted, setting it up reads one document and converts nothing (an old
    document that appeared afterwards, which no process of this release writes, stays)."""
    day = utc_now().date().isoformat()
    old = [
        {
            "_id": f.counter_id(f.partner_scope(f"ptn_{n:02d}"), day),
            "scope": f.partner_scope(f"ptn_{n:02d}"),
            "day": day,
            "base": n,
            "counts": {f.OFFERS_CREATED: [0] * 40 + [n + 1] + [0] * 55, f.CANCELED: [0] * 96},
            "acceptance": {},
        }
        for n in range(23)
    ]
    await store.insert_many(c.INSIGHT_COUNTERS, old)
    batch = store.transaction_batch
    store.transaction_batch = 5
    try:
        assert await make_counters_sparse(store) == 23
    finally:
        store.transaction_batch = batch
    converted = await store.find(c.INSIGHT_COUNTERS, sort=[("base", 1)])
    assert [(d["base"], d.get("counts"), d.get("acceptance")) for d in converted] == [
        (n, {f.OFFERS_CREATED: {"q40": n + 1}}, None) for n in range(23)
    ]
    assert all(d["version"] == 2 for d in converted)

    await store.insert(c.INSIGHT_COUNTERS, {**old[0], "_id": "p:later|" + day})
    store.stats.reset()
    assert await make_counters_sparse(store) == 0
    assert store.stats.round_trips == 1
