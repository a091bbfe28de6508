"""Partner insights through the API, on a store built through the API: each figure, time zone
boundaries, refusals with codes, retries and races counting once, the rebuild equal to what
was counted live, admins' platform-wide figures and what a series costs."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from datastore import collections as c
from datastore.codec import utc_now
from datastore.documents import PartnerDocument
from datastore.enums import Market, PartnerType
from datastore.store import DocumentStore
from edge.throttle import ThrottlePolicy
from resolvers import insight_counters as counters
from resolvers import insight_figures as figures
from resolvers.authorization_lifecycle import sweep_expired
from resolvers.identity import Role
from resolvers.insight_rebuild import rebuild
from resolvers.insights import Series
from tests.conftest import SETTINGS as APP_SETTINGS
from tests.conftest import (
    GraphQLClient,
    Make,
    ServiceFactory,
    insert_offer,
    request_form,
    serving,
    token,
    token_of,
)

ERRORS = "userErrors { field message code }"
BUCKET = """startDate endDate offersCreated linkOpens offersAccepted authorizationsGranted
  grantedFromOffer grantedFromServiceLink grantedFromStore renewed canceled expired closed
  requestsReceived requestsAccepted requestsRejected activeAtEnd"""
SUMMARY = """linkOpens offersAccepted linkToAuthorizationConversion
  medianTimeToAcceptanceSeconds renewalsDue renewalRate expiringWithin15Days"""
PARTNER_INSIGHTS = f"""query($id: ID!, $from: Date!, $to: Date!, $g: InsightsGranularity!,
  $tz: String!, $services: [ID!]) {{ partner(id: $id) {{
  insights(from: $from, to: $to, granularity: $g, timeZone: $tz, serviceIds: $services) {{
    from to granularity timeZone buckets {{ {BUCKET} }} summary {{ {SUMMARY} }}
    services {{ serviceId buckets {{ {BUCKET} }} summary {{ {SUMMARY} }} }} }} }} }}"""
PLATFORM_INSIGHTS = f"""query($from: Date!, $to: Date!, $market: Market, $type: PartnerType,
  $category: ID) {{ insights(from: $from, to: $to, market: $market, partnerType: $type,
  serviceCategoryId: $category) {{ buckets {{ {BUCKET} }} summary {{ {SUMMARY} }} }} }}"""
CREATE_OFFER = f"""mutation($input: CreateServiceOfferInput!) {{
  createServiceOffer(input: $input) {{ serviceOffer {{ id linkToken }} {ERRORS} }} }}"""
OPEN = f"""mutation($token: String!, $visitor: String) {{
  recordOfferLinkOpen(token: $token, visitorId: $visitor) {{ counted {ERRORS} }} }}"""
ACCEPT = f"""mutation($token: String!, $input: AuthorizeServiceOfferInput) {{
  authorizeServiceOffer(token: $token, input: $input) {{ authorizations {{ id }} {ERRORS} }} }}"""
BY_LINK = f"""mutation($token: String!, $input: AuthorizeServiceInput!) {{
  authorizeService(serviceLinkToken: $token, input: $input) {{
    authorization {{ id }} {ERRORS} }} }}"""
FROM_STORE = f"""mutation($id: ID!, $input: AuthorizeServiceInput!) {{
  authorizeStoreService(serviceId: $id, input: $input) {{ authorization {{ id }} {ERRORS} }} }}"""
RENEW = f"""mutation($id: ID!) {{ renewAuthorization(id: $id, period: ONE_MONTH) {{
  authorization {{ id }} {ERRORS} }} }}"""
CANCEL = f"""mutation($id: ID!) {{ cancelAuthorization(id: $id) {{
  authorization {{ id }} {ERRORS} }} }}"""
CREATE_REQUEST = f"""mutation($input: CreateRequestInput!) {{ createRequest(input: $input) {{
  requests {{ id }} {ERRORS} }} }}"""
ACCEPT_REQUEST = (
    f"""mutation($id: ID!) {{ acceptRequest(id: $id) {{ request {{ id }} {ERRORS} }} }}"""
)
REJECT_REQUEST = f"""mutation($id: ID!) {{ rejectRequest(id: $id, reason: "Not our field") {{
  request {{ id }} {ERRORS} }} }}"""
CLOSE_PARTNER = f"""mutation($id: ID!) {{ closePartner(input: {{id: $id, reason: "Policy"}}) {{
  partner {{ id }} {ERRORS} }} }}"""
SETTINGS = {
    "authorizeObject": "SHOP",
    "ticketAuthorization": True,
    "tspAccess": False,
    "dataCompassAccess": True,
}


def _today() -> date:
    return utc_now().date()


def _details(days: int) -> dict[str, Any]:
    return {
        "startDate": _today().isoformat(),
        "endDate": (_today() + timedelta(days=days)).isoformat(),
        "settings": SETTINGS,
    }


async def _ok(gql: GraphQLClient, query: str, variables: dict[str, Any], caller: str | None) -> Any:
    """:meth:`GraphQLClient.payload`, with no user error either."""
    payload = await gql.payload(query, variables, as_=caller)
    assert not payload.get("userErrors"), payload
    return payload


async def _offer(
    gql: GraphQLClient, partner: Mapping[str, Any], services: list[Any], key: str | None = None
) -> dict[str, Any]:
    offer_input = {
        "serviceIds": [s["_id"] for s in services],
        "startDate": _today().isoformat(),
        "endDate": (_today() + timedelta(days=90)).isoformat(),
        "settings": SETTINGS,
        "idempotencyKey": key,
    }
    made = await _ok(gql, CREATE_OFFER, {"input": offer_input}, token_of(partner))
    return dict(made["serviceOffer"])


async def _insights(
    gql: GraphQLClient,
    partner: Mapping[str, Any],
    caller: str | None = None,
    *,
    first: date | None = None,
    last: date | None = None,
    granularity: str = "DAY",
    time_zone: str = "UTC",
    services: list[str] | None = None,
) -> dict[str, Any]:
    variables = {
        "id": partner["_id"],
        "from": (first or _today()).isoformat(),
        "to": (last or first or _today()).isoformat(),
        "g": granularity,
        "tz": time_zone,
        "services": services,
    }
    return await gql(PARTNER_INSIGHTS, variables, as_=caller or token_of(partner))


def _series(result: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in result, result
    insights: dict[str, Any] = result["data"]["partner"]["insights"]
    return insights


async def _counters(store: DocumentStore) -> dict[str, tuple[Any, ...]]:
    return {
        d["_id"]: (d["scope"], d["day"], d["base"], d.get("counts"), d.get("acceptance"))
        for d in await store.find(c.INSIGHT_COUNTERS)
    }


async def test_every_figure_counted_live_and_rebuilt_the_same(
    gql: GraphQLClient, store: DocumentStore, partner: Mapping[str, Any], make: Make
) -> None:
    first, second = await make.service(partner), await make.service(partner)
    sellers = [await make.seller(market=Market.ID) for _ in range(4)]
    bundle = await _offer(gql, partner, [first, second], key="bundle")
    await _offer(gql, partner, [first, second], key="bundle")  # a retry: counted once
    single = await _offer(gql, partner, [second])
    # Link opens: a browser twice (once), a signed-in seller, the partner previewing (never).
    opens = [
        (bundle["linkToken"], "browser-0001", None, True),
        (bundle["linkToken"], "browser-0001", None, False),
        (bundle["linkToken"], None, token_of(sellers[0]), True),
        (bundle["linkToken"], "browser-0002", token_of(partner), False),
        (single["linkToken"], "browser-0001", None, True),
    ]
    for link, visitor, caller, counted in opens:
        opened = await _ok(gql, OPEN, {"token": link, "visitor": visitor}, caller)
        assert opened["counted"] is counted
    accepted = await _ok(gql, ACCEPT, {"token": bundle["linkToken"]}, token_of(sellers[0]))
    await _ok(
        gql,
        BY_LINK,
        {"token": first["authorizationLinkToken"], "input": _details(10)},
        token_of(sellers[1]),
    )
    from_store = await _ok(
        gql, FROM_STORE, {"id": second["_id"], "input": _details(60)}, token_of(sellers[2])
    )
    seller_token = token_of(sellers[0])
    renewed_id, canceled_id = (a["id"] for a in accepted["authorizations"])
    await _ok(gql, RENEW, {"id": renewed_id}, seller_token)
    await _ok(gql, CANCEL, {"id": canceled_id}, seller_token)
    # The store-granted one runs to its end and the sweep completes it.
    expired_id = from_store["authorization"]["id"]
    stored = (await store.get_many(c.AUTHORIZATIONS, [expired_id]))[expired_id]
    await store.update(
        c.AUTHORIZATIONS,
        expired_id,
        expected_version=stored["version"],
        changes={"endsAt": utc_now() - timedelta(seconds=1)},
    )
    assert await sweep_expired(store) == 1
    form = request_form(partner["_id"])["input"]
    request_ids = []
    for seller in sellers[1:]:
        made = await _ok(gql, CREATE_REQUEST, {"input": form}, token_of(seller))
        request_ids.append(made["requests"][0]["id"])
    await _ok(gql, ACCEPT_REQUEST, {"id": request_ids[0]}, token_of(partner))
    await _ok(gql, REJECT_REQUEST, {"id": request_ids[1]}, token_of(partner))

    series = _series(await _insights(gql, partner, services=[first["_id"], second["_id"]]))
    (today,) = series["buckets"]
    assert today == {
        "startDate": _today().isoformat(),
        "endDate": _today().isoformat(),
        "offersCreated": 2,
        "linkOpens": 3,
        "offersAccepted": 1,
        "authorizationsGranted": 4,
        "grantedFromOffer": 2,
        "grantedFromServiceLink": 1,
        "grantedFromStore": 1,
        "renewed": 1,
        "canceled": 1,
        "expired": 1,
        "closed": 0,
        "requestsReceived": 3,
        "requestsAccepted": 1,
        "requestsRejected": 1,
        # Granted 4, canceled 1, expired 1: the renewed one and the one by link remain.
        "activeAtEnd": 2,
    }
    summary = series["summary"]
    assert summary["linkOpens"] == 3 and summary["offersAccepted"] == 1
    assert summary["linkToAuthorizationConversion"] == pytest.approx(1 / 3)
    assert summary["renewalsDue"] == 2 and summary["renewalRate"] == pytest.approx(0.5)
    # The one granted by link ends in 10 days; the renewed one in about four months.
    assert summary["expiringWithin15Days"] == 1
    # Accepted seconds after it was created: the median is that wait, to within a bin.
    assert 0 < summary["medianTimeToAcceptanceSeconds"] < 60
    by_service = {s["serviceId"]: s for s in series["services"]}
    first_day = by_service[first["_id"]]["buckets"][0]
    assert (first_day["offersCreated"], first_day["linkOpens"]) == (1, 2)
    assert (first_day["grantedFromOffer"], first_day["grantedFromServiceLink"]) == (1, 1)
    assert first_day["requestsReceived"] is None
    assert by_service[first["_id"]]["summary"]["expiringWithin15Days"] == 1
    second_day = by_service[second["_id"]]["buckets"][0]
    assert (second_day["offersCreated"], second_day["grantedFromStore"]) == (2, 1)
    assert (second_day["expired"], second_day["activeAtEnd"]) == (1, 0)

    # Closing the partner closes what is still active.
    admin = token(Role.ADMIN)
    await _ok(gql, CLOSE_PARTNER, {"id": partner["_id"]}, admin)
    closed = _series(await _insights(gql, partner, admin))["buckets"][0]
    assert (closed["closed"], closed["activeAtEnd"]) == (2, 0)

    live = await _counters(store)
    assert live
    rebuilt = await rebuild(store)
    assert rebuilt.counters == len(live)
    assert await _counters(store) == live


async def test_day_boundaries_follow_the_time_zone(
    gql: GraphQLClient, store: DocumentStore, partner: Mapping[str, Any], make: Make
) -> None:
    service = await make.service(partner)
    offers = [await _offer(gql, partner, [service]) for _ in range(3)]
    # Put the offers' creation at chosen instants (as if made then) and count again.
    yesterday = _today() - timedelta(days=1)
    at = {
        # 23:30 UTC is 08:30 the next day in Tokyo (+9).
        offers[0]["id"]: datetime.combine(yesterday, datetime.min.time(), UTC).replace(
            hour=23, minute=30
        ),
        # Kathmandu is +5:45: 18:15 UTC is its midnight, 18:14 the minute before.
        offers[1]["id"]: datetime.combine(yesterday, datetime.min.time(), UTC).replace(
            hour=18, minute=15
        ),
        offers[2]["id"]: datetime.combine(yesterday, datetime.min.time(), UTC).replace(
            hour=18, minute=14
        ),
    }
    for entry in await store.find(c.HISTORY, {"subjectId": {"$in": list(at)}}):
        await store.update(
            c.HISTORY,
            entry["_id"],
            expected_version=entry["version"],
            changes={"createdAt": at[entry["subjectId"]]},
        )
    await rebuild(store)

    def created(result: dict[str, Any]) -> dict[str, int]:
        return {b["startDate"]: b["offersCreated"] for b in _series(result)["buckets"]}

    first, last = yesterday - timedelta(days=1), _today()
    before, on, after = (
        (yesterday - timedelta(days=1)).isoformat(),
        yesterday.isoformat(),
        _today().isoformat(),
    )
    assert created(await _insights(gql, partner, first=first, last=last)) == {
        before: 0,
        on: 3,
        after: 0,
    }
    # All three are the morning of today in Tokyo.
    assert created(
        await _insights(gql, partner, first=first, last=last, time_zone="Asia/Tokyo")
    ) == {
        before: 0,
        on: 0,
        after: 3,
    }
    # 18:14 UTC is still yesterday (23:59) in Kathmandu; 18:15 is today's first minute.
    assert created(
        await _insights(gql, partner, first=first, last=last, time_zone="Asia/Kathmandu")
    ) == {
        before: 0,
        on: 1,
        after: 2,
    }
    # Months and weeks are sums of the same days; a live grant lands on its local day.
    month = _series(await _insights(gql, partner, first=first, last=last, granularity="MONTH"))
    assert sum(b["offersCreated"] for b in month["buckets"]) == 3
    now_in_tokyo = utc_now().astimezone(ZoneInfo("Asia/Tokyo")).date()
    await _offer(gql, partner, [service])
    tokyo = await _insights(
        gql, partner, first=now_in_tokyo, last=now_in_tokyo, time_zone="Asia/Tokyo"
    )
    assert _series(tokyo)["buckets"][0]["offersCreated"] >= 1


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"time_zone": "Mars/Olympus_Mons"}, "INVALID_TIME_ZONE"),
        ({"time_zone": "../../etc/passwd"}, "INVALID_TIME_ZONE"),
        # A file of the system's zone folder, not an IANA name: the server's own zone.
        ({"time_zone": "localtime"}, "INVALID_TIME_ZONE"),
        ({"first": date(2024, 1, 1), "last": date(2026, 1, 2)}, "INVALID_DATE_RANGE"),
        ({"first": date(2025, 5, 2), "last": date(2025, 5, 1)}, "INVALID_DATE_RANGE"),
        # Near the calendar's ends a week's Sunday, a month's next first day or a midnight in
        # a zone east of UTC is no date: once a raw "date value out of range" with no code.
        (
            {"first": date(9999, 12, 20), "last": date(9999, 12, 31), "granularity": "WEEK"},
            "INVALID_DATE_RANGE",
        ),
        (
            {"first": date(9999, 12, 1), "last": date(9999, 12, 31), "granularity": "MONTH"},
            "INVALID_DATE_RANGE",
        ),
        ({"first": date(1, 1, 1), "time_zone": "Asia/Tokyo"}, "INVALID_DATE_RANGE"),
        ({"first": date(1999, 12, 31), "last": date(2000, 1, 1)}, "INVALID_DATE_RANGE"),
        ({"services": ["svc_unknown"]}, "NOT_FOUND"),
        ({"services": [f"svc_{n}" for n in range(21)]}, "TOO_MANY_IDS"),
    ],
)
async def test_bad_arguments_are_refused_with_a_code(
    gql: GraphQLClient,
    store: DocumentStore,
    partner: Mapping[str, Any],
    change: dict[str, Any],
    code: str,
) -> None:
    result = await _insights(gql, partner, **change)
    assert result["data"]["partner"]["insights"] is None
    assert [e["extensions"]["code"] for e in result["errors"]] == [code]


async def test_only_the_partner_and_admins_see_its_insights(
    gql: GraphQLClient, store: DocumentStore, partner: Mapping[str, Any], make: Make
) -> None:
    other = await make.partner()
    foreign = await make.service(other)
    seller = await make.seller()
    for caller, code in [
        (token_of(other), "FORBIDDEN"),
        (token_of(seller), "FORBIDDEN"),
    ]:
        result = await _insights(gql, partner, caller)
        assert result["data"]["partner"]["insights"] is None
        assert [e["extensions"]["code"] for e in result["errors"]] == [code]
    anonymous = await gql(
        PARTNER_INSIGHTS,
        {"id": partner["_id"], "from": "2025-01-01", "to": "2025-01-01", "g": "DAY", "tz": "UTC"},
    )
    assert [e["extensions"]["code"] for e in anonymous["errors"]] == ["UNAUTHENTICATED"]
    # Another partner's service is no service of this partner.
    result = await _insights(gql, partner, services=[foreign["_id"]])
    assert [e["extensions"]["code"] for e in result["errors"]] == ["NOT_FOUND"]
    assert _series(await _insights(gql, partner, token(Role.ADMIN)))["buckets"]
    platform = await gql(
        PLATFORM_INSIGHTS,
        {"from": "2025-01-01", "to": "2025-01-01"},
        as_=token_of(partner),
    )
    assert platform["data"]["insights"] is None
    assert [e["extensions"]["code"] for e in platform["errors"]] == ["FORBIDDEN"]


async def test_idempotent_retries_count_once(
    gql: GraphQLClient, store: DocumentStore, partner: Mapping[str, Any], make: Make
) -> None:
    service = await make.service(partner)
    seller = await make.seller()
    offers = [await _offer(gql, partner, [service], key="same-key") for _ in range(3)]
    assert len({o["id"] for o in offers}) == 1
    for _ in range(3):
        await _ok(gql, ACCEPT, {"token": offers[0]["linkToken"]}, token_of(seller))
    (today,) = _series(await _insights(gql, partner))["buckets"]
    assert (today["offersCreated"], today["offersAccepted"], today["grantedFromOffer"]) == (1, 1, 1)


async def test_racing_accepts_and_opens_count_exactly_once(
    gql: GraphQLClient, store: DocumentStore, partner: Mapping[str, Any], make: Make
) -> None:
    service = await make.service(partner)
    sellers = [await make.seller() for _ in range(4)]
    rounds = 6
    for _ in range(rounds):
        offer = await _offer(gql, partner, [service])
        link = offer["linkToken"]
        await asyncio.gather(
            *(gql(ACCEPT, {"token": link}, as_=token_of(s)) for s in sellers),
            *(gql(OPEN, {"token": link, "visitor": "racing-browser"}) for _ in range(4)),
        )
        # Each round's winner cancels, so the next offer's accept can grant again.
        granted = await store.find(c.AUTHORIZATIONS, {"offerId": offer["id"]})
        assert len(granted) == 1
        winner = next(s for s in sellers if s["_id"] == granted[0]["sellerId"])
        await _ok(gql, CANCEL, {"id": granted[0]["_id"]}, token_of(winner))
    (today,) = _series(await _insights(gql, partner))["buckets"]
    assert (today["offersAccepted"], today["grantedFromOffer"], today["linkOpens"]) == (
        rounds,
        rounds,
        rounds,
    )
    assert (today["canceled"], today["activeAtEnd"]) == (rounds, 0)


async def test_admins_see_the_platform_filtered(
    gql: GraphQLClient, store: DocumentStore, make: Make
) -> None:
    tsp = await make.partner()
    mcn = await make.partner(type=PartnerType.MCN_CAP)
    tsp_service, mcn_service = await make.service(tsp), await make.service(mcn)
    await _offer(gql, tsp, [tsp_service])
    await _offer(gql, mcn, [mcn_service])
    await _offer(gql, mcn, [mcn_service])
    admin = token(Role.ADMIN)
    day = {"from": _today().isoformat(), "to": _today().isoformat()}

    async def created(**filters: Any) -> dict[str, Any]:
        result = await gql(PLATFORM_INSIGHTS, {**day, **filters}, as_=admin)
        assert "errors" not in result, result
        bucket: dict[str, Any] = result["data"]["insights"]["buckets"][0]
        return bucket

    assert (await created())["offersCreated"] == 3
    assert (await created(type="TSP"))["offersCreated"] == 1
    assert (await created(type="MCN_CAP"))["offersCreated"] == 2
    by_market = await created(market=mcn_service["market"], type="MCN_CAP")
    assert by_market["offersCreated"] == 2 and by_market["requestsReceived"] is None
    category = await created(category=tsp_service["categoryId"], type="TSP")
    assert category["offersCreated"] == 1
    assert (await created(type="AFFILIATE_PARTNER"))["offersCreated"] == 0
    # All-zero figures would pass for a category where nothing happened.
    for category_id, code in (("scat_nosuchcategory", "NOT_FOUND"), ("!!", "INVALID_ID")):
        refused = await gql(PLATFORM_INSIGHTS, {**day, "category": category_id}, as_=admin)
        assert refused["data"]["insights"] is None
        assert [e["extensions"]["code"] for e in refused["errors"]] == [code]


async def test_a_year_of_days_costs_its_buckets_and_reads_no_more(
    gql: GraphQLClient, store: DocumentStore, partner: Mapping[str, Any], make: Make
) -> None:
    service = await make.service(partner)
    await _offer(gql, partner, [service])

    async def cost(days: int, fields: str) -> int:
        query = f"""query($id: ID!, $from: Date!, $to: Date!) {{ partner(id: $id) {{
          insights(from: $from, to: $to) {{ buckets {{ {fields} }} }} }} }}"""
        first = _today() - timedelta(days=days - 1)
        variables = {"id": partner["_id"], "from": first.isoformat(), "to": _today().isoformat()}
        store.stats.reset()
        result = await gql(query, variables, as_=token_of(partner))
        assert "errors" not in result, result
        assert len(result["data"]["partner"]["insights"]["buckets"]) == days
        # The counters of the range's days (one here) and the day before it: never the data.
        assert store.stats.documents_read <= 10
        requested: int = result["extensions"]["cost"]["requestedQueryCost"]
        assert result["extensions"]["cost"]["actualQueryCost"] == requested
        return requested

    every = BUCKET.split()
    year = await cost(365, " ".join(every))
    assert year <= 1000  # a year of days fits one query (and a partner's 2000-point bucket)
    assert year == 2 + -(-365 * len(every) // 20)
    assert await cost(30, " ".join(every)) == 2 + -(-30 * len(every) // 20)
    assert await cost(365, " ".join(every[:4])) == 2 + -(-365 * 4 // 20)


async def test_link_opens_are_throttled_per_anonymous_address(
    store: DocumentStore, partner: Mapping[str, Any], make: Make
) -> None:
    offer = await insert_offer(store, partner, [await make.service(partner)])
    # Room for two or three mutations (10 points and their payload), restoring almost nothing.
    tight = dataclasses.replace(
        APP_SETTINGS,
        policy=dataclasses.replace(
            APP_SETTINGS.policy, throttle=ThrottlePolicy(capacity=30, restore_rate=0.001)
        ),
    )
    codes = []
    async with serving(store, tight) as http:
        for n in range(5):
            variables = {"token": offer["linkToken"], "visitor": f"browser-{n:04}"}
            response = await http.post("/graphql", json={"query": OPEN, "variables": variables})
            body = response.json()
            codes.append(body["errors"][0]["extensions"]["code"] if "errors" in body else "OK")
    allowed = codes.count("OK")
    assert allowed >= 2 and codes == ["OK"] * allowed + ["THROTTLED"] * (5 - allowed)
    assert await store.count(c.OFFER_LINK_OPENS) == allowed


async def test_a_new_days_counters_start_from_the_gauge_the_day_before_left(
    store: DocumentStore,
    partner: PartnerDocument,
    make_service: ServiceFactory,
) -> None:
    """Counting creates a day's document without reading it first; its ``base`` is then
    carried from the scope's previous day, also when that day was created in the same
    transaction (three days counted at once, in no particular order)."""
    service = await make_service(partner)
    today = datetime.combine(_today(), datetime.min.time(), UTC).replace(hour=12)

    def granted(days_ago: int, count: int) -> list[figures.Change]:
        at = today - timedelta(days=days_ago)
        change = figures.Change(at, partner["_id"], [service["_id"]], {figures.ACTIVE_CHANGE: 1})
        return [change] * count

    await counters.add_many(store, granted(5, 2))
    await counters.add_many(store, [*granted(1, 4), *granted(3, 1), *granted(2, 3)])
    await counters.add_many(store, granted(0, 1))
    scopes = [figures.partner_scope(partner["_id"]), figures.service_scope(service["_id"])]
    for scope in scopes:
        found = await store.find(c.INSIGHT_COUNTERS, {"scope": scope}, sort=[("day", 1)])
        assert [(d["base"], figures.day_end_gauge(d)) for d in found] == [
            (0, 2),
            (2, 3),
            (3, 6),
            (6, 10),
            (10, 11),
        ]


@pytest.mark.parametrize(
    ("times", "median"),
    [
        ([110.0], 110.0),
        ([0.1, 40.0, 110.0], 40.0),
        # Of an even count, the mean of the two middle times: the lower alone gave 1 s.
        ([0.1, 110.0], 55.5),
        ([0.1, 0.1, 40.0, 110.0], 20.5),
    ],
)
def test_the_median_time_to_acceptance(times: list[float], median: float) -> None:
    acceptance: dict[str, int] = {}
    for seconds in times:
        name = figures.bin_of(seconds)
        acceptance[name] = acceptance.get(name, 0) + 1
    found = Series([], {}, acceptance).median_acceptance_seconds
    # The bins are 2^(1/8) wide: within about 5% of the time each holds.
    assert found is not None and abs(found - median) <= 0.05 * median
