"""Authorizations through the API: from offers, links and the store; renew, cancel, expire,
unlink, partner removal; access and history."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

import pytest

from datastore import collections as c
from datastore.codec import utc_now
from datastore.documents import offer_changes_of
from datastore.enums import Market, SellerKind, ServiceStatus, ServiceType
from datastore.ids import new_id
from datastore.store import DocumentStore
from resolvers.authorization_lifecycle import sweep_expired
from resolvers.authorization_rules import check_dates, horizon, renewed_end
from resolvers.identity import Role
from resolvers.offer_dates import day_after, day_start, last_day
from resolvers.validation import Checks
from tests.conftest import (
    GraphQLClient,
    Make,
    accepted_offer,
    token,
    token_of,
)

AUTH_FIELDS = """id status statusReason channel startDate endDate grantsAccess
  settings { authorizeObject ticketAuthorization tspAccess dataCompassAccess }
  contact { name email phone } shops { id } tiktokAccounts { id linkedStatus }
  service { id } partner { id } seller { id }
  changesFromOffer { field offered { text flag number ids texts }
    consented { text flag number ids texts } }
  history { edges { node { action reasonCode fromStatus toStatus } } }"""
ACCEPT = f"""mutation($token: String!, $input: AuthorizeServiceOfferInput) {{
  authorizeServiceOffer(token: $token, input: $input) {{
    authorizations {{ {AUTH_FIELDS} }} userErrors {{ field message code }} }} }}"""
BY_LINK = f"""mutation($token: String!, $input: AuthorizeServiceInput!) {{
  authorizeService(serviceLinkToken: $token, input: $input) {{
    authorization {{ {AUTH_FIELDS} }} userErrors {{ field message code }} }} }}"""
FROM_STORE = f"""mutation($id: ID!, $input: AuthorizeServiceInput!) {{
  authorizeStoreService(serviceId: $id, input: $input) {{
    authorization {{ {AUTH_FIELDS} }} userErrors {{ field message code }} }} }}"""
RENEW = f"""mutation($id: ID!, $period: RenewalPeriod!) {{
  renewAuthorization(id: $id, period: $period) {{
    authorization {{ {AUTH_FIELDS} }} userErrors {{ field message code }} }} }}"""
CANCEL = f"""mutation($id: ID!) {{ cancelAuthorization(id: $id) {{
    authorization {{ {AUTH_FIELDS} }} userErrors {{ field message code }} }} }}"""
UNLINK = """mutation($id: ID!) { unlinkTikTokAccount(id: $id) {
    tiktokAccount { id linkedStatus } endedAuthorizations { id status statusReason }
    userErrors { field message code } } }"""
LIST = """query($days: Int, $status: [AuthorizationStatus!]) {
  authorizations(expiringWithinDays: $days, status: $status) {
    edges { node { id status endDate } } } }"""
SETTINGS = {
    "authorizeObject": "SHOP",
    "ticketAuthorization": True,
    "tspAccess": False,
    "dataCompassAccess": True,
}


def _value(typed: dict[str, Any] | None) -> Any:
    """The one non-null field of a ChangedValue (None for no value)."""
    if typed is None:
        return None
    (value,) = [v for v in typed.values() if v is not None]
    return value


def _today() -> date:
    return utc_now().date()


async def _first_shop(store: DocumentStore, seller: Mapping[str, Any]) -> str:
    return str((await store.find(c.SHOPS, {"sellerId": seller["_id"]}))[0]["_id"])


async def _first_account(store: DocumentStore, seller: Mapping[str, Any]) -> str:
    return str((await store.find(c.TIKTOK_ACCOUNTS, {"sellerId": seller["_id"]}))[0]["_id"])


async def test_one_click_accept_creates_one_authorization_per_service(
    gql: GraphQLClient,
    store: DocumentStore,
    partner: Mapping[str, Any],
    seller: Mapping[str, Any],
    make: Make,
) -> None:
    services = [await make.service(partner), await make.service(partner, type=ServiceType.CUSTOM)]
    offer = await make.offer(partner, services, contact={"name": "Ana"})
    accepted = await gql.payload(ACCEPT, {"token": offer["linkToken"]}, as_=token_of(seller))
    assert accepted["userErrors"] == []
    granted = accepted["authorizations"]
    assert [a["service"]["id"] for a in granted] == [s["_id"] for s in services]
    for authorization in granted:
        assert authorization["status"] == "ACTIVE"
        assert authorization["channel"] == "SERVICE_OFFER"
        assert authorization["settings"] == SETTINGS
        assert authorization["contact"] == {"name": "Ana", "email": None, "phone": None}
        assert authorization["shops"] == [{"id": await _first_shop(store, seller)}]
        assert authorization["tiktokAccounts"] == []  # SHOP covers no accounts
        assert authorization["grantsAccess"] is True
        assert authorization["changesFromOffer"] == []
        assert authorization["history"]["edges"][0]["node"]["action"] == "AUTHORIZED"
    stored_offer = (await store.get_many(c.SERVICE_OFFERS, [offer["_id"]]))[offer["_id"]]
    assert stored_offer["status"] == "ACCEPTED"
    again = await gql.payload(ACCEPT, {"token": offer["linkToken"]}, as_=token_of(seller))
    assert [a["id"] for a in again["authorizations"]] == [a["id"] for a in granted]
    assert await store.count(c.AUTHORIZATIONS) == 2
    assert await store.count(c.OFFER_ACCEPTANCES) == 1


async def test_edited_accept_keeps_what_the_seller_changed(
    gql: GraphQLClient,
    store: DocumentStore,
    partner: Mapping[str, Any],
    seller: Mapping[str, Any],
    make: Make,
) -> None:
    kept, dropped = await make.service(partner), await make.service(partner)
    offer = await make.offer(partner, [kept, dropped])
    end = _today() + timedelta(days=30)
    edits = {
        "serviceIds": [kept["_id"]],
        "endDate": end.isoformat(),
        "settings": {**SETTINGS, "authorizeObject": "SHOP_AND_TTUID", "dataCompassAccess": False},
        "contact": {"name": "Bo", "email": "bo@shop.example", "phone": "+62 812-000-111"},
        "tiktokAccountIds": [await _first_account(store, seller)],
    }
    accepted = await gql.payload(
        ACCEPT, {"token": offer["linkToken"], "input": edits}, as_=token_of(seller)
    )
    assert accepted["userErrors"] == []
    (authorization,) = accepted["authorizations"]
    assert authorization["endDate"] == end.isoformat()
    assert authorization["contact"]["phone"] == "+62812000111"
    assert len(authorization["tiktokAccounts"]) == 1
    changes = {
        c["field"]: (_value(c["offered"]), _value(c["consented"]))
        for c in authorization["changesFromOffer"]
    }
    assert changes["serviceIds"] == ([kept["_id"], dropped["_id"]], [kept["_id"]])
    assert changes["endDate"][1] == end.isoformat()
    assert changes["settings.authorizeObject"] == ("SHOP", "SHOP_AND_TTUID")
    assert changes["settings.dataCompassAccess"] == (True, False)
    assert changes["contact.name"] == (None, "Bo")
    assert "settings.tspAccess" not in changes
    # Stored as a list of paths: no stored key holds a dot (MongoDB cannot $set one).
    stored = (await store.get_many(c.AUTHORIZATIONS, [authorization["id"]]))[authorization["id"]]
    assert [change["path"] for change in offer_changes_of(stored)] == [
        field["field"] for field in authorization["changesFromOffer"]
    ]
    assert isinstance(stored.get("offerChanges"), list)


def test_changes_from_offer_read_older_documents_keyed_by_path() -> None:
    older = {
        "offerChanges": {
            "serviceIds": {"offered": ["svc_a", "svc_b"], "consented": ["svc_a"]},
            "settings.tspAccess": {"offered": True, "consented": False},
            "contact.name": {"consented": "Bo"},
        }
    }
    assert offer_changes_of(older) == [
        {"path": "serviceIds", "offered": ["svc_a", "svc_b"], "consented": ["svc_a"]},
        {"path": "settings.tspAccess", "offered": True, "consented": False},
        {"path": "contact.name", "consented": "Bo"},
    ]
    assert offer_changes_of({}) == []


async def test_refused_accepts_write_nothing(
    gql: GraphQLClient,
    store: DocumentStore,
    partner: Mapping[str, Any],
    seller: Mapping[str, Any],
    make: Make,
) -> None:
    service = await make.service(partner)
    offer = await make.offer(partner, [service], days=10)
    other_seller = await make.seller()
    foreign_shop = await _first_shop(store, other_seller)
    cases = {
        "SERVICE_NOT_IN_OFFER": {"serviceIds": [new_id("svc")]},
        "NO_SERVICES": {"serviceIds": []},
        "DATES_OUTSIDE_OFFER": {"endDate": (_today() + timedelta(days=11)).isoformat()},
        "START_IN_PAST": {"startDate": (_today() - timedelta(days=1)).isoformat()},
        "END_NOT_AFTER_START": {
            "startDate": (_today() + timedelta(days=5)).isoformat(),
            "endDate": (_today() + timedelta(days=5)).isoformat(),
        },
        "SHOP_NOT_FOUND": {"shopIds": [foreign_shop]},
        "SHOP_REQUIRED": {"shopIds": []},
        "NOT_COVERED_BY_AUTHORIZE_OBJECT": {
            "tiktokAccountIds": [await _first_account(store, seller)]
        },
        "INVALID_EMAIL": {"contact": {"email": "nope"}},
    }
    for code, edits in cases.items():
        refused = await gql.payload(
            ACCEPT, {"token": offer["linkToken"], "input": edits}, as_=token_of(seller)
        )
        assert code in [e["code"] for e in refused["userErrors"]], (code, refused)
    unknown = await gql.payload(ACCEPT, {"token": "not-a-token"}, as_=token_of(seller))
    assert unknown["userErrors"][0]["code"] == "OFFER_NOT_FOUND"
    assert await store.count(c.AUTHORIZATIONS) == 0
    assert await store.count(c.OFFER_ACCEPTANCES) == 0
    assert (await store.get_many(c.SERVICE_OFFERS, [offer["_id"]]))[offer["_id"]][
        "status"
    ] == "OPEN"


async def test_withdrawn_expired_and_closed_partner_offers_cannot_be_accepted(
    gql: GraphQLClient,
    store: DocumentStore,
    partner: Mapping[str, Any],
    seller: Mapping[str, Any],
    make: Make,
) -> None:
    service = await make.service(partner)
    withdrawn = await make.offer(partner, [service])
    await store.update(
        c.SERVICE_OFFERS, withdrawn["_id"], expected_version=1, changes={"status": "WITHDRAWN"}
    )
    expired = await make.offer(partner, [service])
    await store.update(
        c.SERVICE_OFFERS,
        expired["_id"],
        expected_version=1,
        changes={"endsAt": utc_now() - timedelta(minutes=1)},
    )
    closed_partner = await make.partner(status="CLOSED")
    closed_offer = await make.offer(closed_partner, [await make.service(closed_partner)])
    deactivated = await make.service(partner, status=ServiceStatus.DEACTIVATED)
    stale = await make.offer(partner, [deactivated])
    for offer, code in (
        (withdrawn, "OFFER_WITHDRAWN"),
        (expired, "OFFER_EXPIRED"),
        (closed_offer, "PARTNER_CLOSED"),
        (stale, "SERVICE_NOT_LIVE"),
    ):
        refused = await gql.payload(ACCEPT, {"token": offer["linkToken"]}, as_=token_of(seller))
        assert refused["userErrors"][0]["code"] == code
    assert await store.count(c.AUTHORIZATIONS) == 0


async def test_a_service_no_longer_live_is_named_where_the_seller_named_it(
    gql: GraphQLClient,
    store: DocumentStore,
    partner: Mapping[str, Any],
    seller: Mapping[str, Any],
    make: Make,
) -> None:
    """A one-click accept sends no input: the link (``token``) is at fault, not an input path
    the client never sent. A seller who listed the services is pointed into their own list,
    though accepted services keep the offer's order."""
    live = await make.service(partner)
    deactivated = await make.service(partner, status=ServiceStatus.DEACTIVATED)
    offer = await make.offer(partner, [live, deactivated])
    one_click = await gql.payload(ACCEPT, {"token": offer["linkToken"]}, as_=token_of(seller))
    assert [(e["field"], e["code"]) for e in one_click["userErrors"]] == [
        (["token"], "SERVICE_NOT_LIVE")
    ]
    chosen = {"serviceIds": [deactivated["_id"], live["_id"]]}
    edited = await gql.payload(
        ACCEPT, {"token": offer["linkToken"], "input": chosen}, as_=token_of(seller)
    )
    assert [(e["field"], e["code"]) for e in edited["userErrors"]] == [
        (["input", "serviceIds", "0"], "SERVICE_NOT_LIVE")
    ]
    assert await store.count(c.AUTHORIZATIONS) == 0


