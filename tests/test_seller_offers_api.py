"""Offers made for one seller: only that seller accepts; its inbox; link holders see nothing
private of that seller."""

from __future__ import annotations

from datastore import collections as c
from datastore.ids import new_id
from datastore.store import DocumentStore
from resolvers.identity import Role
from tests.conftest import GraphQLClient, Make, token, token_of
from tests.test_authorization_api import ACCEPT
from tests.test_seller_accounts_api import LINK
from tests.test_seller_accounts_api import registered as register_seller
from tests.test_service_offer_api import _input

CREATE = """mutation($input: CreateServiceOfferInput!) { createServiceOffer(input: $input) {
  serviceOffer { id linkToken sellerId contact { name email } } userErrors { field code } } }"""
BY_LINK = """query($t: String!) { serviceOfferByLink(token: $t) { id sellerId
  contact { name email } } }"""
CAN = "query($t: String!) { serviceOfferByLink(token: $t) { canBeAccepted } }"
INBOX = """{ viewer { seller { serviceOffers { edges { node { id status sellerId } } } } } }"""
CONTACT = {"name": "Ana Candles", "email": "ana@candles.example"}


async def written(store: DocumentStore) -> list[object]:
    return [
        await store.find(name)
        for name in (c.AUTHORIZATIONS, c.OFFER_ACCEPTANCES, c.SERVICE_OFFERS, c.HISTORY)
    ]


async def test_an_offer_for_one_seller(
    gql: GraphQLClient, store: DocumentStore, make: Make
) -> None:
    partner = await make.partner()
    partner_caller = token_of(partner)
    service = await make.service(partner)
    seller_id, seller = await register_seller(gql)
    _, other = await register_seller(gql)
    for caller in (seller, other):
        await gql(LINK, {"handle": f"@h{caller[-10:].lower().replace('-', '_')}"}, as_=caller)
    offer_input = _input([service["_id"]], sellerId=seller_id, contact=CONTACT)
    created = await gql(CREATE, {"input": offer_input}, as_=partner_caller)
    offer = created["data"]["createServiceOffer"]["serviceOffer"]
    assert offer["sellerId"] == seller_id and offer["contact"] == CONTACT

    # Anyone else holding the link sees the offer but nothing of the seller.
    strangers: tuple[str | None, ...] = (None, other, token(Role.PARTNER, new_id("ptn")))
    for stranger in strangers:
        seen = (await gql(BY_LINK, {"t": offer["linkToken"]}, as_=stranger))["data"]
        assert seen["serviceOfferByLink"] == {"id": offer["id"], "sellerId": None, "contact": None}
    for caller in (seller, partner_caller, token(Role.ADMIN)):
        seen = (await gql(BY_LINK, {"t": offer["linkToken"]}, as_=caller))["data"]
        assert seen["serviceOfferByLink"]["contact"] == CONTACT

    # The seller finds it in its inbox without the link; the other seller's inbox is empty.
    inbox = (await gql(INBOX, as_=seller))["data"]["viewer"]["seller"]["serviceOffers"]
    assert [e["node"] for e in inbox["edges"]] == [
        {"id": offer["id"], "status": "OPEN", "sellerId": seller_id}
    ]
    empty = (await gql(INBOX, as_=other))["data"]["viewer"]["seller"]["serviceOffers"]
    assert empty["edges"] == []

    # Only that seller can accept; another seller's attempt writes nothing.
    expectations: list[tuple[str | None, bool]] = [(seller, True), (other, False), (None, True)]
    for viewer, expected in expectations:
        can = (await gql(CAN, {"t": offer["linkToken"]}, as_=viewer))["data"]
        assert can["serviceOfferByLink"]["canBeAccepted"] is expected
    before = await written(store)
    refused = await gql(ACCEPT, {"token": offer["linkToken"]}, as_=other)
    assert refused["data"]["authorizeServiceOffer"]["userErrors"] == [
        {
            "field": ["token"],
            "message": "this offer was made for another seller",
            "code": "OFFER_FOR_ANOTHER_SELLER",
        }
    ]
    assert await written(store) == before
    accepted = await gql(ACCEPT, {"token": offer["linkToken"]}, as_=seller)
    assert accepted["data"]["authorizeServiceOffer"]["userErrors"] == []
    # After the acceptance the other seller is still told it was not theirs.
    again = await gql(ACCEPT, {"token": offer["linkToken"]}, as_=other)
    assert again["data"]["authorizeServiceOffer"]["userErrors"][0]["code"] == (
        "OFFER_FOR_ANOTHER_SELLER"
    )


async def test_offers_for_whoever_holds_the_link_are_unchanged_and_unknown_sellers_refused(
    gql: GraphQLClient, store: DocumentStore, make: Make
) -> None:
    partner = await make.partner()
    caller = token_of(partner)
    service = await make.service(partner)
    open_to_all = await gql(
        CREATE, {"input": _input([service["_id"]], contact=CONTACT)}, as_=caller
    )
    offer = open_to_all["data"]["createServiceOffer"]["serviceOffer"]
    anonymous = (await gql(BY_LINK, {"t": offer["linkToken"]}))["data"]["serviceOfferByLink"]
    assert anonymous["contact"] == CONTACT and anonymous["sellerId"] is None
    before = await written(store)
    unknown = _input([service["_id"]], sellerId=new_id("slr"))
    refused = await gql(CREATE, {"input": unknown}, as_=caller)
    assert refused["data"]["createServiceOffer"] == {
        "serviceOffer": None,
        "userErrors": [{"field": ["input", "sellerId"], "code": "SELLER_NOT_FOUND"}],
    }
    assert await written(store) == before
