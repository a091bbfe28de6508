"""Service offers through the API: creating, opening the link, withdrawing, listing, roles."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from datastore import collections as c
from datastore.codec import utc_now
from datastore.documents import ServiceOfferDocument
from datastore.enums import PartnerStatus, ServiceStatus, ServiceType
from datastore.store import DocumentStore
from resolvers.identity import Role
from tests.conftest import GraphQLClient, Make, token, token_of

OFFER_FIELDS = """id status canBeAccepted startDate endDate linkToken createdAt acceptedAt
  withdrawnAt contact { name email phone }
  settings { authorizeObject ticketAuthorization tspAccess dataCompassAccess }
  services { id name } partner { id name }
  history { edges { node { action fromStatus toStatus reasonCode } } }"""
PAYLOAD = f"serviceOffer {{ {OFFER_FIELDS} }} userErrors {{ field message code }}"
CREATE = f"""mutation($input: CreateServiceOfferInput!) {{
  createServiceOffer(input: $input) {{ {PAYLOAD} }} }}"""
WITHDRAW = f"mutation($id: ID!) {{ withdrawServiceOffer(id: $id) {{ {PAYLOAD} }} }}"
BY_LINK = f"query($t: String!) {{ serviceOfferByLink(token: $t) {{ {OFFER_FIELDS} }} }}"
LIST = """query($id: ID!, $status: [OfferStatus!], $first: Int, $after: String) {
  partner(id: $id) { serviceOffers(status: $status, first: $first, after: $after) {
    edges { node { id status linkToken } } pageInfo { hasNextPage endCursor } } } }"""
NODE = "query($id: ID!) { node(id: $id) { id ... on ServiceOffer { status linkToken } } }"

SETTINGS = {
    "authorizeObject": "TTUID",
    "ticketAuthorization": False,
    "tspAccess": True,
    "dataCompassAccess": False,
}
UNKNOWN_SERVICE = "svc_01aaaaaaaaaaaaaaaaaaaaaaaa"


def _today() -> date:
    return utc_now().date()


def _input(service_ids: list[str], **fields: Any) -> dict[str, Any]:
    # Tomorrow, not today: a test running across midnight (UTC) must not start in the past.
    start = _today() + timedelta(days=1)
    return {
        "serviceIds": service_ids,
        "startDate": start.isoformat(),
        "endDate": (start + timedelta(days=30)).isoformat(),
        "settings": SETTINGS,
        **fields,
    }


async def _create(
    gql: GraphQLClient, partner: Mapping[str, Any], service_ids: list[str], **fields: Any
) -> Any:
    return await gql.payload(
        CREATE, {"input": _input(service_ids, **fields)}, as_=token_of(partner)
    )


async def _offer(
    gql: GraphQLClient, partner: Mapping[str, Any], service_ids: list[str], **fields: Any
) -> dict[str, Any]:
    created = await _create(gql, partner, service_ids, **fields)
    assert created["userErrors"] == [], created
    offer: dict[str, Any] = created["serviceOffer"]
    return offer


async def _stored(store: DocumentStore, offer_id: str) -> ServiceOfferDocument:
    return (await store.get_many(c.SERVICE_OFFERS, [offer_id]))[offer_id]


async def _set(store: DocumentStore, offer_id: str, **changes: Any) -> None:
    current = await _stored(store, offer_id)
    await store.update(
        c.SERVICE_OFFERS, offer_id, expected_version=current["version"], changes=changes
    )


async def _listed(
    gql: GraphQLClient, partner: Mapping[str, Any], caller: Any, **variables: Any
) -> list[tuple[str, str]]:
    found = await gql.payload(LIST, {"id": partner["_id"], **variables}, as_=caller)
    return [(e["node"]["id"], e["node"]["status"]) for e in found["serviceOffers"]["edges"]]


async def test_create_with_one_service_stores_the_documented_shape(
    gql: GraphQLClient, partner: Mapping[str, Any], make: Make, store: DocumentStore
) -> None:
    service = await make.service(partner)
    start = _today() + timedelta(days=1)
    end = start + timedelta(days=30)
    offer = await _offer(gql, partner, [service["_id"]])
    assert offer["id"].startswith("ofr_")
    assert (offer["status"], offer["canBeAccepted"]) == ("OPEN", True)
    assert (offer["startDate"], offer["endDate"]) == (start.isoformat(), end.isoformat())
    assert offer["settings"] == SETTINGS
    assert offer["contact"] is None
    assert [s["id"] for s in offer["services"]] == [service["_id"]]
    assert offer["partner"]["id"] == partner["_id"]
    assert offer["history"]["edges"] == [
        {"node": {"action": "CREATED", "fromStatus": None, "toStatus": "OPEN", "reasonCode": None}}
    ]
    stored = await _stored(store, offer["id"])
    assert set(stored) == {
        "_id",
        "partnerId",
        "serviceIds",
        "startsAt",
        "endsAt",
        "settings",
        "linkToken",
        "status",
        "createdAt",
        "updatedAt",
        "version",
    }
    assert stored["startsAt"] == datetime.combine(start, time.min, tzinfo=UTC)
    # The end is exclusive: the day after the last day, at midnight UTC.
    assert stored["endsAt"] == datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)
    assert (stored["status"], stored["partnerId"]) == ("OPEN", partner["_id"])
    assert stored["linkToken"] == offer["linkToken"]


async def test_create_with_ten_services_keeps_the_partners_order(
    gql: GraphQLClient, partner: Mapping[str, Any], make: Make, store: DocumentStore
) -> None:
    services = [
        await make.service(partner, type=ServiceType.CUSTOM if i % 2 else ServiceType.PUBLIC)
        for i in range(10)
    ]
    chosen = [s["_id"] for s in reversed(services)]
    chosen[0], chosen[5] = chosen[5], chosen[0]
    offer = await _offer(gql, partner, chosen)
    assert [s["id"] for s in offer["services"]] == chosen
    assert (await _stored(store, offer["id"]))["serviceIds"] == chosen


async def _refusal(
    case: str, partner: Mapping[str, Any], make: Make
) -> tuple[Mapping[str, Any], dict[str, Any], set[tuple[tuple[str, ...], str]]]:
    """The caller, the input and the (field, code) problems expected for one bad input."""
    live = await make.service(partner)
    today = _today()
    ids = [live["_id"]]
    dates = {
        "start in past": (today - timedelta(days=1), today + timedelta(days=5)),
        "end equals start": (today + timedelta(days=1), today + timedelta(days=1)),
        "end before start": (today + timedelta(days=3), today + timedelta(days=2)),
        "span over three years": (
            today + timedelta(days=1),
            today.replace(year=today.year + 3) + timedelta(days=3),
        ),
        "year 9999": (date(9999, 1, 1), date(9999, 12, 31)),
    }
    if case in dates:
        start, end = dates[case]
        field, code = {
            "start in past": ("startDate", "START_IN_PAST"),
            "end equals start": ("endDate", "END_NOT_AFTER_START"),
            "end before start": ("endDate", "END_NOT_AFTER_START"),
            "span over three years": ("endDate", "DATES_OUT_OF_RANGE"),
            "year 9999": ("startDate", "DATES_OUT_OF_RANGE"),
        }[case]
        fields = {"startDate": start.isoformat(), "endDate": end.isoformat()}
        return partner, _input(ids, **fields), {(("input", field), code)}
    if case == "eleven services":
        many = [(await make.service(partner))["_id"] for _ in range(11)]
        return partner, _input(many), {(("input", "serviceIds"), "TOO_MANY_SERVICES")}
    if case == "no services":
        return partner, _input([]), {(("input", "serviceIds"), "NO_SERVICES")}
    if case == "duplicate":
        other = (await make.service(partner))["_id"]
        return (
            partner,
            _input([live["_id"], other, live["_id"]]),
            {(("input", "serviceIds", "2"), "DUPLICATE_SERVICE")},
        )
    if case == "another partners service":
        foreign = await make.service(await make.partner())
        return (
            partner,
            _input([live["_id"], foreign["_id"]]),
            {(("input", "serviceIds", "1"), "SERVICE_NOT_FOUND")},
        )
    if case == "unknown and malformed ids":
        return (
            partner,
            _input([UNKNOWN_SERVICE, live["_id"], "nope"]),
            {
                (("input", "serviceIds", "0"), "SERVICE_NOT_FOUND"),
                (("input", "serviceIds", "2"), "SERVICE_NOT_FOUND"),
            },
        )
    if case == "services not live":
        off = [
            (await make.service(partner, status=status))["_id"]
            for status in (
                ServiceStatus.DRAFT,
                ServiceStatus.DEACTIVATED,
                ServiceStatus.IN_REVIEW,
                ServiceStatus.REJECTED,
            )
        ]
        return (
            partner,
            _input([live["_id"], *off]),
            {(("input", "serviceIds", str(i)), "SERVICE_NOT_LIVE") for i in range(1, 5)},
        )
    if case == "closed partner":
        closed = await make.partner(status=PartnerStatus.CLOSED)
        service = await make.service(closed)
        # The caller's own account is no field of the input: the error names none.
        return closed, _input([service["_id"]]), {((), "PARTNER_CLOSED")}
    if case == "invalid contact":
        contact = {"name": "n" * 101, "email": "not-an-email", "phone": "12ab34"}
        return (
            partner,
            _input(ids, contact=contact),
            {
                (("input", "contact", "name"), "TOO_LONG"),
                (("input", "contact", "email"), "INVALID_EMAIL"),
                (("input", "contact", "phone"), "INVALID_PHONE"),
            },
        )
    if case == "phone too short and email too long":
        contact = {"email": "a" * 250 + "@x.example", "phone": "+12 34"}
        return (
            partner,
            _input(ids, contact=contact),
            {
                (("input", "contact", "email"), "TOO_LONG"),
                (("input", "contact", "phone"), "INVALID_PHONE"),
            },
        )
    if case == "idempotency key too long":
        return (
            partner,
            _input(ids, idempotencyKey="k" * 101),
            {(("input", "idempotencyKey"), "TOO_LONG")},
        )
    assert case == "every problem at once"
    draft = await make.service(partner, status=ServiceStatus.DRAFT)
    return (
        partner,
        _input(
            [draft["_id"], draft["_id"]],
            startDate=(today - timedelta(days=1)).isoformat(),
            endDate=(today - timedelta(days=1)).isoformat(),
            contact={"phone": "call me"},
        ),
        {
            (("input", "serviceIds", "0"), "SERVICE_NOT_LIVE"),
            (("input", "serviceIds", "1"), "DUPLICATE_SERVICE"),
            (("input", "startDate"), "START_IN_PAST"),
            (("input", "endDate"), "END_NOT_AFTER_START"),
            (("input", "contact", "phone"), "INVALID_PHONE"),
        },
    )


@pytest.mark.parametrize(
    "case",
    [
        "eleven services",
        "no services",
        "duplicate",
        "another partners service",
        "unknown and malformed ids",
        "services not live",
        "start in past",
        "end equals start",
        "end before start",
        "span over three years",
        "year 9999",
        "closed partner",
        "invalid contact",
        "phone too short and email too long",
        "idempotency key too long",
        "every problem at once",
    ],
)
async def test_each_bad_input_is_a_user_error_and_writes_nothing(
    gql: GraphQLClient, partner: Mapping[str, Any], make: Make, store: DocumentStore, case: str
) -> None:
    caller, input, expected = await _refusal(case, partner, make)
    refused = await gql.payload(CREATE, {"input": input}, as_=token_of(caller))
    assert refused["serviceOffer"] is None
    assert {(tuple(e["field"] or ()), e["code"]) for e in refused["userErrors"]} == expected
    assert all(e["message"] for e in refused["userErrors"])
    assert await store.count(c.SERVICE_OFFERS) == 0
    assert await store.count(c.HISTORY) == 0


async def test_dates_at_the_limits_are_accepted(
    gql: GraphQLClient, partner: Mapping[str, Any], make: Make
) -> None:
    service = await make.service(partner)
    start = _today() + timedelta(days=1)
    # Three years on, the same day (29 February has no such day: the 28th is the limit then).
    leap_day = (start.month, start.day) == (2, 29)
    end = start.replace(year=start.year + 3, day=28 if leap_day else start.day)
    offer = await _offer(
        gql,
        partner,
        [service["_id"]],
        startDate=start.isoformat(),
        endDate=end.isoformat(),
    )
    assert (offer["startDate"], offer["endDate"]) == (start.isoformat(), end.isoformat())
    one_day_more = await _create(
        gql,
        partner,
        [service["_id"]],
        startDate=start.isoformat(),
        endDate=(end + timedelta(days=1)).isoformat(),
    )
    assert [e["code"] for e in one_day_more["userErrors"]] == ["DATES_OUT_OF_RANGE"]
    one_day = await _offer(
        gql,
        partner,
        [service["_id"]],
        startDate=start.isoformat(),
        endDate=(start + timedelta(days=1)).isoformat(),
    )
    assert one_day["status"] == "OPEN"


async def test_contact_is_trimmed_and_the_phone_normalised(
    gql: GraphQLClient, partner: Mapping[str, Any], make: Make, store: DocumentStore
) -> None:
    service = await make.service(partner)
    contact = {"name": "  Ann Lee ", "email": " ann@shop.example ", "phone": "+1 555-123 4567"}
    offer = await _offer(gql, partner, [service["_id"]], contact=contact)
    assert offer["contact"] == {
        "name": "Ann Lee",
        "email": "ann@shop.example",
        "phone": "+15551234567",
    }
    partial = await _offer(gql, partner, [service["_id"]], contact={"email": "a@b.example"})
    assert partial["contact"] == {"name": None, "email": "a@b.example", "phone": None}
    assert (await _stored(store, partial["id"]))["contact"] == {"email": "a@b.example"}
    blank = await _offer(gql, partner, [service["_id"]], contact={"name": "  ", "phone": ""})
    assert blank["contact"] is None
    assert "contact" not in await _stored(store, blank["id"])


async def test_settings_must_each_be_sent(
    gql: GraphQLClient, partner: Mapping[str, Any], make: Make, store: DocumentStore
) -> None:
    service = await make.service(partner)
    partial = {"authorizeObject": "SHOP", "tspAccess": True}
    result = await gql(
        CREATE, {"input": _input([service["_id"]], settings=partial)}, as_=token_of(partner)
    )
    assert result["errors"], result
    assert await store.count(c.SERVICE_OFFERS) == 0


async def test_idempotency_key_returns_the_first_offer_unchanged(
    gql: GraphQLClient, partner: Mapping[str, Any], make: Make, store: DocumentStore
) -> None:
    first_service, second_service = await make.service(partner), await make.service(partner)
    first = await _offer(gql, partner, [first_service["_id"]], idempotencyKey="retry-1")
    again = await _offer(gql, partner, [first_service["_id"]], idempotencyKey="retry-1")
    assert again == first
    # Stripe's rule: the same key with another input is refused.
    reused = await _create(
        gql,
        partner,
        [second_service["_id"]],
        idempotencyKey="retry-1",
        contact={"name": "Someone else"},
    )
    assert reused["serviceOffer"] is None
    assert [(e["field"], e["code"]) for e in reused["userErrors"]] == [
        (["input", "idempotencyKey"], "IDEMPOTENCY_KEY_REUSED")
    ]
    # A retry after the service went off still gets the first offer.
    await store.update(
        c.SERVICES,
        first_service["_id"],
        expected_version=first_service["version"],
        changes={"status": "DEACTIVATED"},
    )
    stale = await _create(gql, partner, [first_service["_id"]], idempotencyKey="retry-1")
    assert (stale["userErrors"], stale["serviceOffer"]["id"]) == ([], first["id"])
    assert await store.count(c.SERVICE_OFFERS) == 1
    assert await store.count(c.HISTORY) == 1
    # Keys belong to one partner: another partner's same key makes its own offer.
    other = await make.partner()
    theirs = await _offer(
        gql, other, [(await make.service(other))["_id"]], idempotencyKey="retry-1"
    )
    assert theirs["id"] != first["id"]
    different = await _offer(gql, partner, [second_service["_id"]], idempotencyKey="retry-2")
    assert different["id"] != first["id"]


async def test_the_link_shows_the_whole_offer_to_anyone_holding_it(
    gql: GraphQLClient, partner: Mapping[str, Any], make: Make
) -> None:
    services = [
        await make.service(partner, type=ServiceType.CUSTOM),
        await make.service(partner),
        await make.service(partner, type=ServiceType.CUSTOM),
    ]
    chosen = [services[2]["_id"], services[0]["_id"], services[1]["_id"]]
    start = _today() + timedelta(days=3)
    end = start + timedelta(days=90)
    everything_off = {
        "authorizeObject": "SHOP",
        "ticketAuthorization": False,
        "tspAccess": False,
        "dataCompassAccess": False,
    }
    offer = await _offer(
        gql,
        partner,
        chosen,
        startDate=start.isoformat(),
        endDate=end.isoformat(),
        settings=everything_off,
        contact={"name": "Ann", "email": "ann@shop.example", "phone": "+44 20 7946 0958"},
    )
    seller = token(Role.SELLER, (await make.seller())["_id"])
    for caller in (None, seller):
        opened = await gql.payload(BY_LINK, {"t": offer["linkToken"]}, as_=caller)
        assert opened["id"] == offer["id"]
        assert opened["partner"] == {"id": partner["_id"], "name": partner["name"]}
        assert [s["id"] for s in opened["services"]] == chosen
        assert opened["services"][0]["name"] == services[2]["name"]
        assert (opened["startDate"], opened["endDate"]) == (start.isoformat(), end.isoformat())
        assert opened["settings"] == everything_off
        assert opened["contact"] == {
            "name": "Ann",
            "email": "ann@shop.example",
            "phone": "+442079460958",
        }
        assert (opened["status"], opened["canBeAccepted"]) == ("OPEN", True)
        assert (opened["linkToken"], opened["history"]["edges"]) == (None, [])
        assert (opened["acceptedAt"], opened["withdrawnAt"]) == (None, None)
    everything_on = {
        "authorizeObject": "SHOP_AND_TTUID",
        "ticketAuthorization": True,
        "tspAccess": True,
        "dataCompassAccess": True,
    }
    on = await _offer(gql, partner, chosen, settings=everything_on)
    assert (await gql.payload(BY_LINK, {"t": on["linkToken"]}, as_=None))[
        "settings"
    ] == everything_on


async def test_link_tokens_are_long_and_differ_per_offer(
    gql: GraphQLClient, partner: Mapping[str, Any], make: Make
) -> None:
    service = await make.service(partner)
    tokens = [(await _offer(gql, partner, [service["_id"]]))["linkToken"] for _ in range(3)]
    assert all(len(t) >= 32 for t in tokens)
    assert len(set(tokens)) == 3


async def test_unknown_link_token_is_not_found(gql: GraphQLClient) -> None:
    for bad in ("nope", "", "x" * 500):
        result = await gql(BY_LINK, {"t": bad})
        assert result["data"]["serviceOfferByLink"] is None
        assert result["errors"][0]["extensions"]["code"] == "NOT_FOUND", bad


async def test_withdraw_then_the_link_says_so_and_withdrawing_again_is_refused(
    gql: GraphQLClient, partner: Mapping[str, Any], make: Make, store: DocumentStore
) -> None:
    offer = await _offer(gql, partner, [(await make.service(partner))["_id"]])
    withdrawn = await gql.payload(WITHDRAW, {"id": offer["id"]}, as_=token_of(partner))
    assert withdrawn["userErrors"] == []
    assert (withdrawn["serviceOffer"]["status"], withdrawn["serviceOffer"]["canBeAccepted"]) == (
        "WITHDRAWN",
        False,
    )
    assert withdrawn["serviceOffer"]["withdrawnAt"] is not None
    assert withdrawn["serviceOffer"]["history"]["edges"][0]["node"] == {
        "action": "WITHDRAWN",
        "fromStatus": "OPEN",
        "toStatus": "WITHDRAWN",
        "reasonCode": "WITHDRAWN_BY_PARTNER",
    }
    opened = await gql.payload(BY_LINK, {"t": offer["linkToken"]}, as_=None)
    assert (opened["status"], opened["canBeAccepted"]) == ("WITHDRAWN", False)
    before = await _stored(store, offer["id"])
    twice = await gql.payload(WITHDRAW, {"id": offer["id"]}, as_=token_of(partner))
    assert twice["serviceOffer"] is None
    assert [(e["field"], e["code"]) for e in twice["userErrors"]] == [(["id"], "NOT_OPEN")]
    assert await _stored(store, offer["id"]) == before
    assert await store.count(c.HISTORY) == 2


async def test_an_offer_past_its_end_reads_expired_everywhere_and_cannot_be_withdrawn(
    gql: GraphQLClient, partner: Mapping[str, Any], make: Make, store: DocumentStore
) -> None:
    offer = await _offer(gql, partner, [(await make.service(partner))["_id"]])
    now = utc_now()
    await _set(
        store, offer["id"], startsAt=now - timedelta(days=10), endsAt=now - timedelta(seconds=1)
    )
    opened = await gql.payload(BY_LINK, {"t": offer["linkToken"]}, as_=None)
    assert (opened["status"], opened["canBeAccepted"]) == ("EXPIRED", False)
    assert (await gql.payload(NODE, {"id": offer["id"]}, as_=token_of(partner)))[
        "status"
    ] == "EXPIRED"
    assert await _listed(gql, partner, token_of(partner)) == [(offer["id"], "EXPIRED")]
    refused = await gql.payload(WITHDRAW, {"id": offer["id"]}, as_=token_of(partner))
    assert refused["userErrors"][0]["code"] == "NOT_OPEN"
    assert "EXPIRED" in refused["userErrors"][0]["message"]
    assert (await _stored(store, offer["id"]))["status"] == "OPEN"


async def test_an_accepted_offer_cannot_be_withdrawn(
    gql: GraphQLClient, partner: Mapping[str, Any], make: Make, store: DocumentStore
) -> None:
    offer = await _offer(gql, partner, [(await make.service(partner))["_id"]])
    seller = await make.seller()
    await _set(
        store,
        offer["id"],
        status="ACCEPTED",
        acceptedAt=utc_now(),
        acceptedBySellerId=seller["_id"],
    )
    refused = await gql.payload(WITHDRAW, {"id": offer["id"]}, as_=token_of(partner))
    assert refused["userErrors"][0]["code"] == "NOT_OPEN"
    opened = await gql.payload(BY_LINK, {"t": offer["linkToken"]}, as_=None)
    assert (opened["status"], opened["canBeAccepted"]) == ("ACCEPTED", False)
    assert opened["acceptedAt"] is not None
    assert (await _stored(store, offer["id"]))["status"] == "ACCEPTED"


async def test_a_closed_partners_offer_cannot_be_accepted_or_withdrawn(
    gql: GraphQLClient, partner: Mapping[str, Any], make: Make, store: DocumentStore
) -> None:
    offer = await _offer(gql, partner, [(await make.service(partner))["_id"]])
    await store.update(
        c.PARTNERS,
        partner["_id"],
        expected_version=partner["version"],
        changes={"status": PartnerStatus.CLOSED},
    )
    opened = await gql.payload(BY_LINK, {"t": offer["linkToken"]}, as_=None)
    assert (opened["status"], opened["canBeAccepted"]) == ("OPEN", False)
    refused = await gql.payload(WITHDRAW, {"id": offer["id"]}, as_=token_of(partner))
    assert refused["userErrors"][0]["code"] == "PARTNER_CLOSED"


async def test_my_service_offers_lists_newest_first_and_filters_by_status_as_read(
    gql: GraphQLClient, partner: Mapping[str, Any], make: Make, store: DocumentStore
) -> None:
    service_id = (await make.service(partner))["_id"]
    made: list[str] = []
    for _ in range(4):
        made.append((await _offer(gql, partner, [service_id]))["id"])
        await asyncio.sleep(0.005)  # distinct createdAt milliseconds: the order is by time
    expired, withdrawn, accepted, still_open = made
    await _set(store, expired, endsAt=utc_now() - timedelta(minutes=1))
    await gql.payload(WITHDRAW, {"id": withdrawn}, as_=token_of(partner))
    await _set(store, accepted, status="ACCEPTED", acceptedAt=utc_now())
    owner = token_of(partner)
    assert await _listed(gql, partner, owner) == [
        (still_open, "OPEN"),
        (accepted, "ACCEPTED"),
        (withdrawn, "WITHDRAWN"),
        (expired, "EXPIRED"),
    ]
    for status, expected in (
        ("OPEN", [still_open]),
        ("WITHDRAWN", [withdrawn]),
        ("EXPIRED", [expired]),
        ("ACCEPTED", [accepted]),
    ):
        listed = await _listed(gql, partner, owner, status=[status])
        assert listed == [(offer_id, status) for offer_id in expected], status
    both = await _listed(gql, partner, owner, status=["EXPIRED", "OPEN"])
    assert both == [(still_open, "OPEN"), (expired, "EXPIRED")]
    first_page = await gql.payload(LIST, {"id": partner["_id"], "first": 3}, as_=owner)
    connection = first_page["serviceOffers"]
    assert connection["pageInfo"]["hasNextPage"] is True
    rest = await _listed(gql, partner, owner, first=3, after=connection["pageInfo"]["endCursor"])
    assert rest == [(expired, "EXPIRED")]


async def test_only_the_partner_and_admins_see_offers_and_only_the_partner_changes_them(
    gql: GraphQLClient, partner: Mapping[str, Any], make: Make, store: DocumentStore, admin: str
) -> None:
    service_id = (await make.service(partner))["_id"]
    offer = await _offer(gql, partner, [service_id])
    other = await make.partner()
    outsiders = {
        "another partner": token_of(other),
        "a seller": token(Role.SELLER, (await make.seller())["_id"]),
        "anonymous": None,
    }
    before = await _stored(store, offer["id"])
    for who, caller in outsiders.items():
        assert await _listed(gql, partner, caller) == [], who
        hidden = await gql(NODE, {"id": offer["id"]}, as_=caller)
        assert hidden["errors"][0]["extensions"]["code"] == "NOT_FOUND", who
    for caller in (outsiders["a seller"], outsiders["anonymous"], admin):
        for query, variables in (
            (CREATE, {"input": _input([service_id])}),
            (WITHDRAW, {"id": offer["id"]}),
        ):
            refused = await gql(query, variables, as_=caller)
            expected = "UNAUTHENTICATED" if caller is None else "FORBIDDEN"
            assert refused["errors"][0]["extensions"]["code"] == expected, refused
    foreign = await gql.payload(WITHDRAW, {"id": offer["id"]}, as_=outsiders["another partner"])
    assert foreign["userErrors"][0]["code"] == "NOT_FOUND"
    malformed = await gql.payload(WITHDRAW, {"id": "nope"}, as_=token_of(partner))
    assert malformed["userErrors"][0]["code"] == "NOT_FOUND"
    assert await _stored(store, offer["id"]) == before
    assert await store.count(c.SERVICE_OFFERS) == 1
    for caller in (admin, token_of(partner)):
        assert await _listed(gql, partner, caller) == [(offer["id"], "OPEN")]
        seen = await gql.payload(NODE, {"id": offer["id"]}, as_=caller)
        assert seen["linkToken"] == offer["linkToken"]


async def test_round_trips_of_nested_offers_do_not_grow_with_partners(
    gql: GraphQLClient, make: Make, store: DocumentStore, admin: str
) -> None:
    # Pages sized to stay under the single-query cost maximum.
    nested = """{ partners(first: 12) { nodes { serviceOffers(first: 2) { nodes {
      status canBeAccepted partner { name } services { name partner { name } } } } } } }"""

    async def round_trips(partner_count: int) -> int:
        for collection in (c.PARTNERS, c.SERVICES, c.SERVICE_OFFERS, c.HISTORY):
            await store.delete_all(collection)
        for _ in range(partner_count):
            partner = await make.partner()
            ids = [(await make.service(partner))["_id"] for _ in range(2)]
            await _offer(gql, partner, ids)
        store.stats.reset()
        found = await gql.payload(nested, {}, as_=admin)
        assert len(found["nodes"]) == partner_count
        assert all(len(p["serviceOffers"]["nodes"]) == 1 for p in found["nodes"])
        return store.stats.round_trips

    assert await round_trips(2) == await round_trips(12)
