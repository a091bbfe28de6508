"""Category applications: eligibility, idempotent apply, admin review, every role."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from datastore import collections as c
from datastore.catalog import get_catalog
from datastore.enums import Market, PartnerStatus, PartnerType, Region
from datastore.store import DocumentStore
from resolvers.identity import Role
from tests.conftest import GraphQLClient, Make, token, token_of

APPLY = """mutation($input: ApplyForServiceCategoryInput!) {
  applyForServiceCategory(input: $input) {
  categoryApplication { id status market category { id name } }
  userErrors { field message code } } }"""
REVIEW = """mutation($input: ReviewCategoryApplicationInput!) {
  reviewCategoryApplication(input: $input) {
  categoryApplication { id status reason history { edges { node { action fromStatus toStatus
  actorRole reason } } } } userErrors { field message code } } }"""


def _category(partner_type: PartnerType, region: Region, name: str) -> str:
    return next(r.id for r in get_catalog().find(partner_type, region) if r.name == name)


async def _apply(
    gql: GraphQLClient, partner: Mapping[str, Any], category_id: str, market: str
) -> Any:
    variables = {"input": {"categoryId": category_id, "market": market}}
    result = await gql(APPLY, variables, as_=token_of(partner))
    return result["data"]["applyForServiceCategory"]


async def test_apply_then_apply_again_returns_the_open_application(
    gql: GraphQLClient, make: Make, store: DocumentStore
) -> None:
    partner = await make.partner(registrationRegion=Region.UK)
    category = _category(PartnerType.TSP, Region.UK, "Shop Registration")
    first = await _apply(gql, partner, category, "GB")
    assert first["userErrors"] == []
    assert first["categoryApplication"]["status"] == "REVIEWING"
    again = await _apply(gql, partner, category, "GB")
    assert again["categoryApplication"]["id"] == first["categoryApplication"]["id"]
    assert await store.count(c.CATEGORY_APPLICATIONS) == 1


async def test_ineligible_category_or_market_is_refused_and_nothing_written(
    gql: GraphQLClient, make: Make, store: DocumentStore
) -> None:
    partner = await make.partner(registrationRegion=Region.US)
    uk_only = _category(PartnerType.TSP, Region.UK, "Shop Registration")
    wrong_region = await _apply(gql, partner, uk_only, "US")
    assert wrong_region["userErrors"] == [
        {
            "field": ["input", "categoryId"],
            "message": "this category is not offered to your partner type and registration region",
            "code": "CATEGORY_NOT_ELIGIBLE",
        }
    ]
    us_category = _category(PartnerType.TSP, Region.US, "Shop Management")
    wrong_market = await _apply(gql, partner, us_category, "GB")
    assert wrong_market["userErrors"][0]["code"] == "MARKET_NOT_ELIGIBLE"
    assert wrong_market["userErrors"][0]["field"] == ["input", "market"]
    unknown = await _apply(gql, partner, "scat_doesnotexist", "US")
    assert unknown["userErrors"][0]["code"] == "NOT_FOUND"
    mcn_category = get_catalog().find(PartnerType.MCN_CAP, Region.US)[0].id
    wrong_type = await _apply(gql, partner, mcn_category, "US")
    assert wrong_type["userErrors"][0]["code"] == "CATEGORY_NOT_ELIGIBLE"
    assert await store.count(c.CATEGORY_APPLICATIONS) == 0
    assert await store.count(c.HISTORY) == 0


async def test_closed_partner_cannot_apply(
    gql: GraphQLClient, make: Make, store: DocumentStore
) -> None:
    partner = await make.partner(status=PartnerStatus.CLOSED)
    category = _category(PartnerType.TSP, Region.US, "Shop Management")
    refused = await _apply(gql, partner, category, "US")
    assert refused["userErrors"][0]["code"] == "PARTNER_CLOSED"
    assert await store.count(c.CATEGORY_APPLICATIONS) == 0


async def test_admin_reviews_and_approval_is_visible(
    gql: GraphQLClient, make: Make, admin: str
) -> None:
    partner = await make.partner()
    category = _category(PartnerType.TSP, Region.US, "Shop Management")
    application = (await _apply(gql, partner, category, "US"))["categoryApplication"]
    no_reason = await gql(
        REVIEW, {"input": {"id": application["id"], "decision": "REJECT"}}, as_=admin
    )
    assert no_reason["data"]["reviewCategoryApplication"]["userErrors"][0]["code"] == (
        "REASON_REQUIRED"
    )
    long_reason = {"id": application["id"], "decision": "REJECT", "reason": "x" * 1001}
    too_long = await gql(REVIEW, {"input": long_reason}, as_=admin)
    [error] = too_long["data"]["reviewCategoryApplication"]["userErrors"]
    assert (error["field"], error["code"]) == (["input", "reason"], "TOO_LONG")
    approved = await gql(
        REVIEW, {"input": {"id": application["id"], "decision": "APPROVE"}}, as_=admin
    )
    body = approved["data"]["reviewCategoryApplication"]["categoryApplication"]
    assert body["status"] == "APPROVED"
    assert body["history"]["edges"][0]["node"] == {
        "action": "APPROVED",
        "fromStatus": "REVIEWING",
        "toStatus": "APPROVED",
        "actorRole": "ADMIN",
        "reason": None,
    }
    twice = await gql(
        REVIEW, {"input": {"id": application["id"], "decision": "REJECT", "reason": "x"}}, as_=admin
    )
    assert twice["data"]["reviewCategoryApplication"]["userErrors"][0]["code"] == "NOT_REVIEWING"
    again = await _apply(gql, partner, category, "US")
    assert again["userErrors"][0]["code"] == "ALREADY_APPROVED"
    profile = await gql(
        """query($id: ID!) { partner(id: $id) { approvedCategories { market category { name } }
        eligibleCategories { name } categoryApplications { edges { node { status } } } } }""",
        {"id": partner["_id"]},
    )
    data = profile["data"]["partner"]
    assert data["approvedCategories"] == [{"market": "US", "category": {"name": "Shop Management"}}]
    assert data["eligibleCategories"] == []  # private to the partner and admins
    assert data["categoryApplications"]["edges"] == []
    own = await gql(
        """query($id: ID!) { partner(id: $id) { eligibleCategories { name } } }""",
        {"id": partner["_id"]},
        as_=token_of(partner),
    )
    names = [row["name"] for row in own["data"]["partner"]["eligibleCategories"]]
    assert names == [
        r.name for r in get_catalog().eligible_for(PartnerType.TSP, Region.US, [Market.US])
    ]


async def test_rejection_keeps_reason_and_allows_a_new_application(
    gql: GraphQLClient, make: Make, admin: str
) -> None:
    partner = await make.partner()
    category = _category(PartnerType.TSP, Region.US, "LIVE Management")
    application = (await _apply(gql, partner, category, "US"))["categoryApplication"]
    rejected = await gql(
        REVIEW,
        {"input": {"id": application["id"], "decision": "REJECT", "reason": "Add case studies"}},
        as_=admin,
    )
    assert rejected["data"]["reviewCategoryApplication"]["categoryApplication"]["reason"] == (
        "Add case studies"
    )
    retry = await _apply(gql, partner, category, "US")
    assert retry["userErrors"] == []
    assert retry["categoryApplication"]["id"] != application["id"]


async def test_roles_on_application_mutations(gql: GraphQLClient, make: Make) -> None:
    partner = await make.partner()
    seller = await make.seller()
    category = _category(PartnerType.TSP, Region.US, "Shop Management")
    variables = {"input": {"categoryId": category, "market": "US"}}
    for caller in (None, token_of(seller), token(Role.ADMIN)):
        result = await gql(APPLY, variables, as_=caller)
        expected = "UNAUTHENTICATED" if caller is None else "FORBIDDEN"
        assert result["errors"][0]["extensions"]["code"] == expected
    application = await _apply(gql, partner, category, "US")
    review = {"input": {"id": application["categoryApplication"]["id"], "decision": "APPROVE"}}
    for caller in (None, token_of(seller), token_of(partner)):
        result = await gql(REVIEW, review, as_=caller)
        expected = "UNAUTHENTICATED" if caller is None else "FORBIDDEN"
        assert result["errors"][0]["extensions"]["code"] == expected
    unknown = await gql(
        REVIEW,
        {"input": {"id": "cap_01aaaaaaaaaaaaaaaaaaaaaaaa", "decision": "APPROVE"}},
        as_=token(Role.ADMIN),
    )
    assert unknown["data"]["reviewCategoryApplication"]["userErrors"][0]["code"] == "NOT_FOUND"