async def test_two_sellers_racing_for_one_offer_exactly_one_wins(
    gql: GraphQLClient, store: DocumentStore, partner: Mapping[str, Any], make: Make
) -> None:
    offer = await make.offer(partner, [await make.service(partner)])
    racers = [await make.seller(market=Market.ID) for _ in range(4)]
    results = await asyncio.gather(
        *(gql(ACCEPT, {"token": offer["linkToken"]}, as_=token_of(s)) for s in racers)
    )
    payloads = [r["data"]["authorizeServiceOffer"] for r in results]
    winners = [p for p in payloads if not p["userErrors"]]
    losers = [p for p in payloads if p["userErrors"]]
    assert len(winners) == 1
    assert {e["userErrors"][0]["code"] for e in losers} == {"OFFER_ALREADY_ACCEPTED"}
    assert await store.count(c.AUTHORIZATIONS) == 1


async def test_default_application_through_a_service_link(
    gql: GraphQLClient, store: DocumentStore, partner: Mapping[str, Any], make: Make
) -> None:
    restricted = await make.seller(kind=SellerKind.CROSS_BORDER, market=Market.US)
    service = await make.service(partner, type=ServiceType.CUSTOM)
    details = {
        "startDate": _today().isoformat(),
        "endDate": (_today() + timedelta(days=60)).isoformat(),
        "settings": SETTINGS,
    }
    granted = await gql.payload(
        BY_LINK,
        {"token": service["authorizationLinkToken"], "input": details},
        as_=token_of(restricted),
    )
    assert granted["userErrors"] == []
    assert granted["authorization"]["channel"] == "SERVICE_LINK"
    # Authorizing again through a link extends the active authorization instead of duplicating.
    longer = {**details, "endDate": (_today() + timedelta(days=120)).isoformat()}
    renewed = await gql.payload(
        BY_LINK,
        {"token": service["authorizationLinkToken"], "input": longer},
        as_=token_of(restricted),
    )
    assert renewed["authorization"]["id"] == granted["authorization"]["id"]
    assert renewed["authorization"]["endDate"] == longer["endDate"]
    assert renewed["authorization"]["history"]["edges"][0]["node"]["action"] == "RENEWED"
    assert await store.count(c.AUTHORIZATIONS) == 1
    unknown = await gql.payload(
        BY_LINK, {"token": "nope", "input": details}, as_=token_of(restricted)
    )
    # The argument the client sent, not a field of its input.
    assert [(e["field"], e["code"]) for e in unknown["userErrors"]] == [
        (["serviceLinkToken"], "NOT_FOUND")
    ]


