"""Seller requests through the API: the form, limits, the partner's inbox, transitions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from datastore import collections as c
from datastore.documents import SellerDocument
from datastore.enums import Market, PartnerStatus
from datastore.store import DocumentStore
from tests.conftest import (
    GraphQLClient,
    Make,
    accept,
    request_form,
    token_of,
)

REQUEST_FIELDS = """id status statusReason closedBy partner { id } seller { id }
  contact { subject email location }
  business { companySize currency shopMonthlyGmv { amount currency } monthlyBudget { amount }
    otherChannelsMonthlyGmv { amount } mainProductCategory bestSellingProduct otherDetails }
  history { edges { node { action fromStatus toStatus actorRole reason reasonCode } } }"""
CREATE = f"""mutation($input: CreateRequestInput!) {{ createRequest(input: $input) {{
  requests {{ {REQUEST_FIELDS} }} userErrors {{ field message code }} }} }}"""
ACCEPT = f"""mutation($id: ID!) {{ acceptRequest(id: $id) {{
  request {{ {REQUEST_FIELDS} }} userErrors {{ field message code }} }} }}"""
REJECT = f"""mutation($id: ID!, $reason: String!) {{ rejectRequest(id: $id, reason: $reason) {{
  request {{ {REQUEST_FIELDS} }} userErrors {{ field message code }} }} }}"""
CLOSE = f"""mutation($id: ID!) {{ closeRequest(id: $id) {{
  request {{ {REQUEST_FIELDS} }} userErrors {{ field message code }} }} }}"""
INBOX = """query($status: [RequestStatus!]) { requests(status: $status) {
  edges { node { id status partner { id } } } } }"""


@pytest.fixture
async def seller(make: Make) -> SellerDocument:
    return await make.seller()


async def test_one_request_per_partner_with_the_whole_form(
    gql: GraphQLClient, make: Make, seller: Mapping[str, Any]
) -> None:
    first, second = await make.partner(), await make.partner()
    form = request_form(
        first["_id"], second["_id"], otherChannelsMonthlyGmv="100", otherDetails="  Hi "
    )
    form["input"]["contact"]["location"] = "Austin, TX"
    created = await gql.payload(CREATE, form, as_=token_of(seller))
    assert created["userErrors"] == []
    requests = created["requests"]
    assert [r["partner"]["id"] for r in requests] == [first["_id"], second["_id"]]
    request = requests[0]
    assert request["status"] == "PARTNER_REVIEWING"
    assert request["contact"] == {
        "subject": "Mia Chen",
        "email": "mia@shop.example",
        "location": "Austin, TX",
    }
    assert request["business"]["shopMonthlyGmv"] == {"amount": "25000.50", "currency": "USD"}
    assert request["business"]["monthlyBudget"] == {"amount": "1500"}
    assert request["business"]["otherChannelsMonthlyGmv"] == {"amount": "100"}
    assert request["business"]["otherDetails"] == "Hi"
    assert request["history"]["edges"][0]["node"]["action"] == "CREATED"


async def test_idempotency_key_returns_the_first_requests(
    gql: GraphQLClient, make: Make, seller: Mapping[str, Any], store: DocumentStore
) -> None:
    partner = await make.partner()
    form = request_form(partner["_id"])
    form["input"]["idempotencyKey"] = "submit-1"
    first = await gql.payload(CREATE, form, as_=token_of(seller))
    again = await gql.payload(CREATE, form, as_=token_of(seller))
    assert [r["id"] for r in again["requests"]] == [r["id"] for r in first["requests"]]
    assert again["userErrors"] == []
    assert await store.count(c.REQUESTS) == 1


async def test_bad_input_is_refused_with_field_and_code_and_nothing_written(
    gql: GraphQLClient, make: Make, seller: Mapping[str, Any], store: DocumentStore
) -> None:
    partner = await make.partner()
    closed = await make.partner(status=PartnerStatus.CLOSED)
    form = request_form(
        partner["_id"],
        partner["_id"],
        closed["_id"],
        "ptn_01aaaaaaaaaaaaaaaaaaaaaaaa",
        shopMonthlyGmv="-1",
        monthlyBudget="1e13",
    )
    form["input"]["contact"] = {"subject": " ", "email": "not-an-email"}
    refused = await gql.payload(CREATE, form, as_=token_of(seller))
    assert {(tuple(e["field"]), e["code"]) for e in refused["userErrors"]} == {
        (("input", "contact", "subject"), "REQUIRED"),
        (("input", "contact", "email"), "INVALID_EMAIL"),
        (("input", "business", "shopMonthlyGmv"), "NEGATIVE_AMOUNT"),
        (("input", "business", "monthlyBudget"), "AMOUNT_TOO_LARGE"),
        (("input", "partnerIds", "1"), "DUPLICATE_PARTNER"),
        # Closed, answered as unknown (as partner(id:) answers it).
        (("input", "partnerIds", "2"), "PARTNER_NOT_FOUND"),
        (("input", "partnerIds", "3"), "PARTNER_NOT_FOUND"),
    }
    empty = await gql.payload(CREATE, request_form(), as_=token_of(seller))
    assert empty["userErrors"][0]["code"] == "NO_PARTNERS"
    unknown_currency = await gql(
        CREATE, request_form(partner["_id"], currency="DOGE"), as_=token_of(seller)
    )
    assert "DOGE" in unknown_currency["errors"][0]["message"]
    assert await store.count(c.REQUESTS) == 0
    assert await store.count(c.HISTORY) == 0


async def test_seller_without_shop_account_gets_the_partners_email_instead(
    gql: GraphQLClient, make: Make
) -> None:
    partner = await make.partner(contactEmail="hello@partner.example")
    newcomer = await make.seller(hasShopAccount=False)
    refused = await gql.payload(CREATE, request_form(partner["_id"]), as_=token_of(newcomer))
    assert refused["userErrors"][0]["code"] == "NO_SHOP_ACCOUNT"
    assert "contactEmail" in refused["userErrors"][0]["message"]
    public = await gql(
        "query($id: ID!) { partner(id: $id) { contactEmail } }", {"id": partner["_id"]}
    )
    assert public["data"]["partner"]["contactEmail"] == "hello@partner.example"


async def test_flood_limits(
    gql: GraphQLClient, make: Make, seller: Mapping[str, Any], store: DocumentStore
) -> None:
    partner = await make.partner()
    await gql.payload(CREATE, request_form(partner["_id"]), as_=token_of(seller))
    twice = await gql.payload(CREATE, request_form(partner["_id"]), as_=token_of(seller))
    assert twice["userErrors"][0]["code"] == "OPEN_REQUEST_EXISTS"
    others = [await make.partner() for _ in range(20)]
    for index in range(0, 19, 10):
        batch = [p["_id"] for p in others[index : index + 10]][: 19 - index]
        assert not (await gql.payload(CREATE, request_form(*batch), as_=token_of(seller)))[
            "userErrors"
        ]
    assert await store.count(c.REQUESTS) == 20
    over = await gql.payload(CREATE, request_form(others[-1]["_id"]), as_=token_of(seller))
    assert over["userErrors"][0]["code"] == "TOO_MANY_OPEN_REQUESTS"
    assert await store.count(c.REQUESTS) == 20


async def test_partner_inbox_transitions_and_history(
    gql: GraphQLClient, make: Make, seller: Mapping[str, Any]
) -> None:
    partner, other = await make.partner(), await make.partner()
    created = await gql.payload(
        CREATE, request_form(partner["_id"], other["_id"]), as_=token_of(seller)
    )
    mine, theirs = (r["id"] for r in created["requests"])
    inbox = await gql(INBOX, {}, as_=token_of(partner))
    assert [e["node"]["id"] for e in inbox["data"]["requests"]["edges"]] == [mine]
    foreign = await gql.payload(ACCEPT, {"id": theirs}, as_=token_of(partner))
    assert foreign["userErrors"][0]["code"] == "NOT_FOUND"
    no_reason = await gql.payload(REJECT, {"id": mine, "reason": " "}, as_=token_of(partner))
    assert no_reason["userErrors"][0]["code"] == "REASON_REQUIRED"
    accepted = await gql.payload(ACCEPT, {"id": mine}, as_=token_of(partner))
    assert accepted["request"]["status"] == "PARTNER_ACCEPTED"
    again = await gql.payload(ACCEPT, {"id": mine}, as_=token_of(partner))
    assert again["userErrors"][0]["code"] == "INVALID_TRANSITION"
    rejected_late = await gql.payload(REJECT, {"id": mine, "reason": "x"}, as_=token_of(partner))
    assert rejected_late["userErrors"][0]["code"] == "INVALID_TRANSITION"
    rejected = await gql.payload(
        REJECT, {"id": theirs, "reason": "Not our market"}, as_=token_of(other)
    )
    assert (rejected["request"]["status"], rejected["request"]["statusReason"]) == (
        "REJECTED",
        "Not our market",
    )
    cannot_close = await gql.payload(CLOSE, {"id": theirs}, as_=token_of(seller))
    assert cannot_close["userErrors"][0]["code"] == "INVALID_TRANSITION"
    closed = await gql.payload(CLOSE, {"id": mine}, as_=token_of(seller))
    assert (closed["request"]["status"], closed["request"]["closedBy"]) == ("CLOSED", "SELLER")
    actions = [
        (e["node"]["action"], e["node"]["actorRole"], e["node"]["reasonCode"])
        for e in closed["request"]["history"]["edges"]
    ]
    assert actions == [
        ("CLOSED", "SELLER", "CLOSED_BY_SELLER"),
        ("ACCEPTED", "PARTNER", "ACCEPTED_BY_PARTNER"),
        ("CREATED", "SELLER", "SENT_BY_SELLER"),
    ]
    [answer, _] = [e["node"] for e in rejected["request"]["history"]["edges"]]
    assert (answer["action"], answer["reasonCode"], answer["reason"]) == (
        "REJECTED",
        "REJECTED_BY_PARTNER",
        "Not our market",
    )
    mine_list = await gql(INBOX, {"status": ["CLOSED"]}, as_=token_of(seller))
    assert [e["node"]["id"] for e in mine_list["data"]["requests"]["edges"]] == [mine]
    stranger = await make.seller()
    hidden = await gql.payload(CLOSE, {"id": mine}, as_=token_of(stranger))
    assert hidden["userErrors"][0]["code"] == "NOT_FOUND"


async def test_roles_on_request_mutations(
    gql: GraphQLClient, make: Make, seller: Mapping[str, Any], admin: str
) -> None:
    partner = await make.partner()
    created = await gql.payload(CREATE, request_form(partner["_id"]), as_=token_of(seller))
    request_id = created["requests"][0]["id"]
    for caller in (None, token_of(partner), admin):
        refused = await gql(CREATE, request_form(partner["_id"]), as_=caller)
        assert refused["errors"][0]["extensions"]["code"] == (
            "UNAUTHENTICATED" if caller is None else "FORBIDDEN"
        )
    for caller in (None, token_of(seller), admin):
        refused = await gql(ACCEPT, {"id": request_id}, as_=caller)
        assert refused["errors"][0]["extensions"]["code"] == (
            "UNAUTHENTICATED" if caller is None else "FORBIDDEN"
        )
    anonymous_close = await gql(CLOSE, {"id": request_id})
    assert anonymous_close["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    everything = await gql(INBOX, {}, as_=admin)
    assert len(everything["data"]["requests"]["edges"]) == 1


async def test_accepted_request_becomes_connected_when_the_seller_authorizes(
    gql: GraphQLClient, make: Make, store: DocumentStore
) -> None:
    seller = await make.seller(market=Market.ID)
    partner = await make.partner()
    created = await gql.payload(CREATE, request_form(partner["_id"]), as_=token_of(seller))
    request_id = created["requests"][0]["id"]
    await gql.payload(ACCEPT, {"id": request_id}, as_=token_of(partner))
    offer = await make.offer(
        partner,
        [await make.service(partner)],
        days=30,
        settings={
            "authorizeObject": "SHOP",
            "ticketAuthorization": False,
            "tspAccess": False,
            "dataCompassAccess": False,
        },
    )
    await accept(gql, offer, seller)
    query = f"query($id: ID!) {{ node(id: $id) {{ ... on SellerRequest {{ {REQUEST_FIELDS} }} }} }}"
    seen = (await gql(query, {"id": request_id}, as_=token_of(partner)))["data"]["node"]
    assert seen["status"] == "CONNECTED"
    assert seen["history"]["edges"][0]["node"]["reasonCode"] == "AUTHORIZED"
    closed = await gql.payload(CLOSE, {"id": request_id}, as_=token_of(partner))
    assert closed["request"]["closedBy"] == "PARTNER"


async def test_closing_a_partner_closes_its_open_requests(
    gql: GraphQLClient, make: Make, seller: Mapping[str, Any], admin: str
) -> None:
    partner = await make.partner()
    created = await gql.payload(CREATE, request_form(partner["_id"]), as_=token_of(seller))
    await gql(
        "mutation($i: ClosePartnerInput!) { closePartner(input: $i) { userErrors { code } } }",
        {"i": {"id": partner["_id"], "reason": "Policy"}},
        as_=admin,
    )
    mine = await gql(INBOX, {}, as_=token_of(seller))
    assert [e["node"]["status"] for e in mine["data"]["requests"]["edges"]] == ["CLOSED"]
    assert created["requests"][0]["id"] == mine["data"]["requests"]["edges"][0]["node"]["id"]
