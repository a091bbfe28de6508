"""Partners onboard through the API: registerPartner, createPartner, updatePartnerProfile."""

from __future__ import annotations

import asyncio
from typing import Any

from datastore import collections as c
from datastore.ids import new_id
from datastore.store import DocumentStore
from resolvers.identity import Role
from tests.conftest import GraphQLClient, Make, token

REGISTER = """mutation($input: RegisterPartnerInput!) { registerPartner(input: $input) {
  partner { id name type registrationRegion targetMarkets status contactEmail website
    description }
  userErrors { field message code } } }"""
CREATE = """mutation($input: CreatePartnerInput!) { createPartner(input: $input) {
  partner { id name status } userErrors { field code } } }"""
UPDATE = """mutation($input: UpdatePartnerProfileInput!) { updatePartnerProfile(input: $input) {
  partner { id name description contactEmail website logoUrl targetMarkets type
    registrationRegion }
  userErrors { field message code } } }"""
APPLY = """mutation($input: ApplyForServiceCategoryInput!) {
  applyForServiceCategory(input: $input) { categoryApplication { id status } } }"""
ELIGIBLE = "{ viewer { partner { eligibleCategories { id targetMarkets } } } }"


def registration(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "Harbour Commerce Ltd",
        "type": "TSP",
        "registrationRegion": "CN_HK",
        "targetMarkets": ["US", "GB"],
        "contactEmail": "hello@harbour.example",
        "website": "https://harbour.example",
        "description": "Cross-border shop operations.",
        **overrides,
    }


async def counts(store: DocumentStore) -> tuple[int, int]:
    return await store.count(c.PARTNERS), await store.count(c.HISTORY)


async def test_a_new_partner_registers_and_then_applies_for_a_category(
    gql: GraphQLClient, store: DocumentStore
) -> None:
    partner_id = new_id("ptn")
    caller = token(Role.PARTNER, partner_id)
    result = await gql(REGISTER, {"input": registration()}, as_=caller)
    payload = result["data"]["registerPartner"]
    assert payload["userErrors"] == []
    assert payload["partner"] == {
        "id": partner_id,
        "name": "Harbour Commerce Ltd",
        "type": "TSP",
        "registrationRegion": "CN_HK",
        "targetMarkets": ["US", "GB"],
        "status": "ACTIVE",
        "contactEmail": "hello@harbour.example",
        "website": "https://harbour.example",
        "description": "Cross-border shop operations.",
    }
    eligible = (await gql(ELIGIBLE, as_=caller))["data"]["viewer"]["partner"]
    category = next(r["id"] for r in eligible["eligibleCategories"] if "US" in r["targetMarkets"])
    applied = await gql(APPLY, {"input": {"categoryId": category, "market": "US"}}, as_=caller)
    application = applied["data"]["applyForServiceCategory"]["categoryApplication"]
    assert application["status"] == "REVIEWING"
    # Anyone reads the public profile.
    public = await gql(
        "query($id: ID!) { partner(id: $id) { name description website contactEmail } }",
        {"id": partner_id},
    )
    assert public["data"]["partner"]["website"] == "https://harbour.example"


async def test_registering_twice_returns_the_first_or_already_registered(
    gql: GraphQLClient, store: DocumentStore
) -> None:
    caller = token(Role.PARTNER, new_id("ptn"))
    first = await gql(REGISTER, {"input": registration()}, as_=caller)
    before = await counts(store)
    again = await gql(REGISTER, {"input": registration()}, as_=caller)
    assert again["data"]["registerPartner"] == first["data"]["registerPartner"]
    other = await gql(REGISTER, {"input": registration(name="Other Name")}, as_=caller)
    payload = other["data"]["registerPartner"]
    assert payload["partner"] is None
    assert [e["code"] for e in payload["userErrors"]] == ["ALREADY_REGISTERED"]
    assert await counts(store) == before