@pytest.mark.parametrize(
    ("kind", "market", "allowed"),
    [
        (SellerKind.LOCAL, Market.ID, True),
        (SellerKind.LOCAL, Market.DE, True),
        (SellerKind.LOCAL, Market.US, False),
        (SellerKind.LOCAL, Market.GB, False),
        (SellerKind.CROSS_BORDER, Market.ID, False),
    ],
)
async def test_region_rule_for_store_authorization_and_renewal(
    gql: GraphQLClient,
    store: DocumentStore,
    partner: Mapping[str, Any],
    make: Make,
    kind: SellerKind,
    market: Market,
    allowed: bool,
) -> None:
    seller = await make.seller(kind=kind, market=market)
    service = await make.service(partner)
    details = {
        "startDate": _today().isoformat(),
        "endDate": (_today() + timedelta(days=30)).isoformat(),
        "settings": SETTINGS,
    }
    result = await gql.payload(
        FROM_STORE, {"id": service["_id"], "input": details}, as_=token_of(seller)
    )
    if not allowed:
        assert result["userErrors"][0]["code"] == "REGION_RESTRICTED"
        assert await store.count(c.AUTHORIZATIONS) == 0
        offer = await make.offer(partner, [service])
        via_link = await gql.payload(ACCEPT, {"token": offer["linkToken"]}, as_=token_of(seller))
        authorization_id = via_link["authorizations"][0]["id"]
    else:
        assert result["userErrors"] == []
        assert result["authorization"]["channel"] == "STORE"
        authorization_id = result["authorization"]["id"]
    renewed = await gql.payload(
        RENEW, {"id": authorization_id, "period": "THREE_MONTHS"}, as_=token_of(seller)
    )
    if allowed:
        assert renewed["userErrors"] == []
        assert renewed["authorization"]["history"]["edges"][0]["node"]["action"] == "RENEWED"
    else:
        assert renewed["userErrors"][0]["code"] == "REGION_RESTRICTED"


