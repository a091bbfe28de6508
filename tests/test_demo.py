"""The demo data set works end to end for the people trying it in GraphiQL."""

from __future__ import annotations

from datastore.demo import seed_demo
from datastore.store import DocumentStore
from resolvers.identity import Role
from resolvers.referrals import ensure_referral_links
from tests.conftest import GraphQLClient, token


async def test_demo_seller_accepts_the_demo_offer(gql: GraphQLClient, store: DocumentStore) -> None:
    seeded = await seed_demo(store, only_if_empty=True, on_live=ensure_referral_links)
    assert seeded is not None
    seller = token(Role.SELLER, seeded.subjects["seller"])
    opened = await gql(
        """query($t: String!) { serviceOfferByLink(token: $t) { status canBeAccepted
        services { status } } }""",
        {"t": seeded.offer_link_token},
    )
    offer = opened["data"]["serviceOfferByLink"]
    assert (offer["status"], offer["canBeAccepted"]) == ("OPEN", True)
    assert offer["services"] and {s["status"] for s in offer["services"]} == {"LIVE"}
    accepted = await gql(
        """mutation($t: String!) { authorizeServiceOffer(token: $t) {
        authorizations { status shops { name } tiktokAccounts { handle } }
        userErrors { field code message } } }""",
        {"t": seeded.offer_link_token},
        as_=seller,
    )
    payload = accepted["data"]["authorizeServiceOffer"]
    assert payload["userErrors"] == []
    assert len(payload["authorizations"]) == len(offer["services"])
    assert all(a["status"] == "ACTIVE" and a["shops"] for a in payload["authorizations"])
    store_page = await gql("{ store(first: 5) { edges { node { name } } } }")
    assert store_page["data"]["store"]["edges"]


def test_demo_services_have_distinct_names() -> None:
    from datastore import collections as c
    from datastore.demo import build_demo_documents

    names = [s["name"] for s in build_demo_documents()[c.SERVICES]]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


async def test_graphiql_examples_run_against_the_demo(
    gql: GraphQLClient, store: DocumentStore
) -> None:
    from web.examples import EXAMPLES

    seeded = await seed_demo(store, only_if_empty=True, on_live=ensure_referral_links)
    assert seeded is not None
    callers = {
        role: token(Role(role.upper()), subject) for role, subject in seeded.subjects.items()
    }
    by_name = {e.name: e for e in EXAMPLES}
    link = {"token": seeded.offer_link_token}
    results = {}
    for name, variables in (
        ("PartnerDashboard", {}),
        ("StoreSearch", by_name["StoreSearch"].variables),
        ("OpenOfferLink", link),
        ("AcceptOffer", link),
        ("AdminPartners", {}),
    ):
        example = by_name[name]
        caller = callers[example.role] if example.role else None
        result = await gql(example.query, dict(variables), as_=caller)
        assert "errors" not in result, (name, result)
        results[name] = result["data"]
    dashboard = results["PartnerDashboard"]["viewer"]["partner"]
    assert dashboard["services"]["nodes"] and dashboard["serviceOffers"]["nodes"]
    assert dashboard["services"]["totalCount"] >= len(dashboard["services"]["nodes"])
    assert results["OpenOfferLink"]["serviceOfferByLink"]["canBeAccepted"] is True
    assert results["AcceptOffer"]["authorizeServiceOffer"]["userErrors"] == []
    assert results["AdminPartners"]["partners"]["nodes"]
