"""What a client developer trips over, from the client's side: one refused field keeps the rest
of the response, every error carries a code, and malformed values reach a clear refusal."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from datastore import collections as c
from datastore.codec import utc_now
from datastore.enums import Market, PartnerStatus
from datastore.ids import new_id
from datastore.store import DocumentStore
from edge.extension import CACHED_LENGTH
from resolvers.identity import Role
from resolvers.offer_dates import day_after, day_start
from tests.conftest import GraphQLClient, Make, request_form, token, token_of

SETTINGS = {
    "authorizeObject": "SHOP",
    "ticketAuthorization": True,
    "tspAccess": False,
    "dataCompassAccess": True,
}
BY_LINK = """mutation($token: String!, $input: AuthorizeServiceInput!) {
  authorizeService(serviceLinkToken: $token, input: $input) {
    authorization { id endDate } userErrors { field code } } }"""
RENEW = """mutation($id: ID!, $period: RenewalPeriod!) {
  renewAuthorization(id: $id, period: $period) {
    authorization { id endDate } userErrors { field code message } } }"""
CREATE_REQUEST = """mutation($input: CreateRequestInput!) { createRequest(input: $input) {
    requests { id } userErrors { field code } } }"""
WEBHOOK = """mutation($url: String!) {
  createWebhookSubscription(url: $url, types: [REQUEST_RECEIVED]) {
    webhookSubscription { id } userErrors { code } } }"""
EXPORT = """mutation($query: String!) { startBulkExport(input: {query: $query}) {
  bulkExport { id } userErrors { code } } }"""
CREATE_OFFER = """mutation($input: CreateServiceOfferInput!) { createServiceOffer(input: $input) {
    serviceOffer { id } userErrors { field code } } }"""
ACCEPT = """mutation($token: String!, $key: String) {
  authorizeServiceOffer(token: $token, input: {idempotencyKey: $key}) {
    authorizations { id } userErrors { field code } } }"""


async def _body(gql: GraphQLClient, query: str, variables: Any = None, caller: Any = None) -> Any:
    response = await gql.post(query, variables, as_=caller)
    assert response.status_code < 500, response.text
    return response.json()


def _codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


# --- One forbidden root field nulls that field only (item 5) ---------------------------------


async def test_a_forbidden_root_field_leaves_the_rest_of_the_response(
    gql: GraphQLClient, make: Make
) -> None:
    partner = await make.partner()
    body = await _body(
        gql,
        "{ viewer { role } store(first: 1) { edges { node { id } } } partners { edges { node "
        "{ id } } } }",
        caller=token_of(partner),
    )
    assert body["data"]["viewer"] == {"role": "PARTNER"}
    assert body["data"]["store"] == {"edges": []}
    assert body["data"]["partners"] is None
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["partners"], "FORBIDDEN")
    ]


async def test_a_forbidden_mutation_leaves_the_other_mutations_of_the_document(
    gql: GraphQLClient, make: Make
) -> None:
    seller = await make.seller()
    partner = await make.partner()
    body = await _body(
        gql,
        """mutation($p: ID!) {
          closeRequest(id: "req_01aaaaaaaaaaaaaaaaaaaaaaaa") { userErrors { field code } }
          closePartner(input: {id: $p, reason: "x"}) { userErrors { code } } }""",
        {"p": partner["_id"]},
        token_of(seller),
    )
    assert body["data"]["closeRequest"] == {"userErrors": [{"field": ["id"], "code": "NOT_FOUND"}]}
    assert body["data"]["closePartner"] is None
    assert _codes(body) == ["FORBIDDEN"]


# --- Error codes everywhere (item 6) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        ("{ viewer { role }", None, "GRAPHQL_PARSE_FAILED"),
        ("query { viewer { nope } }", None, "GRAPHQL_VALIDATION_FAILED"),
        ('{ authorizations(first: "x") { totalCount } }', None, "GRAPHQL_VALIDATION_FAILED"),
        (
            "query($n: Int) { serviceCategories(first: $n) { edges { cursor } } }",
            {"n": "x"},
            "BAD_USER_INPUT",
        ),
        ("query($t: String!) { serviceOfferByLink(token: $t) { id } }", {}, "BAD_USER_INPUT"),
        (
            CREATE_REQUEST,
            {"input": {"contact": {"subject": "x", "email": "a@b.example"}, "partnerIds": []}},
            "BAD_USER_INPUT",
        ),
    ],
    ids=[
        "parse",
        "unknown field",
        "literal of the wrong type",
        "variable of the wrong type",
        "missing variable",
        "incomplete input",
    ],
)
async def test_errors_of_the_request_carry_a_code(
    gql: GraphQLClient, query: str, variables: Any, code: str
) -> None:
    body = await _body(gql, query, variables, token(Role.ADMIN))
    assert body["errors"] and _codes(body) == [code] * len(body["errors"]), body


@pytest.mark.parametrize(
    "broken",
    [
        "{ viewer { role } ",
        "{ viewer { role } } }",
        '{ partner(id: "unterminated) { id } }',
        "{ nodes(ids: " + "[" * 300 + "]" * 300 + ") { id } }",
    ],
    ids=["unclosed", "extra brace", "unterminated string", "list nested 300 deep"],
)
@pytest.mark.parametrize(
    "padding",
    ["", " " * CACHED_LENGTH, "#" + "x" * CACHED_LENGTH],
    ids=["short", "padded with spaces", "padded with a comment"],
)
async def test_a_syntax_error_is_a_parse_failure_whatever_the_document_s_length(
    gql: GraphQLClient, broken: str, padding: str
) -> None:
    # A document longer than CACHED_LENGTH is parsed in the validation lane and its syntax
    # error answered in the validation step: it is still a parse failure, not a validation one.
    body = await _body(gql, broken + padding)
    [error] = body["errors"]
    assert error["message"].startswith("Syntax Error"), error
    assert error["extensions"]["code"] == "GRAPHQL_PARSE_FAILED", error


async def test_anonymous_is_unauthenticated_and_a_wrong_role_forbidden(
    gql: GraphQLClient, make: Make
) -> None:
    seller = await make.seller()
    query = "{ partners { edges { node { id } } } }"
    assert _codes(await _body(gql, query)) == ["UNAUTHENTICATED"]
    assert _codes(await _body(gql, query, caller=token_of(seller))) == ["FORBIDDEN"]


# --- Malformed values reach a clear refusal (item 7) -----------------------------------------


@pytest.mark.parametrize("amount", ["NaN", "sNaN", "Infinity", "-Infinity", "-NaN"])
async def test_a_money_amount_that_is_not_a_number_is_a_user_error(
    gql: GraphQLClient, store: DocumentStore, make: Make, amount: str
) -> None:
    seller, partner = await make.seller(), await make.partner()
    body = await _body(
        gql,
        CREATE_REQUEST,
        request_form(partner["_id"], shopMonthlyGmv=amount, otherChannelsMonthlyGmv=amount),
        token_of(seller),
    )
    refused = body["data"]["createRequest"]
    assert {(tuple(e["field"]), e["code"]) for e in refused["userErrors"]} == {
        (("input", "business", "shopMonthlyGmv"), "INVALID_AMOUNT"),
        (("input", "business", "otherChannelsMonthlyGmv"), "INVALID_AMOUNT"),
    }
    assert await store.count(c.REQUESTS) == 0


def _dates(start: date, end: date) -> dict[str, Any]:
    return {"startDate": start.isoformat(), "endDate": end.isoformat(), "settings": SETTINGS}


async def test_renewals_stop_at_the_horizon_authorizing_allows(
    gql: GraphQLClient, store: DocumentStore, make: Make
) -> None:
    seller = await make.seller(market=Market.ID)
    service = await make.service(await make.partner())
    caller = token_of(seller)
    today = utc_now().date()
    granted = await _body(
        gql,
        BY_LINK,
        {"token": service["authorizationLinkToken"], "input": _dates(today, today + timedelta(30))},
        caller,
    )
    authorization = granted["data"]["authorizeService"]["authorization"]
    ends = []
    for _ in range(5):
        body = await _body(
            gql, RENEW, {"id": authorization["id"], "period": "TWELVE_MONTHS"}, caller
        )
        payload = body["data"]["renewAuthorization"]
        if payload["userErrors"]:
            break
        ends.append(payload["authorization"]["endDate"])
    assert len(ends) == 2  # 30 days + 2 years fit in three years; a third year does not
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        (["period"], "DATES_OUT_OF_RANGE")
    ]
    stored = (await store.get_many(c.AUTHORIZATIONS, [authorization["id"]]))[authorization["id"]]
    assert stored["endsAt"].date().isoformat() > ends[-1]  # unchanged by the refusal
    assert stored["endsAt"] == day_after(date.fromisoformat(ends[-1]))


async def test_an_authorization_at_the_end_of_the_calendar_is_refused_not_internal(
    gql: GraphQLClient, store: DocumentStore, make: Make
) -> None:
    seller = await make.seller(market=Market.ID)
    partner = await make.partner()
    service = await make.service(partner)
    caller = token_of(seller)
    far = {"token": service["authorizationLinkToken"]}
    for start, end in (
        (date(9999, 12, 1), date(9999, 12, 31)),
        (utc_now().date(), date(9999, 12, 31)),
        (date.max, date.max),
    ):
        body = await _body(gql, BY_LINK, {**far, "input": _dates(start, end)}, caller)
        refused = body["data"]["authorizeService"]["userErrors"]
        assert [e["code"] for e in refused] == ["DATES_OUT_OF_RANGE"], (start, end, refused)
    # An authorization stored by an older release near year 9999 cannot be renewed past it.
    now = utc_now()
    old = await store.insert(
        c.AUTHORIZATIONS,
        {
            "_id": new_id("aut"),
            "sellerId": seller["_id"],
            "partnerId": partner["_id"],
            "serviceId": service["_id"],
            "settings": SETTINGS,
            "shopIds": [],
            "tiktokAccountIds": [],
            "channel": "SERVICE_LINK",
            "startsAt": day_start(now.date()),
            "endsAt": day_start(date(9999, 12, 23)),
            "status": "ACTIVE",
            "statusReason": "AUTHORIZED",
            "createdAt": now,
            "updatedAt": now,
        },
    )
    body = await _body(gql, RENEW, {"id": old["_id"], "period": "TWELVE_MONTHS"}, caller)
    assert [e["code"] for e in body["data"]["renewAuthorization"]["userErrors"]] == [
        "DATES_OUT_OF_RANGE"
    ]


async def test_a_valid_token_for_an_unknown_account_must_sign_in_again(
    gql: GraphQLClient, make: Make
) -> None:
    ghost_partner = token(Role.PARTNER, new_id("ptn"))
    ghost_seller = token(Role.SELLER, new_id("slr"))
    partner = await make.partner()
    service = await make.service(partner)
    link = (await make.offer(partner, [service]))["linkToken"]
    start = utc_now().date() + timedelta(days=1)
    offer = {"input": {"serviceIds": [service["_id"]], **_dates(start, start + timedelta(9))}}
    for query, variables, caller in (
        (CREATE_OFFER, offer, ghost_partner),
        (CREATE_REQUEST, request_form(partner["_id"]), ghost_seller),
        (
            BY_LINK,
            {
                "token": service["authorizationLinkToken"],
                "input": _dates(start, start + timedelta(9)),
            },
            ghost_seller,
        ),
        # The seller is read with the offer, inside the accept's transaction; first checked.
        (ACCEPT, {"token": link}, ghost_seller),
        (ACCEPT, {"token": link, "key": "k-1"}, ghost_seller),
        (ACCEPT, {"token": "no-such-link"}, ghost_seller),
        (WEBHOOK, {"url": "https://hooks.example.com/tsp"}, ghost_partner),
        (EXPORT, {"query": "{ requests { nodes { id } } }"}, ghost_partner),
        (EXPORT, {"query": "{ requests { nodes { id } } }"}, ghost_seller),
    ):
        body = await _body(gql, query, variables, caller)
        assert _codes(body) == ["UNAUTHENTICATED"], body
        assert next(iter(body["data"].values())) is None


@pytest.mark.parametrize(
    "moment", ["2025-01-01T00:00:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"]
)
async def test_a_moment_the_store_cannot_compare_is_refused_with_a_code(
    gql: GraphQLClient, moment: str
) -> None:
    for query in (
        "query($m: DateTime) { partners(updatedSince: $m) { totalCount } }",
        "query($m: DateTime) { authorizations(filter: {endsAtFrom: $m}) { totalCount } }",
        "query($m: DateTime) { requests(updatedSince: $m) { totalCount } }",
    ):
        body = await _body(gql, query, {"m": moment}, token(Role.ADMIN))
        assert _codes(body) == ["INVALID_DATETIME"], (query, body)


async def test_a_closed_partner_registers_no_webhook_and_starts_no_export(
    gql: GraphQLClient, make: Make
) -> None:
    closed = await make.partner(status=PartnerStatus.CLOSED)
    for query, variables in (
        (WEBHOOK, {"url": "https://hooks.example.com/tsp"}),
        (EXPORT, {"query": "{ authorizations { nodes { id } } }"}),
    ):
        body = await _body(gql, query, variables, token_of(closed))
        payload = next(iter(body["data"].values()))
        assert payload["userErrors"] == [{"code": "PARTNER_CLOSED"}], body