async def test_renew_extends_by_calendar_months(
    gql: GraphQLClient,
    store: DocumentStore,
    partner: Mapping[str, Any],
    seller: Mapping[str, Any],
    make: Make,
) -> None:
    offer = await make.offer(partner, [await make.service(partner)], days=40)
    (granted,) = (await gql.payload(ACCEPT, {"token": offer["linkToken"]}, as_=token_of(seller)))[
        "authorizations"
    ]
    stored = (await store.get_many(c.AUTHORIZATIONS, [granted["id"]]))[granted["id"]]
    renewed = await gql.payload(
        RENEW, {"id": granted["id"], "period": "TWELVE_MONTHS"}, as_=token_of(seller)
    )
    after = (await store.get_many(c.AUTHORIZATIONS, [granted["id"]]))[granted["id"]]
    assert after["endsAt"].year == stored["endsAt"].year + 1
    assert after["endsAt"].month == stored["endsAt"].month
    assert renewed["authorization"]["statusReason"] == "RENEWED"


@pytest.mark.parametrize(
    ("last", "months", "renewed_last"),
    [
        ("2027-03-30", 1, "2027-04-30"),
        ("2027-01-28", 1, "2027-02-28"),
        ("2027-01-31", 1, "2027-02-28"),
        ("2027-08-30", 6, "2028-02-29"),
        ("2027-04-30", 1, "2027-05-30"),
        ("2027-06-30", 1, "2027-07-30"),
        ("2027-12-31", 12, "2028-12-31"),
    ],
)
def test_a_renewal_adds_calendar_months_to_the_last_day(
    last: str, months: int, renewed_last: str
) -> None:
    now = day_start(date(2027, 1, 1))
    ends_at = day_after(date.fromisoformat(last))
    renewed = renewed_end(ends_at, months, now, now)
    assert last_day(renewed) == date.fromisoformat(renewed_last)


