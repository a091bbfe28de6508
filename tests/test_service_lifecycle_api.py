"""The service life cycle through the API: every transition, legal and illegal, every role."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from datastore import collections as c
from datastore.catalog import get_catalog
from datastore.codec import utc_now
from datastore.documents import PartnerDocument
from datastore.enums import PartnerType, Region
from datastore.ids import new_id, new_token
from datastore.search import words
from datastore.store import DocumentStore
from resolvers.identity import Role
from tests.conftest import GraphQLClient, Make, token, token_of
from tests.test_races import ROUNDS, race

FIELDS = """service { id status type name statusReason authorizationLinkToken
  history { edges { node { action fromStatus toStatus reasonCode reason
    changes { field before { text } after { text } } } } } }
  userErrors { field message code }"""
CREATE = f"mutation($input: CreateServiceInput!) {{ createService(input: $input) {{ {FIELDS} }} }}"
UPDATE = f"mutation($input: UpdateServiceInput!) {{ updateService(input: $input) {{ {FIELDS} }} }}"
PUBLISH = f"mutation($id: ID!) {{ publishService(id: $id) {{ {FIELDS} }} }}"
DEACTIVATE = f"mutation($id: ID!) {{ deactivateService(id: $id) {{ {FIELDS} }} }}"
REVIEW = f"mutation($input: ReviewServiceInput!) {{ reviewService(input: $input) {{ {FIELDS} }} }}"
CLOSE = """mutation($input: ClosePartnerInput!) { closePartner(input: $input) {
  partner { id status } userErrors { field message code } } }"""

SHOP_MANAGEMENT = next(
    r.id for r in get_catalog().find(PartnerType.TSP, Region.US) if r.name == "Shop Management"
)
SHOP_REGISTRATION = next(
    r.id for r in get_catalog().find(PartnerType.TSP, Region.US) if r.name == "Shop Registration"
)
LISTING = {
    "description": "We run your shop end to end.",
    "highlights": ["Weekly reports"],
    "pricing": "USD 500 / month",
    "contactEmail": "ops@agency.example",
}


@pytest.fixture
async def partner(make: Make, store: DocumentStore) -> PartnerDocument:
    """A US TSP approved for Shop Management and Shop Registration in the US."""
    created = await make.partner()
    for category in (SHOP_MANAGEMENT, SHOP_REGISTRATION):
        await store.insert(
            c.CATEGORY_APPLICATIONS,
            {
                "_id": new_id("cap"),
                "partnerId": created["_id"],
                "categoryId": category,
                "market": "US",
                "status": "APPROVED",
                "createdAt": utc_now(),
            },
        )
    return created


async def _create(gql: GraphQLClient, partner: Mapping[str, Any], **fields: Any) -> Any:
    base = {"name": "Shop care", "type": "PUBLIC", "categoryId": SHOP_MANAGEMENT, "market": "US"}
    return await gql.payload(CREATE, {"input": {**base, **fields}}, as_=token_of(partner))


async def test_public_service_full_cycle(
    gql: GraphQLClient, partner: Mapping[str, Any], admin: str
) -> None:
    created = await _create(gql, partner, **LISTING)
    assert created["userErrors"] == []
    service = created["service"]
    assert (service["status"], service["authorizationLinkToken"]) == ("DRAFT", None)
    submitted = await gql.payload(PUBLISH, {"id": service["id"]}, as_=token_of(partner))
    assert submitted["service"]["status"] == "IN_REVIEW"
    in_review_edit = await gql.payload(
        UPDATE, {"input": {"id": service["id"], "name": "x"}}, as_=token_of(partner)
    )
    assert in_review_edit["userErrors"][0]["code"] == "SERVICE_IN_REVIEW"
    rejected = await gql.payload(
        REVIEW,
        {"input": {"id": service["id"], "decision": "REJECT", "reason": "Logo blurry"}},
        as_=admin,
    )
    assert (rejected["service"]["status"], rejected["service"]["statusReason"]) == (
        "REJECTED",
        "Logo blurry",
    )
    edited = await gql.payload(
        UPDATE, {"input": {"id": service["id"], "name": "Shop care plus"}}, as_=token_of(partner)
    )
    assert edited["service"]["name"] == "Shop care plus"
    assert edited["service"]["history"]["edges"][0]["node"]["changes"] == [
        {"field": "name", "before": {"text": "Shop care"}, "after": {"text": "Shop care plus"}}
    ]
    again = await gql.payload(PUBLISH, {"id": service["id"]}, as_=token_of(partner))
    assert again["service"]["status"] == "IN_REVIEW"
    approved = await gql.payload(
        REVIEW, {"input": {"id": service["id"], "decision": "APPROVE"}}, as_=admin
    )
    live = approved["service"]
    assert live["status"] == "LIVE"
    token_when_live = live["authorizationLinkToken"]
    assert token_when_live and len(token_when_live) >= 32
    off = await gql.payload(DEACTIVATE, {"id": service["id"]}, as_=token_of(partner))
    assert off["service"]["status"] == "DEACTIVATED"
    # Unchanged since approval: turning it back on needs no new review, and keeps its link.
    on = await gql.payload(PUBLISH, {"id": service["id"]}, as_=token_of(partner))
    assert on["service"]["status"] == "LIVE"
    assert on["service"]["authorizationLinkToken"] == token_when_live
    # Every change of status names why (SPEC.md §7).
    actions = [
        (e["node"]["action"], e["node"]["reasonCode"]) for e in on["service"]["history"]["edges"]
    ]
    assert actions == [
        ("PUBLISHED", "PUBLISHED_BY_PARTNER"),
        ("DEACTIVATED", "DEACTIVATED_BY_PARTNER"),
        ("APPROVED", "APPROVED_BY_ADMIN"),
        ("SUBMITTED", "SUBMITTED_BY_PARTNER"),
        ("UPDATED", None),
        ("REJECTED", "REJECTED_BY_ADMIN"),
        ("SUBMITTED", "SUBMITTED_BY_PARTNER"),
        ("CREATED", None),
    ]


async def test_custom_service_goes_live_at_once(
    gql: GraphQLClient, partner: Mapping[str, Any]
) -> None:
    service = (await _create(gql, partner, type="CUSTOM"))["service"]
    live = await gql.payload(PUBLISH, {"id": service["id"]}, as_=token_of(partner))
    assert live["service"]["status"] == "LIVE"
    assert live["service"]["history"]["edges"][0]["node"]["toStatus"] == "LIVE"


async def test_listing_must_be_complete_to_submit_a_public_service(
    gql: GraphQLClient, partner: Mapping[str, Any], store: DocumentStore
) -> None:
    service = (await _create(gql, partner, description="Only a description"))["service"]
    refused = await gql.payload(PUBLISH, {"id": service["id"]}, as_=token_of(partner))
    # publishService takes only an id: the stored fields at fault are named in the message,
    # not under an argument path that does not exist.
    assert {(e["field"], e["message"].split()[0], e["code"]) for e in refused["userErrors"]} == {
        (None, "highlights", "LISTING_INCOMPLETE"),
        (None, "pricing", "LISTING_INCOMPLETE"),
        (None, "contactEmail", "LISTING_INCOMPLETE"),
    }
    stored = (await store.get_many(c.SERVICES, [service["id"]]))[service["id"]]
    assert stored["status"] == "DRAFT"


@pytest.mark.parametrize(
    ("mutation", "start", "code"),
    [
        ("deactivate", "DRAFT", "INVALID_TRANSITION"),
        ("deactivate", "IN_REVIEW", "INVALID_TRANSITION"),
        ("deactivate", "REJECTED", "INVALID_TRANSITION"),
        ("deactivate", "DEACTIVATED", "INVALID_TRANSITION"),
        ("publish", "IN_REVIEW", "INVALID_TRANSITION"),
        ("publish", "LIVE", "INVALID_TRANSITION"),
        ("review", "DRAFT", "INVALID_TRANSITION"),
        ("review", "LIVE", "INVALID_TRANSITION"),
        ("review", "REJECTED", "INVALID_TRANSITION"),
        ("review", "DEACTIVATED", "INVALID_TRANSITION"),
        ("update", "IN_REVIEW", "SERVICE_IN_REVIEW"),
        ("update", "LIVE", "LIVE_PUBLIC_NOT_EDITABLE"),
    ],
)
async def test_illegal_transitions_change_nothing(
    gql: GraphQLClient,
    partner: Mapping[str, Any],
    store: DocumentStore,
    admin: str,
    mutation: str,
    start: str,
    code: str,
) -> None:
    service = (await _create(gql, partner, **LISTING))["service"]
    current = (await store.get_many(c.SERVICES, [service["id"]]))[service["id"]]
    current = await store.update(
        c.SERVICES, service["id"], expected_version=current["version"], changes={"status": start}
    )
    history_before = await store.count(c.HISTORY)
    query, variables, caller = {
        "deactivate": (DEACTIVATE, {"id": service["id"]}, token_of(partner)),
        "publish": (PUBLISH, {"id": service["id"]}, token_of(partner)),
        "review": (REVIEW, {"input": {"id": service["id"], "decision": "APPROVE"}}, admin),
        "update": (UPDATE, {"input": {"id": service["id"], "name": "New"}}, token_of(partner)),
    }[mutation]
    refused = await gql.payload(query, variables, as_=caller)
    assert refused["service"] is None
    assert refused["userErrors"][0]["code"] == code
    after = (await store.get_many(c.SERVICES, [service["id"]]))[service["id"]]
    assert after == current
    assert await store.count(c.HISTORY) == history_before


async def test_create_validates_every_field_and_writes_nothing(
    gql: GraphQLClient, partner: Mapping[str, Any], store: DocumentStore
) -> None:
    refused = await _create(
        gql,
        partner,
        name=" ",
        description="d" * 5001,
        highlights=["ok"] * 11,
        contactEmail="not-an-email",
        pricing="p" * 501,
    )
    assert {(tuple(e["field"]), e["code"]) for e in refused["userErrors"]} == {
        (("input", "name"), "REQUIRED"),
        (("input", "description"), "TOO_LONG"),
        (("input", "highlights"), "TOO_MANY"),
        (("input", "contactEmail"), "INVALID_EMAIL"),
        (("input", "pricing"), "TOO_LONG"),
    }
    assert await store.count(c.SERVICES) == 0


async def test_category_rules_on_create(
    gql: GraphQLClient, partner: Mapping[str, Any], store: DocumentStore
) -> None:
    not_approved = next(
        r.id for r in get_catalog().find(PartnerType.TSP, Region.US) if r.name == "LIVE Management"
    )
    cases = {
        "CATEGORY_NOT_APPROVED": {"categoryId": not_approved},
        "CATEGORY_NOT_ELIGIBLE": {
            "categoryId": get_catalog().find(PartnerType.TSP, Region.UK)[0].id,
            "market": "GB",
        },
        "MARKET_NOT_ELIGIBLE": {"market": "JP"},
        "SHOP_REGISTRATION_CUSTOM_ONLY": {"categoryId": SHOP_REGISTRATION, "type": "PUBLIC"},
        "NOT_FOUND": {"categoryId": "scat_nope"},
    }
    for code, fields in cases.items():
        refused = await _create(gql, partner, **fields)
        assert refused["userErrors"][0]["code"] == code, (code, refused)
    assert await store.count(c.SERVICES) == 0
    allowed = await _create(gql, partner, categoryId=SHOP_REGISTRATION, type="CUSTOM")
    assert allowed["userErrors"] == []


async def test_idempotency_key_returns_the_first_service(
    gql: GraphQLClient, partner: Mapping[str, Any], store: DocumentStore
) -> None:
    first = await _create(gql, partner, idempotencyKey="retry-1")
    second = await _create(gql, partner, idempotencyKey="retry-1")
    assert second["service"]["id"] == first["service"]["id"]
    assert second["userErrors"] == []
    # Stripe's rule: the same key with another input is refused, not answered with the first.
    reused = await _create(gql, partner, idempotencyKey="retry-1", name="Different")
    assert reused["service"] is None
    assert [(e["field"], e["code"]) for e in reused["userErrors"]] == [
        (["input", "idempotencyKey"], "IDEMPOTENCY_KEY_REUSED")
    ]
    assert await store.count(c.SERVICES) == 1


async def test_update_is_partial_and_locks_fields_by_state(
    gql: GraphQLClient, partner: Mapping[str, Any]
) -> None:
    service = (await _create(gql, partner, type="CUSTOM", **LISTING))["service"]
    partial = await gql.payload(
        UPDATE, {"input": {"id": service["id"], "pricing": None}}, as_=token_of(partner)
    )
    assert partial["userErrors"] == []
    await gql.payload(PUBLISH, {"id": service["id"]}, as_=token_of(partner))
    locked_type = await gql.payload(
        UPDATE, {"input": {"id": service["id"], "type": "PUBLIC"}}, as_=token_of(partner)
    )
    assert locked_type["userErrors"][0]["code"] == "FIELD_LOCKED"
    locked_market = await gql.payload(
        UPDATE,
        {"input": {"id": service["id"], "categoryId": SHOP_REGISTRATION}},
        as_=token_of(partner),
    )
    assert locked_market["userErrors"][0]["code"] == "FIELD_LOCKED"
    live_custom_text = await gql.payload(
        UPDATE, {"input": {"id": service["id"], "description": "Now better"}}, as_=token_of(partner)
    )
    assert live_custom_text["service"]["status"] == "LIVE"


async def test_other_callers_cannot_touch_a_service(
    gql: GraphQLClient, partner: Mapping[str, Any], make: Make
) -> None:
    service = (await _create(gql, partner, type="CUSTOM"))["service"]
    other = await make.partner()
    seller = await make.seller()
    as_other = await gql.payload(PUBLISH, {"id": service["id"]}, as_=token_of(other))
    assert as_other["userErrors"][0]["code"] == "NOT_FOUND"
    for caller in (None, token_of(seller)):
        result = await gql(PUBLISH, {"id": service["id"]}, as_=caller)
        expected = "UNAUTHENTICATED" if caller is None else "FORBIDDEN"
        assert result["errors"][0]["extensions"]["code"] == expected
    as_partner_review = await gql(
        REVIEW, {"input": {"id": service["id"], "decision": "APPROVE"}}, as_=token_of(partner)
    )
    assert as_partner_review["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_authorization_link_reads_the_service_and_says_when_unavailable(
    gql: GraphQLClient, partner: Mapping[str, Any], admin: str
) -> None:
    service = (await _create(gql, partner, type="CUSTOM"))["service"]
    live = await gql.payload(PUBLISH, {"id": service["id"]}, as_=token_of(partner))
    link = live["service"]["authorizationLinkToken"]
    query = """query($t: String!) { serviceByAuthorizationLink(token: $t) {
      available unavailableReason service { id name authorizationLinkToken } } }"""
    opened = (await gql(query, {"t": link}))["data"]["serviceByAuthorizationLink"]
    assert opened == {
        "available": True,
        "unavailableReason": None,
        "service": {"id": service["id"], "name": "Shop care", "authorizationLinkToken": None},
    }
    await gql.payload(DEACTIVATE, {"id": service["id"]}, as_=token_of(partner))
    off = (await gql(query, {"t": link}))["data"]["serviceByAuthorizationLink"]
    assert (off["available"], off["unavailableReason"]) == (False, "SERVICE_NOT_LIVE")
    await gql.payload(PUBLISH, {"id": service["id"]}, as_=token_of(partner))
    await gql.payload(CLOSE, {"input": {"id": partner["_id"], "reason": "Fraud"}}, as_=admin)
    closed = (await gql(query, {"t": link}))["data"]["serviceByAuthorizationLink"]
    assert (closed["available"], closed["unavailableReason"]) == (False, "PARTNER_CLOSED")
    unknown = await gql(query, {"t": "nope"})
    assert unknown["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_close_partner_delists_services_and_blocks_publishing(
    gql: GraphQLClient, partner: Mapping[str, Any], admin: str, store: DocumentStore
) -> None:
    service = (await _create(gql, partner, **LISTING))["service"]
    await gql.payload(PUBLISH, {"id": service["id"]}, as_=token_of(partner))
    await gql.payload(REVIEW, {"input": {"id": service["id"], "decision": "APPROVE"}}, as_=admin)
    assert (await store.get_many(c.SERVICES, [service["id"]]))[service["id"]]["listed"] is True
    no_reason = await gql.payload(CLOSE, {"input": {"id": partner["_id"], "reason": ""}}, as_=admin)
    assert no_reason["userErrors"][0]["code"] == "REASON_REQUIRED"
    closed = await gql.payload(
        CLOSE, {"input": {"id": partner["_id"], "reason": "Fraud"}}, as_=admin
    )
    assert closed["partner"]["status"] == "CLOSED"
    assert (await store.get_many(c.SERVICES, [service["id"]]))[service["id"]]["listed"] is False
    twice = await gql.payload(
        CLOSE, {"input": {"id": partner["_id"], "reason": "Again"}}, as_=admin
    )
    assert twice["userErrors"][0]["code"] == "ALREADY_CLOSED"
    await gql.payload(DEACTIVATE, {"id": service["id"]}, as_=token_of(partner))
    blocked = await gql.payload(PUBLISH, {"id": service["id"]}, as_=token_of(partner))
    assert blocked["userErrors"][0]["code"] == "PARTNER_CLOSED"
    created = await _create(gql, partner)
    assert created["userErrors"][0]["code"] == "PARTNER_CLOSED"
    history = await store.find(c.HISTORY, {"subjectId": partner["_id"]})
    assert [(h["action"], h["reasonCode"]) for h in history] == [("CLOSED", "PARTNER_REMOVED")]
    for caller in (None, token_of(partner)):
        forbidden = await gql(CLOSE, {"input": {"id": partner["_id"], "reason": "x"}}, as_=caller)
        expected = "UNAUTHENTICATED" if caller is None else "FORBIDDEN"
        assert forbidden["errors"][0]["extensions"]["code"] == expected


@pytest.mark.parametrize("mutation", ["create", "update", "publish", "deactivate", "review"])
async def test_every_role_on_every_service_mutation(
    gql: GraphQLClient,
    partner: Mapping[str, Any],
    make: Make,
    store: DocumentStore,
    admin: str,
    mutation: str,
) -> None:
    service = (await _create(gql, partner, type="CUSTOM"))["service"]
    base = {"name": "Shop care", "type": "PUBLIC", "categoryId": SHOP_MANAGEMENT, "market": "US"}
    query, variables, allowed_role = {
        "create": (CREATE, {"input": base}, "partner"),
        "update": (UPDATE, {"input": {"id": service["id"], "name": "Renamed"}}, "partner"),
        "publish": (PUBLISH, {"id": service["id"]}, "partner"),
        "deactivate": (DEACTIVATE, {"id": service["id"]}, "partner"),
        "review": (REVIEW, {"input": {"id": service["id"], "decision": "APPROVE"}}, "admin"),
    }[mutation]
    other = await make.partner()
    callers = {
        "anonymous": None,
        "seller": token(Role.SELLER, (await make.seller())["_id"]),
        "admin": admin,
        "partner": token_of(partner),
    }
    before = await store.get_many(c.SERVICES, [service["id"]])
    for role, caller in callers.items():
        if role == allowed_role:
            continue
        refused = await gql(query, variables, as_=caller)
        expected = "UNAUTHENTICATED" if caller is None else "FORBIDDEN"
        assert refused["errors"][0]["extensions"]["code"] == expected, (role, refused)
    if allowed_role == "partner" and mutation != "create":
        foreign = await gql.payload(query, variables, as_=token_of(other))
        assert foreign["userErrors"][0]["code"] == "NOT_FOUND"
    assert await store.get_many(c.SERVICES, [service["id"]]) == before


RENAME = """mutation($input: UpdatePartnerProfileInput!) { updatePartnerProfile(input: $input) {
  partner { name } userErrors { field message code } } }"""
SEARCH = "query($query: String) { store(query: $query, first: 50) { nodes { id } } }"


async def test_a_renamed_partner_s_services_are_found_by_its_new_name_not_its_old(
    gql: GraphQLClient, make: Make, store: DocumentStore
) -> None:
    old_word, new_word = f"Oldname{new_token()[:6]}", f"Newname{new_token()[:6]}"
    partner = await make.partner(name=f"{old_word} Commerce")
    services = [await make.service(partner), await make.service(partner)]
    listed = sorted(service["_id"] for service in services)

    async def found(word: str) -> list[str]:
        result = await gql.ok(SEARCH, {"query": word})
        return sorted(node["id"] for node in result["store"]["nodes"])

    assert await found(old_word) == listed
    renamed = await gql.payload(
        RENAME, {"input": {"name": f"{new_word} Commerce"}}, as_=token_of(partner)
    )
    assert renamed["userErrors"] == []
    assert await found(new_word) == listed
    assert await found(old_word) == []
    # What sellers see of the services did not change.
    stored = await store.get_many(c.SERVICES, listed)
    assert {s["_id"]: s["updatedAt"] for s in services} == {
        i: d["updatedAt"] for i, d in stored.items()
    }


async def test_a_service_created_while_its_partner_is_renamed_is_found_by_the_new_name(
    gql: GraphQLClient, partner: PartnerDocument, store: DocumentStore
) -> None:
    as_partner = token_of(partner)
    for round_number in range(ROUNDS):
        name = f"Partner Renamed{round_number} {new_token()[:6]}"
        created, renamed = await race(
            _create(gql, partner, name=f"Care {round_number}"),
            gql.payload(RENAME, {"input": {"name": name}}, as_=as_partner),
        )
        assert created["userErrors"] == [] and renamed["userErrors"] == []
        for service in await store.find(c.SERVICES, {"partnerId": partner["_id"]}):
            assert set(words(name)) <= set(service["searchTerms"]), (round_number, service)
