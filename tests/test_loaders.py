"""Nested queries cost round trips bounded by depth, not by how many items they return."""

from __future__ import annotations

import gc
import inspect
from collections.abc import Iterator

import pytest

from datastore.documents import PartnerDocument
from datastore.loaders import then
from datastore.paging import Page, window
from datastore.store import DocumentStore
from resolvers.context import Context
from resolvers.identity import Role, Viewer
from schema.document_reads import reference
from tests.conftest import GraphQLClient, Make, PartnerFactory, ServiceFactory

NESTED = """{ partners(first: 20) { edges { node { name
  services(first: 10) { edges { node { name partner { name } category { name } } } } } } } }"""


async def _round_trips_for(
    partner_count: int, gql: GraphQLClient, store: DocumentStore, make: Make, admin: str
) -> tuple[int, int]:
    for _ in range(partner_count):
        partner = await make.partner()
        for _ in range(3):
            await make.service(partner)
    store.stats.reset()
    result = await gql(NESTED, as_=admin)
    edges = result["data"]["partners"]["edges"]
    assert len(edges) == partner_count
    assert all(len(e["node"]["services"]["edges"]) == 3 for e in edges)
    return store.stats.round_trips, store.stats.documents_read


async def test_round_trips_do_not_grow_with_partners(
    gql: GraphQLClient, store: DocumentStore, make: Make, admin: str
) -> None:
    few = await _round_trips_for(2, gql, store, make, admin)
    for collection in ("partners", "services"):
        await store.delete_all(collection)
    many = await _round_trips_for(20, gql, store, make, admin)
    # One read for the partners page, one for every partner's services; partners of services
    # come from the primed loader.
    assert few[0] == many[0] == 2
    assert many[1] == 20 + 20 * 3
    assert few[1] == 2 + 2 * 3


async def test_services_page_inside_each_partner_continues_with_its_cursor(
    gql: GraphQLClient, make: Make, admin: str
) -> None:
    partner = await make.partner()
    made = [(await make.service(partner))["_id"] for _ in range(5)]
    query = """query($id: ID!, $after: String) { partner(id: $id) {
      services(first: 2, after: $after) { edges { node { id } }
      pageInfo { hasNextPage endCursor } } } }"""
    seen: list[str] = []
    after = None
    for _ in range(5):
        page = (await gql(query, {"id": partner["_id"], "after": after}, as_=admin))["data"]
        services = page["partner"]["services"]
        seen += [e["node"]["id"] for e in services["edges"]]
        if not services["pageInfo"]["hasNextPage"]:
            break
        after = services["pageInfo"]["endCursor"]
    assert seen == list(reversed(made))


@pytest.fixture
def collector_off() -> Iterator[None]:
    """Only reference counting frees objects while the test runs."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def test_an_answered_request_leaves_none_of_its_reads_to_the_cycle_collector(
    gql: GraphQLClient,
    make_partner: PartnerFactory,
    make_service: ServiceFactory,
    admin: str,
    collector_off: None,
) -> None:
    # A page with a total (a page's lazy count holds its loader, whose cache holds the page)
    # under a page: the loaders' reference cycles of a nested read.
    made = []
    for _ in range(3):
        partner = await make_partner()
        made += [await make_service(partner) for _ in range(2)]
    query = """{ partners(first: 10) { edges { node { name
      services(first: 5) { totalCount edges { node { name } } } } } } }"""
    result = await gql(query, as_=admin)
    assert (
        sum(len(e["node"]["services"]["edges"]) for e in result["data"]["partners"]["edges"]) == 6
    )
    ids = {service["_id"] for service in made}
    held = {id(service) for service in made}
    left = [
        o
        for o in gc.get_objects()
        if type(o) is dict and o.get("_id") in ids and "partnerId" in o and id(o) not in held
    ]
    assert left == [], f"{len(left)} services read by the request are still alive"


async def test_a_reference_already_loaded_resolves_at_once(
    store: DocumentStore, make: Make
) -> None:
    partner = await make.partner()
    context = Context(store=store, viewer=Viewer(Role.ADMIN, "adm_1"), request_id="loads")
    partner_of = reference(lambda loaders: loaders.partner_by_id, "partnerId")

    def name(document: PartnerDocument) -> str:
        return document["name"]

    first = then(partner_of.read({"partnerId": partner["_id"]}, context), name)
    assert inspect.isawaitable(first)
    assert await first == partner["name"]
    store.stats.reset()
    # Held by the loader now: the value itself, no awaitable (no coroutine for the executor).
    assert then(partner_of.read({"partnerId": partner["_id"]}, context), name) == partner["name"]
    assert store.stats.round_trips == 0
    dangling = partner_of.read({"partnerId": "ptn_missing"}, context)
    assert inspect.isawaitable(dangling)
    with pytest.raises(LookupError, match="dangling reference to ptn_missing"):
        await dangling


@pytest.mark.parametrize("backwards", [False, True])
@pytest.mark.parametrize("size", [0, 1, 5, 6, 7])
def test_a_window_is_the_page_of_its_read_in_listing_order(size: int, backwards: bool) -> None:
    read = [{"_id": str(n)} for n in range(6)]  # a read of page + 1, in the order read
    result = window(read, Page(size=size, backwards=backwards))
    expected = read[:size]
    if backwards:
        expected.reverse()  # read backwards, listed forwards
    assert result.documents == expected
    assert result.has_more is (len(read) > size)
    assert read == [{"_id": str(n)} for n in range(6)]  # the read itself is left as it was
