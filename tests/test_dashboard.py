"""The partner dashboard: offers, their services and authorizations with seller, shops and
history, in one query whose round trips do not grow with the number of offers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from datastore.enums import Market
from datastore.store import DocumentStore
from tests.conftest import (
    GraphQLClient,
    Make,
    accept,
    token_of,
)

# Pages sized to stay under the single-query cost maximum (1,000), as a dashboard must.
DASHBOARD = """{ viewer { partner { name serviceOffers(first: 10) { edges { node {
  id status services { name category { name } }
  authorizations(first: 3) { edges { node { id status grantsAccess endDate
    seller { name } shops { name } tiktokAccounts { handle linkedStatus } service { name }
    history(first: 3) { edges { node { action reasonCode } } } } } } } } } } } }"""


async def _accepted_offers(
    count: int, gql: GraphQLClient, store: DocumentStore, partner: Mapping[str, Any], make: Make
) -> None:
    services = [await make.service(partner) for _ in range(3)]
    for _ in range(count):
        offer = await make.offer(
            partner,
            services,
            days=60,
            settings={
                "authorizeObject": "SHOP_AND_TTUID",
                "ticketAuthorization": True,
                "tspAccess": True,
                "dataCompassAccess": False,
            },
        )
        await accept(gql, offer, await make.seller(market=Market.ID))


async def test_dashboard_round_trips_do_not_grow_with_offers(
    gql: GraphQLClient, store: DocumentStore, make: Make
) -> None:
    costs = []
    for count in (2, 10):
        partner = await make.partner()
        await _accepted_offers(count, gql, store, partner, make)
        store.stats.reset()
        result = await gql(DASHBOARD, as_=token_of(partner))
        offers = result["data"]["viewer"]["partner"]["serviceOffers"]["edges"]
        assert len(offers) == count
        for offer in offers:
            authorizations = offer["node"]["authorizations"]["edges"]
            assert len(authorizations) == 3
            first = authorizations[0]["node"]
            assert first["grantsAccess"] is True
            assert first["shops"] == [{"name": "Main shop"}]
            assert first["tiktokAccounts"] == [{"handle": "@seller", "linkedStatus": "LINKED"}]
            assert first["history"]["edges"][0]["node"]["action"] == "AUTHORIZED"
        costs.append(store.stats.round_trips)
    assert costs[0] == costs[1]
    # partner, offers, services, authorizations, sellers, shops, accounts, history
    assert costs[0] <= 8
