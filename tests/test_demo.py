"""The demo data set works end to end for the people trying it in GraphiQL."""

from __future__ import annotations

from datastore.store import DocumentStore
from resolvers.demo_seed import seed_demo
from resolvers.identity import Role
from tests.conftest import GraphQLClient, token


async def test_demo_seller_accepts_the_demo_offer(gql: GraphQLClient, store: DocumentStore) -> None:
    seeded = await seed_demo(store, only_if_empty=True)
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


async def test_demo_services_have_distinct_names(store: DocumentStore) -> None:
    from datastore import collections as c

    assert await seed_demo(store, only_if_empty=True) is not None
    names = [s["name"] for s in await store.find(c.SERVICES)]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


async def test_graphiql_examples_run_against_the_demo(
    gql: GraphQLClient, store: DocumentStore
) -> None:
    from web.examples import EXAMPLES

    seeded = await seed_demo(store, only_if_empty=True)
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


async def test_demo_is_made_through_the_mutations_resolvers(store: DocumentStore) -> None:
    """Every demo object carries the history its mutation records, and what the API keeps
    alongside it (search words, linked handles, referral links of Shop Registration)."""
    from datastore import collections as c

    assert await seed_demo(store, only_if_empty=True) is not None
    subjects = {h["subjectId"] for h in await store.find(c.HISTORY)}
    for collection in (c.PARTNERS, c.SERVICES, c.CATEGORY_APPLICATIONS, c.SERVICE_OFFERS):
        documents = await store.find(collection)
        assert documents and {d["_id"] for d in documents} <= subjects, collection
    assert all(p["searchTerms"] for p in await store.find(c.PARTNERS))
    assert all(a["linkedHandle"] for a in await store.find(c.TIKTOK_ACCOUNTS))
    applications = await store.find(c.CATEGORY_APPLICATIONS)
    assert {a["status"] for a in applications} == {"APPROVED"}
    assert await store.count(c.REFERRAL_LINKS) > 0