async def test_concurrent_registrations_of_one_account_create_one_partner(
    gql: GraphQLClient, store: DocumentStore
) -> None:
    for _ in range(5):
        caller = token(Role.PARTNER, new_id("ptn"))
        results = await asyncio.gather(
            *(gql(REGISTER, {"input": registration(name=f"Racer {caller[-8:]}")}, as_=caller)
              for _ in range(6))
        )  # fmt: skip
        ids = {r["data"]["registerPartner"]["partner"]["id"] for r in results}
        assert len(ids) == 1
        assert all(r["data"]["registerPartner"]["userErrors"] == [] for r in results)
    assert await store.count(c.PARTNERS) == 5


async def test_bad_registrations_are_refused_and_write_nothing(
    gql: GraphQLClient, store: DocumentStore, make: Make
) -> None:
    await make.partner(name="Taken Name")
    caller = token(Role.PARTNER, new_id("ptn"))
    cases: list[tuple[dict[str, Any], list[str], str]] = [
        ({"targetMarkets": ["JP"]}, ["input", "targetMarkets"], "MARKET_NOT_IN_REGION"),
        ({"registrationRegion": "US", "targetMarkets": ["GB"]}, ["input", "targetMarkets"],
         "MARKET_NOT_IN_REGION"),
        ({"targetMarkets": []}, ["input", "targetMarkets"], "REQUIRED"),
        ({"targetMarkets": ["US", "US"]}, ["input", "targetMarkets"], "DUPLICATE_MARKET"),
        ({"contactEmail": "not-an-email"}, ["input", "contactEmail"], "INVALID_EMAIL"),
        ({"website": "javascript:alert(1)"}, ["input", "website"], "INVALID_URL"),
        ({"name": "  "}, ["input", "name"], "REQUIRED"),
        ({"name": "x" * 101}, ["input", "name"], "TOO_LONG"),
        ({"name": "Taken Name"}, ["input", "name"], "NAME_TAKEN"),
    ]  # fmt: skip
    before = await counts(store)
    for overrides, field, code in cases:
        result = await gql(REGISTER, {"input": registration(**overrides)}, as_=caller)
        payload = result["data"]["registerPartner"]
        assert payload["partner"] is None, overrides
        assert {"field": field, "code": code} in [
            {"field": e["field"], "code": e["code"]} for e in payload["userErrors"]
        ], (overrides, payload["userErrors"])
    assert await counts(store) == before
    # A token whose account id is not a partner id, and callers of other roles.
    odd = await gql(REGISTER, {"input": registration()}, as_=token(Role.PARTNER, "auth0|x"))
    assert odd["data"]["registerPartner"]["userErrors"][0]["code"] == "INVALID_ACCOUNT_ID"
    seller = await gql(REGISTER, {"input": registration()}, as_=token(Role.SELLER, "slr_x"))
    assert seller["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    anonymous = await gql(REGISTER, {"input": registration()})
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await counts(store) == before


async def test_admins_create_partners_with_idempotency_keys(
    gql: GraphQLClient, store: DocumentStore
) -> None:
    admin = token(Role.ADMIN)
    keyed = {**registration(), "idempotencyKey": "create-1"}
    first = await gql(CREATE, {"input": keyed}, as_=admin)
    again = await gql(CREATE, {"input": keyed}, as_=admin)
    assert first["data"]["createPartner"]["partner"]["id"].startswith("ptn_")
    assert again["data"]["createPartner"] == first["data"]["createPartner"]
    reused = await gql(CREATE, {"input": {**keyed, "name": "Another"}}, as_=admin)
    assert reused["data"]["createPartner"]["userErrors"] == [
        {"field": ["input", "idempotencyKey"], "code": "IDEMPOTENCY_KEY_REUSED"}
    ]
    assert await store.count(c.PARTNERS) == 1
    partner = await gql(CREATE, {"input": registration()}, as_=token(Role.PARTNER, new_id("ptn")))
    assert partner["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_partners_edit_their_profile_region_and_type_stay(
    gql: GraphQLClient, store: DocumentStore
) -> None:
    partner_id = new_id("ptn")
    caller = token(Role.PARTNER, partner_id)
    await gql(REGISTER, {"input": registration(targetMarkets=["US"])}, as_=caller)
    changes = {
        "name": "Harbour Commerce Group",
        "description": "",
        "contactEmail": "team@harbour.example",
        "logoUrl": "https://harbour.example/logo.png",
        "targetMarkets": ["US", "GB", "SG"],
    }
    result = await gql(UPDATE, {"input": changes}, as_=caller)
    payload = result["data"]["updatePartnerProfile"]
    assert payload["userErrors"] == []
    assert payload["partner"] == {
        "id": partner_id,
        "name": "Harbour Commerce Group",
        "description": None,
        "contactEmail": "team@harbour.example",
        "website": "https://harbour.example",
        "logoUrl": "https://harbour.example/logo.png",
        "targetMarkets": ["US", "GB", "SG"],
        "type": "TSP",
        "registrationRegion": "CN_HK",
    }
    history = await store.find(c.HISTORY, {"subjectId": partner_id, "action": "UPDATED"})
    assert len(history) == 1
    # The same edit again changes nothing and records nothing.
    await gql(UPDATE, {"input": changes}, as_=caller)
    assert len(await store.find(c.HISTORY, {"subjectId": partner_id})) == 2


async def test_bad_profile_edits_are_refused_and_write_nothing(
    gql: GraphQLClient, store: DocumentStore, make: Make
) -> None:
    other = await make.partner(name="Someone Else")
    partner_id = new_id("ptn")
    caller = token(Role.PARTNER, partner_id)
    await gql(REGISTER, {"input": registration()}, as_=caller)
    before = await counts(store)
    cases: list[tuple[dict[str, Any], list[str] | None, str]] = [
        ({"targetMarkets": ["US"]}, ["input", "targetMarkets"], "MARKET_REMOVED"),
        ({"targetMarkets": ["US", "GB", "JP"]}, ["input", "targetMarkets"],
         "MARKET_NOT_IN_REGION"),
        ({"contactEmail": "nope"}, ["input", "contactEmail"], "INVALID_EMAIL"),
        ({"contactEmail": ""}, ["input", "contactEmail"], "REQUIRED"),
        ({"website": "ftp://x.example"}, ["input", "website"], "INVALID_URL"),
        ({"logoUrl": "logo.png"}, ["input", "logoUrl"], "INVALID_URL"),
        ({"name": ""}, ["input", "name"], "REQUIRED"),
        ({"name": "Someone Else"}, ["input", "name"], "NAME_TAKEN"),
        ({"id": other["_id"], "name": "Hijack"}, ["input", "id"], "NOT_FOUND"),
    ]  # fmt: skip
    for changes, field, code in cases:
        result = await gql(UPDATE, {"input": changes}, as_=caller)
        payload = result["data"]["updatePartnerProfile"]
        assert payload["partner"] is None, changes
        assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(field, code)], changes
    assert await counts(store) == before
    # Admins edit anyone's profile, naming it.
    admin = await gql(UPDATE, {"input": {"id": other["_id"], "website": "https://x.example"}},
                      as_=token(Role.ADMIN))  # fmt: skip
    assert admin["data"]["updatePartnerProfile"]["partner"]["website"] == "https://x.example"


async def test_public_details_of_a_partner_with_a_live_service(
    gql: GraphQLClient, store: DocumentStore, make: Make
) -> None:
    partner_id = new_id("ptn")
    caller = token(Role.PARTNER, partner_id)
    await gql(REGISTER, {"input": registration()}, as_=caller)
    await gql(UPDATE, {"input": {"logoUrl": "https://harbour.example/l.png"}}, as_=caller)
    partner = (await store.get_many(c.PARTNERS, [partner_id]))[partner_id]
    service = await make.service(partner)
    query = """query { store { edges { node { id partner { name description website logoUrl
      contactEmail } } } } }"""
    result = await gql(query)
    nodes = [e["node"] for e in result["data"]["store"]["edges"]]
    assert nodes == [
        {
            "id": service["_id"],
            "partner": {
                "name": "Harbour Commerce Ltd",
                "description": "Cross-border shop operations.",
                "website": "https://harbour.example",
                "logoUrl": "https://harbour.example/l.png",
                "contactEmail": "hello@harbour.example",
            },
        }
    ]
