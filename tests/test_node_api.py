"""Global ids: node and nodes, with each caller seeing only what is theirs."""

from __future__ import annotations

from datastore.catalog import get_catalog
from datastore.enums import ServiceStatus
from resolvers.identity import Role
from tests.conftest import GraphQLClient, Make, token, token_of

NODE = """query($id: ID!) { node(id: $id) { __typename id
  ... on Service { name partner { id } category { name } }
  ... on Seller { name shops { edges { node { id name } } }
                  tiktokAccounts { edges { node { handle linkedStatus } } } }
  ... on ServiceCategory { name mainCategory partnerType } } }"""


async def test_node_resolves_each_type_by_prefix(gql: GraphQLClient, make: Make) -> None:
    partner = await make.partner()
    service = await make.service(partner)
    seller = await make.seller()
    category = get_catalog().all()[0]
    as_seller = token_of(seller)
    found = {
        identifier: (await gql(NODE, {"id": identifier}, as_=as_seller))["data"]["node"]
        for identifier in (partner["_id"], service["_id"], seller["_id"], category.id)
    }
    assert [node["__typename"] for node in found.values()] == [
        "Partner",
        "Service",
        "Seller",
        "ServiceCategory",
    ]
    assert found[service["_id"]]["partner"]["id"] == partner["_id"]
    assert found[seller["_id"]]["shops"]["edges"][0]["node"]["name"] == "Main shop"
    assert found[seller["_id"]]["tiktokAccounts"]["edges"][0]["node"]["linkedStatus"] == "LINKED"
    assert found[category.id]["name"] == category.name


async def test_another_tenants_private_objects_read_as_not_found(
    gql: GraphQLClient, make: Make
) -> None:
    partner = await make.partner()
    draft = await make.service(partner, status=ServiceStatus.DRAFT)
    seller = await make.seller()
    intruders = {
        "another seller": token(Role.SELLER, (await make.seller())["_id"]),
        "a partner": token_of(partner),
        "anonymous": None,
    }
    for caller in intruders.values():
        result = await gql(NODE, {"id": seller["_id"]}, as_=caller)
        assert result["data"]["node"] is None
        assert result["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    hidden = await gql(NODE, {"id": draft["_id"]}, as_=intruders["another seller"])
    assert hidden["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    owner = await gql(NODE, {"id": draft["_id"]}, as_=token_of(partner))
    assert owner["data"]["node"]["id"] == draft["_id"]
    admin = await gql(NODE, {"id": seller["_id"]}, as_=token(Role.ADMIN))
    assert admin["data"]["node"]["id"] == seller["_id"]


async def test_malformed_and_unknown_ids(gql: GraphQLClient) -> None:
    for bad in ("", "hello", "ptn_", "xyz_0123456789abcdefghjkmnpq", "ptn_UPPERCASE123"):
        result = await gql(NODE, {"id": bad})
        assert result["data"]["node"] is None
        assert result["errors"][0]["extensions"]["code"] == "INVALID_ID", bad
    unknown = await gql(NODE, {"id": "svc_01aaaaaaaaaaaaaaaaaaaaaaaa"})
    assert unknown["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_nodes_keeps_order_and_nulls_missing(gql: GraphQLClient, make: Make) -> None:
    first, second = await make.partner(), await make.partner()
    ids = [second["_id"], "ptn_01aaaaaaaaaaaaaaaaaaaaaaaa", first["_id"]]
    result = await gql("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ids})
    assert result["data"]["nodes"] == [{"id": second["_id"]}, None, {"id": first["_id"]}]
    too_many = await gql(
        "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": [first["_id"]] * 101}
    )
    assert too_many["errors"][0]["extensions"]["code"] == "TOO_MANY_IDS"


async def test_viewer_names_the_caller(gql: GraphQLClient, make: Make) -> None:
    partner = await make.partner()
    seller = await make.seller()
    query = "{ viewer { role partner { id } seller { id } } }"
    assert (await gql(query))["data"]["viewer"] == {"role": None, "partner": None, "seller": None}
    as_partner = await gql(query, as_=token_of(partner))
    assert as_partner["data"]["viewer"] == {
        "role": "PARTNER",
        "partner": {"id": partner["_id"]},
        "seller": None,
    }
    as_seller = await gql(query, as_=token_of(seller))
    assert as_seller["data"]["viewer"]["seller"] == {"id": seller["_id"]}
