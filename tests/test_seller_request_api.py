"""Seller requests through the API: the form, limits, the partner's inbox, transitions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from datastore import collections as c
from datastore.documents import SellerDocument
from datastore.enums import Market, PartnerStatus
from datastore.store import DocumentStore
from resolvers.identity import Role
from tests.conftest import (
    GraphQLClient,
    Make,
    token,
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


def _form(*partner_ids: str, **business: Any) -> dict[str, Any]:
    return {
        "input": {
            "contact": {"subject": "Mia Chen", "email": "mia@shop.example"},
            "business": {
                "companySize": "SIZE_11_50",
                "currency": "USD",
                "shopMonthlyGmv": "25000.50",
                "monthlyBudget": "1500",
                "mainProductCategory": "BEAUTY_AND_PERSONAL_CARE",
                **business,
            },
            "partnerIds": list(partner_ids),
        }
    }


async def _ok(gql: GraphQLClient, query: str, variables: dict[str, Any], caller: str) -> Any:
    result = await gql(query, variables, as_=caller)
    assert "errors" not in result, result
    return next(iter(result["data"].values()))


@pytest.fixture
async def seller(make: Make) -> SellerDocument:
    return await make.seller()


def _as(document: Mapping[str, Any], role: Role) -> str:
    return token(role, document["_id"])


async def test_one_request_per_partner_with_the_whole_form(
    gql: GraphQLClient, make: Make, seller: Mapping[str, Any]
) -> None:
    first, second = await make.partner(), await make.partner()
    form = _form(first["_id"], second["_id"], otherChannelsMonthlyGmv="100", otherDetails="  Hi ")
    form["input"]["contact"]["location"] = "Austin, TX"
    created = await _ok(gql, CREATE, form, _as(seller, Role.SELLER))
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
    form = _form(partner["_id"])
    form["input"]["idempotencyKey"] = "submit-1"
    first = await _ok(gql, CREATE, form, _as(seller, Role.SELLER))
    again = await _ok(gql, CREATE, form, _as(seller, Role.SELLER))
    assert [r["id"] for r in again["requests"]] == [r["id"] for r in first["requests"]]
    assert again["userErrors"] == []
    assert await store.count(c.REQUESTS) == 1


async def test_bad_input_is_refused_with_field_and_code_and_nothing_written(
    gql: GraphQLClient, make: Make, seller: Mapping[str, Any], store: DocumentStore
) -> None:
    partner = await make.partner()
    closed = await make.partner(status=PartnerStatus.CLOSED)
    form = _form(
        partner["_id"],
        partner["_id"],
        closed["_id"],
        "ptn_01aaaaaaaaaaaaaaaaaaaaaaaa",
        shopMonthlyGmv="-1",
        monthlyBudget="1e13",
    )
    form["input"]["contact"] = {"subject": " ", "email": "not-an-email"}
    refused = await _ok(gql, CREATE, form, _as(seller, Role.SELLER))
    assert {(tuple(e["field"]), e["code"]) for e in refused["userErrors"]} == {
        (("input", "contact", "subject"), "REQUIRED"),
        (("input", "contact", "email"), "INVALID_EMAIL"),
        (("input", "business", "shopMonthlyGmv"), "NEGATIVE_AMOUNT"),
        (("input", "business", "monthlyBudget"), "AMOUNT_TOO_LARGE"),
        (("input", "partnerIds", "1"), "DUPLICATE_PARTNER"),
        (("input", "partnerIds", "2"), "PARTNER_CLOSED"),
        (("input", "partnerIds", "3"), "PARTNER_NOT_FOUND"),
    }
    empty = await _ok(gql, CREATE, _form(), _as(seller, Role.SELLER))
    assert empty["userErrors"][0]["code"] == "NO_PARTNERS"
    unknown_currency = await gql(
        CREATE, _form(partner["_id"], currency="DOGE"), as_=_as(seller, Role.SELLER)
    )
    assert "DOGE" in unknown_currency["errors"][0]["message"]
    assert await store.count(c.REQUESTS) == 0
    assert await store.count(c.HISTORY) == 0


async def test_seller_without_shop_account_gets_the_partners_email_instead(
    gql: GraphQLClient, make: Make
) -> None:
    partner = await make.partner(contactEmail="hello@partner.example")
    newcomer = await make.seller(hasShopAccount=False)
    refused = await _ok(gql, CREATE, _form(partner["_id"]), _as(newcomer, Role.SELLER))
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
    await _ok(gql, CREATE, _form(partner["_id"]), _as(seller, Role.SELLER))
    twice = await _ok(gql, CREATE, _form(partner["_id"]), _as(seller, Role.SELLER))
    assert twice["userErrors"][0]["code"] == "OPEN_REQUEST_EXISTS"
    others = [await make.partner() for _ in range(20)]
    for index in range(0, 19, 10):
        batch = [p["_id"] for p in others[index : index + 10]][: 19 - index]
        assert not (await _ok(gql, CREATE, _form(*batch), _as(seller, Role.SELLER)))["userErrors"]
    assert await store.count(c.REQUESTS) == 20
    over = await _ok(gql, CREATE, _form(others[-1]["_id"]), _as(seller, Role.SELLER))
    assert over["userErrors"][0]["code"] == "TOO_MANY_OPEN_REQUESTS"
    assert await store.count(c.REQUESTS) == 20


async def test_partner_inbox_transitions_and_history(
    gql: GraphQLClient, make: Make, seller: Mapping[str, Any]
) -> None:
    partner, other = await make.partner(), await make.partner()
    created = await _ok(gql, CREATE, _form(partner["_id"], other["_id"]), _as(seller, Role.SELLER))
    mine, theirs = (r["id"] for r in created["requests"])
    inbox = await gql(INBOX, {}, as_=_as(partner, Role.PARTNER))
    assert [e["node"]["id"] for e in inbox["data"]["requests"]["edges"]] == [mine]
    foreign = await _ok(gql, ACCEPT, {"id": theirs}, _as(partner, Role.PARTNER))
    assert foreign["userErrors"][0]["code"] == "NOT_FOUND"
    no_reason = await _ok(gql, REJECT, {"id": mine, "reason": " "}, _as(partner, Role.PARTNER))
    assert no_reason["userErrors"][0]["code"] == "REASON_REQUIRED"
    accepted = await _ok(gql, ACCEPT, {"id": mine}, _as(partner, Role.PARTNER))
    assert accepted["request"]["status"] == "PARTNER_ACCEPTED"
    again = await _ok(gql, ACCEPT, {"id": mine}, _as(partner, Role.PARTNER))
    assert again["userErrors"][0]["code"] == "INVALID_TRANSITION"
    rejected_late = await _ok(gql, REJECT, {"id": mine, "reason": "x"}, _as(partner, Role.PARTNER))
    assert rejected_late["userErrors"][0]["code"] == "INVALID_TRANSITION"
    rejected = await _ok(
        gql, REJECT, {"id": theirs, "reason": "Not our market"}, _as(other, Role.PARTNER)
    )
    assert (rejected["request"]["status"], rejected["request"]["statusReason"]) == (
        "REJECTED",
        "Not our market",
    )
    cannot_close = await _ok(gql, CLOSE, {"id": theirs}, _as(seller, Role.SELLER))
    assert cannot_close["userErrors"][0]["code"] == "INVALID_TRANSITION"
    closed = await _ok(gql, CLOSE, {"id": mine}, _as(seller, Role.SELLER))
    assert (closed["request"]["status"], closed["request"]["closedBy"]) == ("CLOSED", "SELLER")
    actions = [
        (e["node"]["action"], e["node"]["actorRole"]) for e in closed["request"]["history"]["edges"]
    ]
    assert actions == [("CLOSED", "SELLER"), ("ACCEPTED", "PARTNER"), ("CREATED", "SELLER")]
    mine_list = await gql(INBOX, {"status": ["CLOSED"]}, as_=_as(seller, Role.SELLER))
    assert [e["node"]["id"] for e in mine_list["data"]["requests"]["edges"]] == [mine]
    stranger = await make.seller()
    hidden = await _ok(gql, CLOSE, {"id": mine}, _as(stranger, Role.SELLER))
    assert hidden["userErrors"][0]["code"] == "NOT_FOUND"


async def test_roles_on_request_mutations(
    gql: GraphQLClient, make: Make, seller: Mapping[str, Any], admin: str
) -> None:
    partner = await make.partner()
    created = await _ok(gql, CREATE, _form(partner["_id"]), _as(seller, Role.SELLER))
    request_id = created["requests"][0]["id"]
    for caller in (None, _as(partner, Role.PARTNER), admin):
        refused = await gql(CREATE, _form(partner["_id"]), as_=caller)
        assert refused["errors"][0]["extensions"]["code"] == (
            "UNAUTHENTICATED" if caller is None else "FORBIDDEN"
        )
    for caller in (None, _as(seller, Role.SELLER), admin):
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
    created = await _ok(gql, CREATE, _form(partner["_id"]), _as(seller, Role.SELLER))
    request_id = created["requests"][0]["id"]
    await _ok(gql, ACCEPT, {"id": request_id}, _as(partner, Role.PARTNER))
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
    accepted = await gql(
        "mutation($t: String!) { authorizeServiceOffer(token: $t) { userErrors { code } } }",
        {"t": offer["linkToken"]},
        as_=_as(seller, Role.SELLER),
    )
    assert accepted["data"]["authorizeServiceOffer"]["userErrors"] == []
    query = f"query($id: ID!) {{ node(id: $id) {{ ... on SellerRequest {{ {REQUEST_FIELDS} }} }} }}"
    seen = (await gql(query, {"id": request_id}, as_=_as(partner, Role.PARTNER)))["data"]["node"]
    assert seen["status"] == "CONNECTED"
    assert seen["history"]["edges"][0]["node"]["reasonCode"] == "AUTHORIZED"
    closed = await _ok(gql, CLOSE, {"id": request_id}, _as(partner, Role.PARTNER))
    assert closed["request"]["closedBy"] == "PARTNER"


async def test_closing_a_partner_closes_its_open_requests(
    gql: GraphQLClient, make: Make, seller: Mapping[str, Any], admin: str
) -> None:
    partner = await make.partner()
    created = await _ok(gql, CREATE, _form(partner["_id"]), _as(seller, Role.SELLER))
    await gql(
        "mutation($i: ClosePartnerInput!) { closePartner(input: $i) { userErrors { code } } }",
        {"i": {"id": partner["_id"], "reason": "Policy"}},
        as_=admin,
    )
    mine = await gql(INBOX, {}, as_=_as(seller, Role.SELLER))
    assert [e["node"]["status"] for e in mine["data"]["requests"]["edges"]] == ["CLOSED"]
    assert created["requests"][0]["id"] == mine["data"]["requests"]["edges"][0]["node"]["id"]
