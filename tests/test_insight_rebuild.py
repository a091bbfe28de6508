"""``insights rebuild`` beside a serving gateway: settled days replaced a bounded transaction at a
time give what one transaction over the whole record gives, counters the record does not
produce are deleted, and a rebuild racing live changes leaves what a quiet rebuild computes."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from datastore import collections as c
from datastore.codec import utc_now
from datastore.enums import Market
from datastore.store import Collection, DocumentStore
from resolvers.insight_rebuild import rebuild
from tests.conftest import GraphQLClient, Make, token_of
from tests.test_insights_api import ACCEPT, CANCEL, OPEN, _counters, _offer, _ok

_DAYS_AGO = (9, 9, 5, 4, 4, 2, 1, 0)
"""Where the record is moved: settled days (two and more days ago), yesterday and today."""


async def _record(gql: GraphQLClient, partner: Mapping[str, Any], make: Make) -> None:
    """Offers made, opened, accepted and canceled through the API (all today)."""
    first, second = await make.service(partner), await make.service(partner)
    sellers = [await make.seller(market=Market.ID) for _ in range(3)]
    for index, seller in enumerate(sellers):
        offer = await _offer(gql, partner, [first, second] if index else [second])
        await _ok(gql, OPEN, {"token": offer["linkToken"], "visitor": f"browser-{index}"}, None)
        accepted = await _ok(gql, ACCEPT, {"token": offer["linkToken"]}, token_of(seller))
        if index == 1:
            canceled = accepted["authorizations"][0]["id"]
            await _ok(gql, CANCEL, {"id": canceled}, token_of(seller))


async def _spread_over_days(store: DocumentStore) -> None:
    """Move the record, in its order, across :data:`_DAYS_AGO` (each keeps its time of day)."""
    moved: list[tuple[Collection[Any], str]] = [
        (c.HISTORY, "createdAt"),
        (c.OFFER_LINK_OPENS, "at"),
    ]
    for collection, field in moved:
        found = await store.find(collection, sort=[(field, 1)])
        for position, document in enumerate(found):
            back = timedelta(days=_DAYS_AGO[position * len(_DAYS_AGO) // len(found)])
            await store.update(
                collection,
                document["_id"],
                expected_version=document["version"],
                changes={field: document[field] - back},
            )


async def _scramble(store: DocumentStore) -> list[str]:
    """What a rebuild must put right: every counter's figures wrong, and counters the record does
    not produce (a settled day's and yesterday's); returns the latter's ids."""
    for document in await store.find(c.INSIGHT_COUNTERS):
        await store.update(
            c.INSIGHT_COUNTERS,
            document["_id"],
            expected_version=document["version"],
            changes={"base": 99, "counts": {"offersCreated": {"q1": 7}}},
        )
    ghosts = []
    for days in (6, 1):
        day = (utc_now() - timedelta(days=days)).date().isoformat()
        ghost = f"p:ptn_ghost|{day}"
        await store.insert(
            c.INSIGHT_COUNTERS, {"_id": ghost, "scope": "p:ptn_ghost", "day": day, "base": 3}
        )
        ghosts.append(ghost)
    return ghosts


async def test_settled_days_rebuilt_in_batches_equal_one_transaction_over_the_record(
    gql: GraphQLClient, store: DocumentStore, partner: Mapping[str, Any], make: Make
) -> None:
    await _record(gql, partner, make)
    await _spread_over_days(store)
    ghosts = await _scramble(store)
    # A month ago, no day of the record was settled: one transaction replays all of it.
    whole = await rebuild(store, now=utc_now() - timedelta(days=30))
    expected = await _counters(store)
    assert {d for _, d, *_ in expected.values()} >= {
        (utc_now() - timedelta(days=days)).date().isoformat() for days in set(_DAYS_AGO)
    }
    assert not set(ghosts) & expected.keys()

    await _scramble(store)
    store.transaction_batch = 4  # two counters a transaction: every settled day takes several
    batched = await rebuild(store)
    assert await _counters(store) == expected
    assert batched == whole

    await _scramble(store)
    # A month on, every day of the record is settled: the last transaction replays nothing.
    assert await rebuild(store, now=utc_now() + timedelta(days=30)) == whole
    assert await _counters(store) == expected


async def test_a_rebuild_racing_live_changes_leaves_what_a_quiet_rebuild_computes(
    gql: GraphQLClient, store: DocumentStore, partner: Mapping[str, Any], make: Make
) -> None:
    service = await make.service(partner)
    for round_ in range(6):

        async def opened_offer(index: int, round_: int = round_) -> None:
            offer = await _offer(gql, partner, [service])
            visitor = f"browser-{round_}-{index}"
            await _ok(gql, OPEN, {"token": offer["linkToken"], "visitor": visitor}, None)

        await asyncio.gather(rebuild(store), *(opened_offer(i) for i in range(4)))
    raced = await _counters(store)
    assert raced
    await rebuild(store)
    assert await _counters(store) == raced
