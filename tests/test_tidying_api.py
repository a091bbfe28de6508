"""withdrawCategoryApplication, deleteService and archiveServiceOffer through the API."""

from __future__ import annotations

from datastore import collections as c
from datastore.catalog import get_catalog
from datastore.enums import PartnerType, Region, ServiceStatus
from datastore.store import DocumentStore
from resolvers.identity import Role
from tests.conftest import GraphQLClient, Make, insert_offer, token, token_of

APPLY = """mutation($input: ApplyForServiceCategoryInput!) {
  applyForServiceCategory(input: $input) { categoryApplication { id status } } }"""
WITHDRAW = """mutation($id: ID!) { withdrawCategoryApplication(id: $id) {
  categoryApplication { id status } userErrors { field code } } }"""
DELETE = """mutation($id: ID!) { deleteService(id: $id) {
  deletedServiceId userErrors { field code } } }"""
ARCHIVE = """mutation($id: ID!) { archiveServiceOffer(id: $id) {
  serviceOffer { id status archivedAt } userErrors { field code } } }"""
OFFERS = """query($id: ID!, $archived: Boolean!) { partner(id: $id) {
  serviceOffers(archived: $archived) { edges { node { id } } } } }"""


async def snapshot(store: DocumentStore) -> list[object]:
    return [
        await store.find(name)
        for name in (c.CATEGORY_APPLICATIONS, c.SERVICES, c.SERVICE_OFFERS, c.HISTORY)
    ]


async def test_withdrawing_an_application_under_review(
    gql: GraphQLClient, store: DocumentStore, make: Make
) -> None:
    partner = await make.partner()
    caller = token_of(partner)
    category = get_catalog().find(
        PartnerType(partner["type"]), Region(partner["registrationRegion"])
    )[0]
    application_input = {"input": {"categoryId": category.id, "market": "US"}}
    applied = await gql(APPLY, application_input, as_=caller)
    application = applied["data"]["applyForServiceCategory"]["categoryApplication"]
    other = await make.partner()
    before = await snapshot(store)
    stranger = await gql(WITHDRAW, {"id": application["id"]}, as_=token(Role.PARTNER, other["_id"]))
    assert stranger["data"]["withdrawCategoryApplication"]["userErrors"] == [
        {"field": ["id"], "code": "NOT_FOUND"}
    ]
    assert await snapshot(store) == before
    result = await gql(WITHDRAW, {"id": application["id"]}, as_=caller)
    assert result["data"]["withdrawCategoryApplication"]["categoryApplication"] == {
        "id": application["id"],
        "status": "WITHDRAWN",
    }
    before = await snapshot(store)
    again = await gql(WITHDRAW, {"id": application["id"]}, as_=caller)
    assert again["data"]["withdrawCategoryApplication"]["userErrors"] == [
        {"field": ["id"], "code": "NOT_REVIEWING"}
    ]
    assert await snapshot(store) == before
    # The partner may apply for the same category and market again.
    reapplied = await gql(APPLY, application_input, as_=caller)
    fresh = reapplied["data"]["applyForServiceCategory"]["categoryApplication"]
    assert fresh["status"] == "REVIEWING" and fresh["id"] != application["id"]


async def test_deleting_draft_and_rejected_services_nothing_references(
    gql: GraphQLClient, store: DocumentStore, make: Make
) -> None:
    partner = await make.partner()
    caller = token_of(partner)
    draft = await make.service(partner, status=ServiceStatus.DRAFT)
    rejected = await make.service(partner, status=ServiceStatus.REJECTED)
    live = await make.service(partner)
    referenced = await make.service(partner, status=ServiceStatus.REJECTED)
    await insert_offer(store, partner, [live, referenced])
    other = await make.partner()
    before = await snapshot(store)
    refusals = [
        (live["_id"], caller, "INVALID_TRANSITION"),
        (referenced["_id"], caller, "SERVICE_REFERENCED"),
        (draft["_id"], token(Role.PARTNER, other["_id"]), "NOT_FOUND"),
        ("svc_unknown0000000000000000", caller, "NOT_FOUND"),
        ("not-an-id", caller, "NOT_FOUND"),
    ]
    for service_id, who, code in refusals:
        result = await gql(DELETE, {"id": service_id}, as_=who)
        assert result["data"]["deleteService"] == {
            "deletedServiceId": None,
            "userErrors": [{"field": ["id"], "code": code}],
        }, service_id
    assert await snapshot(store) == before
    for service in (draft, rejected):
        result = await gql(DELETE, {"id": service["_id"]}, as_=caller)
        assert result["data"]["deleteService"] == {
            "deletedServiceId": service["_id"],
            "userErrors": [],
        }
    remaining = {s["_id"] for s in await store.find(c.SERVICES)}
    assert remaining == {live["_id"], referenced["_id"]}
    gone = await gql(DELETE, {"id": draft["_id"]}, as_=caller)
    assert gone["data"]["deleteService"]["userErrors"][0]["code"] == "NOT_FOUND"
    seller = await gql(DELETE, {"id": rejected["_id"]}, as_=token(Role.SELLER, "slr_x"))
    assert seller["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_archiving_hides_withdrawn_and_expired_offers_from_the_default_list(
    gql: GraphQLClient, store: DocumentStore, make: Make
) -> None:
    partner = await make.partner()
    caller = token_of(partner)
    services = [await make.service(partner)]
    open_offer = await insert_offer(store, partner, services)
    withdrawn = await insert_offer(store, partner, services)
    await gql(
        "mutation($id: ID!) { withdrawServiceOffer(id: $id) { serviceOffer { id } } }",
        {"id": withdrawn["_id"]},
        as_=caller,
    )
    expired = await insert_offer(store, partner, services, days=-1)

    async def listed(archived: bool) -> set[str]:
        result = await gql(OFFERS, {"id": partner["_id"], "archived": archived}, as_=caller)
        return {e["node"]["id"] for e in result["data"]["partner"]["serviceOffers"]["edges"]}

    assert await listed(False) == {open_offer["_id"], withdrawn["_id"], expired["_id"]}
    before = await snapshot(store)
    refused = await gql(ARCHIVE, {"id": open_offer["_id"]}, as_=caller)
    assert refused["data"]["archiveServiceOffer"]["userErrors"] == [
        {"field": ["id"], "code": "NOT_ENDED"}
    ]
    other = await make.partner()
    stranger = await gql(ARCHIVE, {"id": expired["_id"]}, as_=token(Role.PARTNER, other["_id"]))
    assert stranger["data"]["archiveServiceOffer"]["userErrors"][0]["code"] == "NOT_FOUND"
    assert await snapshot(store) == before
    for offer, status in ((withdrawn, "WITHDRAWN"), (expired, "EXPIRED")):
        result = await gql(ARCHIVE, {"id": offer["_id"]}, as_=caller)
        archived = result["data"]["archiveServiceOffer"]["serviceOffer"]
        assert archived["status"] == status and archived["archivedAt"] is not None
    assert await listed(False) == {open_offer["_id"]}
    assert await listed(True) == {withdrawn["_id"], expired["_id"]}
    # Archiving again changes nothing.
    before = await snapshot(store)
    again = await gql(ARCHIVE, {"id": expired["_id"]}, as_=caller)
    assert again["data"]["archiveServiceOffer"]["userErrors"] == []
    assert await snapshot(store) == before
