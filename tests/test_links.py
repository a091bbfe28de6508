"""Links come as absolute URLs beside their tokens, for whoever may see the tokens."""

from __future__ import annotations

from resolvers.identity import Role
from tests.conftest import GraphQLClient, Make, token, token_of

OFFER = (
    """query($id: ID!) { node(id: $id) { ... on ServiceOffer { linkToken authorizationUrl } } }"""
)
SERVICE = """query($id: ID!) { node(id: $id) { ... on Service {
  authorizationLinkToken authorizationUrl } } }"""


async def test_offer_and_service_links_are_absolute_urls_for_the_partner(
    gql: GraphQLClient, make: Make
) -> None:
    partner = await make.partner()
    service = await make.service(partner)
    offer = await make.offer(partner, [service])
    as_partner = token_of(partner)
    offer_links = (await gql(OFFER, {"id": offer["_id"]}, as_=as_partner))["data"]["node"]
    assert offer_links == {
        "linkToken": offer["linkToken"],
        "authorizationUrl": f"http://gateway/authorize/{offer['linkToken']}",
    }
    service_links = (await gql(SERVICE, {"id": service["_id"]}, as_=as_partner))["data"]["node"]
    assert service_links["authorizationUrl"] == (
        f"http://gateway/authorize/service/{service['authorizationLinkToken']}"
    )
    other = token(Role.PARTNER, (await make.partner())["_id"])
    hidden = (await gql(SERVICE, {"id": service["_id"]}, as_=other))["data"]["node"]
    assert hidden == {"authorizationLinkToken": None, "authorizationUrl": None}
