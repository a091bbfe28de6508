"""Idempotency keys through the API (Stripe's rule): a retry returns the first result, the same
key with another input is refused, and racing retries create one result."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from datastore import collections as c
from datastore.catalog import get_catalog
from datastore.codec import utc_now
from datastore.store import DocumentStore
from tests.conftest import GraphQLClient, Make, request_form, token_of

ERRORS = "userErrors { field code }"
CREATE_OFFER = f"""mutation($input: CreateServiceOfferInput!) {{
  createServiceOffer(input: $input) {{ serviceOffer {{ id }} {ERRORS} }} }}"""
CREATE_REQUEST = f"""mutation($input: CreateRequestInput!) {{
  createRequest(input: $input) {{ requests {{ id }} {ERRORS} }} }}"""
APPLY = f"""mutation($input: ApplyForServiceCategoryInput!) {{
  applyForServiceCategory(input: $input) {{ categoryApplication {{ id }} {ERRORS} }} }}"""
BY_LINK = f"""mutation($token: String!, $input: AuthorizeServiceInput!) {{
  authorizeService(serviceLinkToken: $token, input: $input) {{
    authorization {{ id endDate history {{ edges {{ node {{ action }} }} }} }} {ERRORS} }} }}"""
ACCEPT = f"""mutation($token: String!, $input: AuthorizeServiceOfferInput) {{
  authorizeServiceOffer(token: $token, input: $input) {{ authorizations {{ id }} {ERRORS} }} }}"""
RENEW = f"""mutation($id: ID!, $period: RenewalPeriod!, $key: String) {{
  renewAuthorization(id: $id, period: $period, idempotencyKey: $key) {{
    authorization {{ id endDate }} {ERRORS} }} }}"""
SETTINGS = {
    "authorizeObject": "SHOP",
    "ticketAuthorization": True,
    "tspAccess": False,
    "dataCompassAccess": True,
}
REUSED = [(["input", "idempotencyKey"], "IDEMPOTENCY_KEY_REUSED")]


def _codes(payload: dict[str, Any]) -> list[tuple[list[str] | None, str]]:
    return [(e["field"], e["code"]) for e in payload["userErrors"]]


def _offer_input(service_ids: list[str], **fields: Any) -> dict[str, Any]:
    start = utc_now().date() + timedelta(days=1)
    return {
        "serviceIds": service_ids,
        "startDate": start.isoformat(),
        "endDate": (start + timedelta(days=30)).isoformat(),
        "settings": SETTINGS,
        **fields,
    }


def _request_input(partner_id: str, **fields: Any) -> dict[str, Any]:
    return {**request_form(partner_id)["input"], **fields}


def _authorize_input(**fields: Any) -> dict[str, Any]:
    start = utc_now().date() + timedelta(days=1)
    return {
        "startDate": start.isoformat(),
        "endDate": (start + timedelta(days=60)).isoformat(),
        "settings": SETTINGS,
        **fields,
    }


async def test_create_offer_retry_reuse_and_key_scope(
    gql: GraphQLClient, store: DocumentStore, partner: Mapping[str, Any], make: Make
) -> None:
    service = await make.service(partner)
    variables = {"input": _offer_input([service["_id"]], idempotencyKey="offer-1")}
    first = await gql.payload(CREATE_OFFER, variables, as_=token_of(partner))
    again = await gql.payload(CREATE_OFFER, variables, as_=token_of(partner))
    assert again == first and first["userErrors"] == []
    changed = {"input": _offer_input([service["_id"]], idempotencyKey="offer-1", contact=None)}
    changed["input"]["endDate"] = (utc_now().date() + timedelta(days=40)).isoformat()
    reused = await gql.payload(CREATE_OFFER, changed, as_=token_of(partner))
    assert (reused["serviceOffer"], _codes(reused)) == (None, REUSED)
    assert await store.count(c.SERVICE_OFFERS) == 1
    # A key belongs to one caller: another partner's same key is a new key.
    other = await make.partner()
    theirs = await gql.payload(
        CREATE_OFFER,
        {"input": _offer_input([(await make.service(other))["_id"]], idempotencyKey="offer-1")},
        as_=token_of(other),
    )
    assert theirs["userErrors"] == []
    assert theirs["serviceOffer"]["id"] != first["serviceOffer"]["id"]


async def test_a_key_used_by_another_mutation_is_reused(
    gql: GraphQLClient, store: DocumentStore, partner: Mapping[str, Any], make: Make
) -> None:
    service = await make.service(partner)
    variables = {"input": _offer_input([service["_id"]], idempotencyKey="shared")}
    assert (await gql.payload(CREATE_OFFER, variables, as_=token_of(partner)))["userErrors"] == []
    category = get_catalog().find(partner["type"], partner["registrationRegion"])[0]
    market = next(m for m in category.target_markets if m in partner["targetMarkets"])
    apply = {"input": {"categoryId": category.id, "market": market, "idempotencyKey": "shared"}}
    refused = await gql.payload(APPLY, apply, as_=token_of(partner))
    assert _codes(refused) == REUSED
    assert await store.count(c.CATEGORY_APPLICATIONS) == 0


async def test_apply_for_category_retry_and_reuse(
    gql: GraphQLClient, store: DocumentStore, partner: Mapping[str, Any]
) -> None:
    categories = get_catalog().find(partner["type"], partner["registrationRegion"])
    markets = [
        (category, market)
        for category in categories
        for market in category.target_markets
        if market in partner["targetMarkets"]
    ]
    (first_category, first_market), (second_category, second_market) = markets[:2]
    variables = {
        "input": {"categoryId": first_category.id, "market": first_market, "idempotencyKey": "a"}
    }
    first = await gql.payload(APPLY, variables, as_=token_of(partner))
    assert first["userErrors"] == []
    assert await gql.payload(APPLY, variables, as_=token_of(partner)) == first
    other = {
        "input": {"categoryId": second_category.id, "market": second_market, "idempotencyKey": "a"}
    }
    assert _codes(await gql.payload(APPLY, other, as_=token_of(partner))) == REUSED
    assert await store.count(c.CATEGORY_APPLICATIONS) == 1


async def test_create_request_retry_and_reuse(
    gql: GraphQLClient, store: DocumentStore, seller: Mapping[str, Any], make: Make
) -> None:
    partner, other = await make.partner(), await make.partner()
    variables = {"input": _request_input(partner["_id"], idempotencyKey="req-1")}
    first = await gql.payload(CREATE_REQUEST, variables, as_=token_of(seller))
    assert first["userErrors"] == []
    assert await gql.payload(CREATE_REQUEST, variables, as_=token_of(seller)) == first
    changed = {"input": _request_input(other["_id"], idempotencyKey="req-1")}
    reused = await gql.payload(CREATE_REQUEST, changed, as_=token_of(seller))
    assert (reused["requests"], _codes(reused)) == ([], REUSED)
    too_long = {"input": _request_input(other["_id"], idempotencyKey="k" * 101)}
    refused = await gql.payload(CREATE_REQUEST, too_long, as_=token_of(seller))
    assert _codes(refused) == [(["input", "idempotencyKey"], "TOO_LONG")]
    assert await store.count(c.REQUESTS) == 1


async def test_repeated_authorize_service_adds_no_second_history_entry(
    gql: GraphQLClient,
    store: DocumentStore,
    seller: Mapping[str, Any],
    partner: Mapping[str, Any],
    make: Make,
) -> None:
    service = await make.service(partner)
    variables = {
        "token": service["authorizationLinkToken"],
        "input": _authorize_input(idempotencyKey="auth-1"),
    }
    first = await gql.payload(BY_LINK, variables, as_=token_of(seller))
    again = await gql.payload(BY_LINK, variables, as_=token_of(seller))
    assert first["userErrors"] == [] and again == first
    assert [e["node"]["action"] for e in again["authorization"]["history"]["edges"]] == [
        "AUTHORIZED"
    ]
    later = _authorize_input(idempotencyKey="auth-1")
    later["endDate"] = (utc_now().date() + timedelta(days=90)).isoformat()
    reused = await gql.payload(
        BY_LINK, {"token": service["authorizationLinkToken"], "input": later}, as_=token_of(seller)
    )
    assert (reused["authorization"], _codes(reused)) == (None, REUSED)
    assert await store.count(c.AUTHORIZATIONS) == 1
    assert await store.count(c.HISTORY, {"subjectId": first["authorization"]["id"]}) == 1


async def test_one_click_accept_takes_a_key(
    gql: GraphQLClient,
    store: DocumentStore,
    seller: Mapping[str, Any],
    partner: Mapping[str, Any],
    make: Make,
) -> None:
    service = await make.service(partner)
    offer = await gql.payload(
        CREATE_OFFER, {"input": _offer_input([service["_id"]])}, as_=token_of(partner)
    )
    link = (await store.get_many(c.SERVICE_OFFERS, [offer["serviceOffer"]["id"]]))[
        offer["serviceOffer"]["id"]
    ]["linkToken"]
    variables = {"token": link, "input": {"idempotencyKey": "click-1"}}
    first = await gql.payload(ACCEPT, variables, as_=token_of(seller))
    assert first["userErrors"] == [] and len(first["authorizations"]) == 1
    assert await gql.payload(ACCEPT, variables, as_=token_of(seller)) == first
    changed = {"token": link, "input": {"idempotencyKey": "click-1", "contact": {"name": "Mia"}}}
    assert _codes(await gql.payload(ACCEPT, changed, as_=token_of(seller))) == REUSED
    assert await store.count(c.AUTHORIZATIONS) == 1


async def _authorization(
    gql: GraphQLClient, seller: Mapping[str, Any], service: Mapping[str, Any]
) -> dict[str, Any]:
    granted = await gql.payload(
        BY_LINK,
        {"token": service["authorizationLinkToken"], "input": _authorize_input()},
        as_=token_of(seller),
    )
    assert granted["userErrors"] == [], granted
    authorization: dict[str, Any] = granted["authorization"]
    return authorization


async def test_renew_with_a_key_extends_once(
    gql: GraphQLClient,
    store: DocumentStore,
    seller: Mapping[str, Any],
    partner: Mapping[str, Any],
    make: Make,
) -> None:
    authorization = await _authorization(gql, seller, await make.service(partner))
    variables = {"id": authorization["id"], "period": "ONE_MONTH", "key": "renew-1"}
    first = await gql.payload(RENEW, variables, as_=token_of(seller))
    again = await gql.payload(RENEW, variables, as_=token_of(seller))
    assert first["userErrors"] == [] and again == first
    assert first["authorization"]["endDate"] > authorization["endDate"]
    longer = {**variables, "period": "TWELVE_MONTHS"}
    reused = await gql.payload(RENEW, longer, as_=token_of(seller))
    assert (reused["authorization"], _codes(reused)) == (None, [(["idempotencyKey"], REUSED[0][1])])
    renewed = await store.count(c.HISTORY, {"subjectId": authorization["id"], "action": "RENEWED"})
    assert renewed == 1
    # Without a key, each call is a new renewal.
    plain = {"id": authorization["id"], "period": "ONE_MONTH"}
    extended = await gql.payload(RENEW, plain, as_=token_of(seller))
    assert extended["authorization"]["endDate"] > first["authorization"]["endDate"]


ROUNDS = 5
RACERS = 8


async def test_racing_retries_of_a_keyed_create_make_one_result(
    gql: GraphQLClient,
    store: DocumentStore,
    partner: Mapping[str, Any],
    seller: Mapping[str, Any],
    make: Make,
) -> None:
    service = await make.service(partner)
    for round_ in range(ROUNDS):
        key = f"race-{round_}"
        offers = await asyncio.gather(
            *(
                gql.payload(
                    CREATE_OFFER,
                    {"input": _offer_input([service["_id"]], idempotencyKey=key)},
                    as_=token_of(partner),
                )
                for _ in range(RACERS)
            )
        )
        assert all(o["userErrors"] == [] for o in offers), offers
        assert len({o["serviceOffer"]["id"] for o in offers}) == 1
        requests = await asyncio.gather(
            *(
                gql.payload(
                    CREATE_REQUEST,
                    {"input": _request_input(partner["_id"], idempotencyKey=key)},
                    as_=token_of(seller),
                )
                for _ in range(RACERS)
            )
        )
        assert all(r["userErrors"] == [] for r in requests), requests
        assert len({r["requests"][0]["id"] for r in requests}) == 1
        await store.delete_all(c.REQUESTS)  # the seller may hold one open request per partner
    assert await store.count(c.SERVICE_OFFERS) == ROUNDS


async def test_racing_keyed_renewals_extend_once(
    gql: GraphQLClient,
    store: DocumentStore,
    seller: Mapping[str, Any],
    partner: Mapping[str, Any],
    make: Make,
) -> None:
    authorization = await _authorization(gql, seller, await make.service(partner))
    ends = [authorization["endDate"]]
    for round_ in range(ROUNDS):
        variables = {"id": authorization["id"], "period": "ONE_MONTH", "key": f"r-{round_}"}
        renewed = await asyncio.gather(
            *(gql.payload(RENEW, variables, as_=token_of(seller)) for _ in range(RACERS))
        )
        assert all(r["userErrors"] == [] for r in renewed), renewed
        assert len({r["authorization"]["endDate"] for r in renewed}) == 1
        ends.append(renewed[0]["authorization"]["endDate"])
    assert len(set(ends)) == ROUNDS + 1  # each round extended exactly once
    history = await store.count(c.HISTORY, {"subjectId": authorization["id"], "action": "RENEWED"})
    assert history == ROUNDS


async def test_the_same_authorization_sent_again_without_a_key_changes_nothing(
    gql: GraphQLClient,
    store: DocumentStore,
    seller: Mapping[str, Any],
    partner: Mapping[str, Any],
    make: Make,
) -> None:
    service = await make.service(partner)
    variables = {"token": service["authorizationLinkToken"], "input": _authorize_input()}
    first = await gql.payload(BY_LINK, variables, as_=token_of(seller))
    again = await gql.payload(BY_LINK, variables, as_=token_of(seller))
    assert again == first and first["userErrors"] == []
    assert await store.count(c.HISTORY, {"subjectId": first["authorization"]["id"]}) == 1
    # A longer period is a renewal, recorded once.
    longer = _authorize_input()
    longer["endDate"] = (utc_now().date() + timedelta(days=120)).isoformat()
    renewed = await gql.payload(
        BY_LINK, {"token": service["authorizationLinkToken"], "input": longer}, as_=token_of(seller)
    )
    assert renewed["authorization"]["endDate"] == longer["endDate"]
    assert await store.count(c.HISTORY, {"subjectId": first["authorization"]["id"]}) == 2