def test_authorizing_and_offering_share_one_three_year_horizon() -> None:
    today = date(2026, 12, 8)
    latest = date(2029, 12, 8)  # what createServiceOffer allows from today
    checks = Checks()
    check_dates(checks, today, latest, today)
    assert not checks.problems
    check_dates(checks, today, latest + timedelta(days=1), today)
    [problem] = checks.problems
    assert (problem.code, "2029-12-08" in problem.message) == ("DATES_OUT_OF_RANGE", True)
    assert last_day(horizon(day_start(today), day_start(today))) == latest


async def test_cancel_ends_access_at_once_and_only_the_owner_may(
    gql: GraphQLClient,
    store: DocumentStore,
    partner: Mapping[str, Any],
    seller: Mapping[str, Any],
    make: Make,
) -> None:
    granted = (await accepted_offer(gql, make, partner, seller)).authorization_id
    stranger = await make.seller()
    foreign = await gql.payload(CANCEL, {"id": granted}, as_=token_of(stranger))
    assert foreign["userErrors"][0]["code"] == "NOT_FOUND"
    as_partner = await gql(CANCEL, {"id": granted}, as_=token_of(partner))
    assert as_partner["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    canceled = await gql.payload(CANCEL, {"id": granted}, as_=token_of(seller))
    body = canceled["authorization"]
    assert (body["status"], body["statusReason"], body["grantsAccess"]) == (
        "CANCELED",
        "CANCELED_BY_SELLER",
        False,
    )
    days = "query($id: ID!) { node(id: $id) { ... on Authorization { daysRemaining } } }"
    left = await gql(days, {"id": granted}, as_=token_of(seller))
    assert left["data"]["node"]["daysRemaining"] == 0  # "0 ... once ended"
    twice = await gql.payload(CANCEL, {"id": granted}, as_=token_of(seller))
    assert twice["userErrors"][0]["code"] == "NOT_ACTIVE"
    # The seller can authorize the same service again afterwards.
    offer_again = await make.offer(partner, [await make.service(partner)])
    assert not (
        await gql.payload(ACCEPT, {"token": offer_again["linkToken"]}, as_=token_of(seller))
    )["userErrors"]


async def test_expired_reads_completed_at_once_and_the_sweep_persists_it(
    gql: GraphQLClient,
    store: DocumentStore,
    partner: Mapping[str, Any],
    seller: Mapping[str, Any],
    make: Make,
) -> None:
    granted = (await accepted_offer(gql, make, partner, seller)).authorization_id
    stored = (await store.get_many(c.AUTHORIZATIONS, [granted]))[granted]
    await store.update(
        c.AUTHORIZATIONS,
        granted,
        expected_version=stored["version"],
        changes={"endsAt": utc_now() - timedelta(seconds=1)},
    )
    query = f"query($id: ID!) {{ node(id: $id) {{ ... on Authorization {{ {AUTH_FIELDS} }} }} }}"
    seen = (await gql(query, {"id": granted}, as_=token_of(seller)))["data"]["node"]
    assert (seen["status"], seen["statusReason"], seen["grantsAccess"]) == (
        "COMPLETED",
        "EXPIRED",
        False,
    )
    completed = await gql(LIST, {"status": ["COMPLETED"]}, as_=token_of(seller))
    assert [e["node"]["id"] for e in completed["data"]["authorizations"]["edges"]] == [granted]
    assert (await gql(LIST, {"status": ["ACTIVE"]}, as_=token_of(seller)))["data"][
        "authorizations"
    ]["edges"] == []
    assert await sweep_expired(store) == 1
    assert await sweep_expired(store) == 0
    persisted = (await store.get_many(c.AUTHORIZATIONS, [granted]))[granted]
    assert (persisted["status"], persisted["statusReason"]) == ("COMPLETED", "EXPIRED")
    assert "activeKey" not in persisted


async def test_expiring_within_days_for_seller_and_partner(
    gql: GraphQLClient,
    store: DocumentStore,
    partner: Mapping[str, Any],
    seller: Mapping[str, Any],
    make: Make,
) -> None:
    soon = await make.offer(partner, [await make.service(partner)], days=10)
    later = await make.offer(partner, [await make.service(partner)], days=40)
    for offer in (soon, later):
        await gql.payload(ACCEPT, {"token": offer["linkToken"]}, as_=token_of(seller))
    for caller in (token_of(seller), token_of(partner)):
        result = await gql(LIST, {"days": 15}, as_=caller)
        ending = result["data"]["authorizations"]["edges"]
        assert [e["node"]["endDate"] for e in ending] == [
            (_today() + timedelta(days=10)).isoformat()
        ]
    everything = await gql(LIST, {}, as_=token_of(partner))
    assert len(everything["data"]["authorizations"]["edges"]) == 2
    for days in (-1, 367):
        bad = await gql(LIST, {"days": days}, as_=token_of(seller))
        assert bad["errors"][0]["extensions"]["code"] == "INVALID_EXPIRING_WITHIN_DAYS"
        assert bad["errors"][0]["path"] == ["authorizations"]
    anonymous = await gql(LIST, {})
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_expiring_within_days_agrees_with_days_remaining(
    gql: GraphQLClient,
    store: DocumentStore,
    partner: Mapping[str, Any],
    seller: Mapping[str, Any],
    make: Make,
) -> None:
    for days in (1, 14, 15, 16, 30):
        offer = await make.offer(partner, [await make.service(partner)], days=days)
        accepted = await gql.payload(ACCEPT, {"token": offer["linkToken"]}, as_=token_of(seller))
        assert accepted["userErrors"] == []
    query = """query($days: Int) { authorizations(expiringWithinDays: $days, first: 50) {
      edges { node { id daysRemaining } } } }"""
    everything = await gql.payload(query, {}, as_=token_of(seller))
    remaining = {e["node"]["id"]: e["node"]["daysRemaining"] for e in everything["edges"]}
    assert sorted(remaining.values()) == [1, 14, 15, 16, 30]
    for within in (0, 1, 15, 16, 29, 30):
        listed = await gql.payload(query, {"days": within}, as_=token_of(seller))
        ids = {e["node"]["id"] for e in listed["edges"]}
        assert ids == {i for i, left in remaining.items() if left <= within}, within


async def test_unlinking_an_account_ends_every_authorization_that_covered_it(
    gql: GraphQLClient,
    store: DocumentStore,
    partner: Mapping[str, Any],
    seller: Mapping[str, Any],
    make: Make,
) -> None:
    account = await _first_account(store, seller)
    only_account = await make.offer(
        partner,
        [await make.service(partner)],
        settings={**SETTINGS, "authorizeObject": "TTUID"},
    )
    # Shops too: it covered the account, so it ends as well (SPEC §5), though shops remain.
    both = await make.offer(
        partner,
        [await make.service(partner)],
        settings={**SETTINGS, "authorizeObject": "SHOP_AND_TTUID"},
    )
    shops_only = await make.offer(
        partner,
        [await make.service(partner)],
        settings={**SETTINGS, "authorizeObject": "SHOP"},
    )
    granted = [
        (await gql.payload(ACCEPT, {"token": offer["linkToken"]}, as_=token_of(seller)))[
            "authorizations"
        ][0]
        for offer in (only_account, both, shops_only)
    ]
    result = await gql.payload(UNLINK, {"id": account}, as_=token_of(seller))
    assert result["tiktokAccount"]["linkedStatus"] == "UNLINKED"
    assert result["endedAuthorizations"] == [
        {"id": granted[0]["id"], "status": "CANCELED", "statusReason": "ACCOUNT_UNLINKED"},
        {"id": granted[1]["id"], "status": "CANCELED", "statusReason": "ACCOUNT_UNLINKED"},
    ]
    query = f"query($id: ID!) {{ node(id: $id) {{ ... on Authorization {{ {AUTH_FIELDS} }} }} }}"
    ended = (await gql(query, {"id": granted[1]["id"]}, as_=token_of(seller)))["data"]["node"]
    assert (ended["status"], ended["grantsAccess"]) == ("CANCELED", False)
    assert ended["tiktokAccounts"] == [{"id": account, "linkedStatus": "UNLINKED"}]
    kept = (await gql(query, {"id": granted[2]["id"]}, as_=token_of(seller)))["data"]["node"]
    assert kept["status"] == "ACTIVE"
    again = await gql.payload(UNLINK, {"id": account}, as_=token_of(seller))
    assert again["userErrors"][0]["code"] == "ALREADY_UNLINKED"


async def test_closing_a_partner_closes_its_authorizations(
    gql: GraphQLClient,
    store: DocumentStore,
    partner: Mapping[str, Any],
    seller: Mapping[str, Any],
    make: Make,
    admin: str,
) -> None:
    granted = (await accepted_offer(gql, make, partner, seller)).authorization_id
    closed = await gql(
        """mutation($input: ClosePartnerInput!) {
          closePartner(input: $input) { userErrors { code } } }""",
        {"input": {"id": partner["_id"], "reason": "Policy violation"}},
        as_=admin,
    )
    assert closed["data"]["closePartner"]["userErrors"] == []
    query = f"query($id: ID!) {{ node(id: $id) {{ ... on Authorization {{ {AUTH_FIELDS} }} }} }}"
    seen = (await gql(query, {"id": granted}, as_=token_of(seller)))["data"]["node"]
    assert (seen["status"], seen["statusReason"], seen["grantsAccess"]) == (
        "CLOSED",
        "PARTNER_REMOVED",
        False,
    )
    assert seen["history"]["edges"][0]["node"] == {
        "action": "CLOSED",
        "reasonCode": "PARTNER_REMOVED",
        "fromStatus": "ACTIVE",
        "toStatus": "CLOSED",
    }


async def test_who_sees_an_authorization(
    gql: GraphQLClient,
    store: DocumentStore,
    partner: Mapping[str, Any],
    seller: Mapping[str, Any],
    make: Make,
) -> None:
    granted = (await accepted_offer(gql, make, partner, seller)).authorization_id
    query = """query($id: ID!) { node(id: $id) { ... on Authorization { id
      seller { id name shops { edges { node { id } } } } shops { id } } } }"""
    as_partner = await gql(query, {"id": granted}, as_=token_of(partner))
    node = as_partner["data"]["node"]
    assert node["shops"] == [{"id": await _first_shop(store, seller)}]
    assert node["seller"]["shops"]["edges"] == []  # only the covered shops, via the authorization
    for caller in (
        token(Role.PARTNER, (await make.partner())["_id"]),
        token_of(await make.seller()),
        None,
    ):
        hidden = await gql(query, {"id": granted}, as_=caller)
        assert hidden["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    mine = await gql(LIST, {}, as_=token_of(seller))
    assert [e["node"]["id"] for e in mine["data"]["authorizations"]["edges"]] == [granted]


OFFER_STATES = (
    "future start",
    "start passed",
    "last day today",
    "withdrawn",
    "expired",
    "accepted by another seller",
    "partner closed",
    "service deactivated",
)


@pytest.mark.parametrize("state", OFFER_STATES)
async def test_can_be_accepted_and_one_click_never_disagree(
    gql: GraphQLClient,
    store: DocumentStore,
    partner: Mapping[str, Any],
    seller: Mapping[str, Any],
    make: Make,
    state: str,
) -> None:
    service = await make.service(partner)
    offer = await make.offer(partner, [service], days=30)
    starts = offer["startsAt"]
    changes: dict[str, Any] = {}
    if state == "future start":
        changes = {"startsAt": starts + timedelta(days=3)}
    elif state == "start passed":
        changes = {"startsAt": starts - timedelta(days=10)}
    elif state == "last day today":
        changes = {"startsAt": starts - timedelta(days=10), "endsAt": day_after(_today())}
    elif state == "withdrawn":
        changes = {"status": "WITHDRAWN"}
    elif state == "expired":
        changes = {"startsAt": starts - timedelta(days=40), "endsAt": day_start(_today())}
    elif state == "accepted by another seller":
        other = await make.seller(market=Market.ID)
        await gql.payload(ACCEPT, {"token": offer["linkToken"]}, as_=token_of(other))
    elif state == "partner closed":
        await store.update(
            c.PARTNERS,
            partner["_id"],
            expected_version=partner["version"],
            changes={"status": "CLOSED"},
        )
    elif state == "service deactivated":
        await store.update(
            c.SERVICES,
            service["_id"],
            expected_version=service["version"],
            changes={"status": ServiceStatus.DEACTIVATED},
        )
    if changes:
        stored = (await store.get_many(c.SERVICE_OFFERS, [offer["_id"]]))[offer["_id"]]
        await store.update(
            c.SERVICE_OFFERS, offer["_id"], expected_version=stored["version"], changes=changes
        )
    read = await gql(
        """query($token: String!) { serviceOfferByLink(token: $token) { canBeAccepted } }""",
        {"token": offer["linkToken"]},
        as_=token_of(seller),
    )
    can = read["data"]["serviceOfferByLink"]["canBeAccepted"]
    accepted = await gql.payload(ACCEPT, {"token": offer["linkToken"]}, as_=token_of(seller))
    assert can == (accepted["userErrors"] == []), (state, can, accepted["userErrors"])
    assert can == (state in ("future start", "start passed", "last day today")), state
    if state in ("start passed", "last day today"):
        (authorization,) = accepted["authorizations"]
        assert authorization["startDate"] == _today().isoformat()
        assert authorization["changesFromOffer"] == []
        assert (
            authorization["endDate"]
            == (
                _today() if state == "last day today" else _today() + timedelta(days=30)
            ).isoformat()
        )


async def test_a_service_the_store_does_not_list_is_answered_as_unknown(
    gql: GraphQLClient, make: Make
) -> None:
    partner = await make.partner()
    seller = await make.seller(kind=SellerKind.LOCAL, market=Market.ID)
    details = {
        "startDate": _today().isoformat(),
        "endDate": (_today() + timedelta(days=30)).isoformat(),
        "settings": SETTINGS,
    }
    unlisted = [
        (await make.service(partner, status="DRAFT"))["_id"],
        (await make.service(partner, type="CUSTOM"))["_id"],
        (await make.service(partner, status="DEACTIVATED"))["_id"],
    ]
    answers = [
        (await gql.payload(FROM_STORE, {"id": i, "input": details}, as_=token_of(seller)))[
            "userErrors"
        ]
        for i in [*unlisted, new_id("svc")]
    ]
    # A draft, a custom service and one turned off read as an id that names nothing.
    assert (
        answers
        == [[{"field": ["serviceId"], "message": "no service here", "code": "NOT_FOUND"}]] * 4
    )
