"""Every connection of the schema, found by introspection, refuses every other list's cursors
and malformed ones with INVALID_CURSOR: a cursor is client input that reaches store filters
and in-memory comparisons, where one of another list would skip or repeat items, or compare a
date with a number."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLObjectType, get_named_type

from datastore import collections as c
from datastore.codec import utc_now
from datastore.ids import new_id
from datastore.store import DocumentStore
from resolvers.context import Context
from resolvers.demo_seed import seed_demo
from resolvers.identity import Role, Viewer
from schema.api import schema
from tests.conftest import GraphQLClient, Make

# Lists whose order an argument chooses: each order is a list of its own (walked on the root
# field; the other `authorizations` fields take the same arguments to the same function).
_ORDERINGS: dict[str, list[str]] = {
    "Query.authorizations": ["", "sortKey: UPDATED_AT", "sortKey: ENDS_AT", "reverse: true"],
    "Query.store": ["", "sortKey: NAME", "sortKey: NEWEST", 'query: "shop"'],
}
_ORDERED = {name.partition(".")[2] for name in _ORDERINGS}
# Where a parent of each type is found (reached by `node`, as the admin).
_PARENTS = {
    "Partner": c.PARTNERS,
    "Seller": c.SELLERS,
    "Service": c.SERVICES,
    "CategoryApplication": c.CATEGORY_APPLICATIONS,
    "Authorization": c.AUTHORIZATIONS,
    "ServiceOffer": c.SERVICE_OFFERS,
    "SellerRequest": c.REQUESTS,
}
_ARGUMENTS = ("after", "before")


@dataclass(frozen=True)
class _List:
    parent: str
    field: str
    connection: str
    ordering: str

    @property
    def kind(self) -> tuple[str, str, str]:
        """Lists of one kind page through the same items in the same order, so a cursor of
        one is a position in another (every `history`; every `authorizations` by one order):
        those are not foreign to each other."""
        return self.connection, self.field if self.field in _ORDERED else "", self.ordering

    def query(self, cursor: str | None = None, argument: str = "after") -> str:
        arguments = ["first: 1" if argument == "after" else "last: 1"]
        if self.ordering:
            arguments.append(self.ordering)
        if cursor is not None:
            arguments.append(f"{argument}: {json.dumps(cursor)}")
        selection = f"{self.field}({', '.join(arguments)}) {{ pageInfo {{ endCursor }} }}"
        if self.parent == "Query":
            return f"{{ {selection} }}"
        return f"query($id: ID!) {{ node(id: $id) {{ ... on {self.parent} {{ {selection} }} }} }}"


def _lists() -> Iterator[_List]:
    for type_name, graphql_type in schema._schema.type_map.items():
        if not isinstance(graphql_type, GraphQLObjectType) or type_name.startswith("__"):
            continue
        for field_name, field in graphql_type.fields.items():
            connection = get_named_type(field.type).name
            if connection.endswith("Connection"):
                for ordering in _ORDERINGS.get(f"{type_name}.{field_name}", [""]):
                    yield _List(type_name, field_name, connection, ordering)


async def _seed(store: DocumentStore, make: Make) -> None:
    """The demo data, with what it lacks: an authorization and a request, each with a
    history entry, and an offer made for one seller."""
    await seed_demo(store, only_if_empty=True)
    seller = (await store.find(c.SELLERS, limit=1))[0]
    service = (await store.find(c.SERVICES, {"status": "LIVE"}, limit=1))[0]
    partner = (await store.find(c.PARTNERS, {"_id": service["partnerId"]}, limit=1))[0]
    offer = await make.offer(partner, [service], sellerId=seller["_id"])
    for subject in (
        await make.authorization(seller, service, offerId=offer["_id"]),
        await make.request(
            seller,
            partner,
            business={
                "companySize": "SIZE_11_50",
                "currency": "USD",
                "shopMonthlyGmv": "25000",
                "monthlyBudget": "1500",
                "mainProductCategory": "Beauty",
            },
            updatedAt=utc_now(),
        ),
    ):
        await store.insert(
            c.HISTORY,
            {
                "_id": new_id("hst"),
                "subjectId": subject["_id"],
                "action": "CREATED",
                "createdAt": utc_now(),
            },
        )


def _page(item: _List, result: dict[str, Any]) -> dict[str, Any] | None:
    data = result.get("data") or {}
    holder = data if item.parent == "Query" else (data.get("node") or {})
    page: dict[str, Any] | None = holder.get(item.field)
    return page


async def _first_cursors(
    gql: GraphQLClient, store: DocumentStore, admin: str
) -> dict[_List, tuple[dict[str, Any], str]]:
    """Each list's variables (a parent whose list is not empty) and a cursor of it."""
    found: dict[_List, tuple[dict[str, Any], str]] = {}
    for item in _lists():
        parents = (
            [{}]
            if item.parent == "Query"
            else [{"id": d["_id"]} for d in await store.find(_PARENTS[item.parent], limit=50)]
        )
        for variables in parents:
            result = await gql(item.query(), variables, as_=admin)
            assert "errors" not in result, (item, result)
            page = _page(item, result)
            if page and page["pageInfo"]["endCursor"]:
                found[item] = (variables, page["pageInfo"]["endCursor"])
                break
        else:
            raise AssertionError(f"{item} has no item to make a cursor of: seed one")
    return found


def _forge(payload: Any) -> str:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _malformed(own: str) -> dict[str, str]:
    """Cursors no list made: not base64, not JSON, JSON of the wrong shape, and this list's
    own tag with values of the wrong kinds (or too few)."""
    decoded = json.loads(base64.urlsafe_b64decode(own + "=" * (-len(own) % 4)))
    keys, tag = decoded["k"], decoded.get("t")
    wrong_kinds = [
        {"$date": "2025-01-01T00:00:00Z"} if not isinstance(k, dict) else 7 for k in keys
    ]
    return {
        "empty": "",
        "not base64": "%%%",
        "not JSON": _forge("{k:"),
        "null": _forge("null"),
        "a string": _forge('"k"'),
        "a list": _forge("[1, 2]"),
        "no keys": _forge({"t": tag}),
        "keys not a list": _forge({"k": 1, "t": tag}),
        "too few keys": _forge({"k": keys[:-1], "t": tag}),
        "keys of the wrong kinds": _forge({"k": wrong_kinds, "t": tag}),
        "a number for the id": _forge({"k": [*keys[:-1], 12], "t": tag}),
        "untagged": _forge({"k": keys}),
    }


async def _refused(
    store: DocumentStore,
    item: _List,
    variables: dict[str, Any],
    cursor: str,
    arguments: tuple[str, ...] = _ARGUMENTS,
) -> list[str]:
    """What is wrong with the answers to ``cursor`` as each argument (empty: refused). Run
    by the schema itself, as the admin: thousands of operations, each of which HTTP and
    checked execution would only slow down (the cursors come from the app over HTTP)."""
    wrong = []
    for argument in arguments:
        context = Context(store=store, viewer=Viewer(Role.ADMIN, "admin"), request_id="walk")
        result = await schema.execute(
            item.query(cursor, argument), variable_values=variables, context_value=context
        )
        errors = result.errors or []
        codes = [(e.extensions or {}).get("code") for e in errors]
        if codes != ["INVALID_CURSOR"]:
            wrong.append(f"{argument}: {codes} {[e.message for e in errors] or result.data}")
    return wrong


async def test_every_connection_refuses_other_lists_and_malformed_cursors(
    gql: GraphQLClient, store: DocumentStore, admin: str, make: Make
) -> None:
    await _seed(store, make)
    cursors = await _first_cursors(gql, store, admin)
    assert len({item.kind for item in cursors}) >= 15, "fewer lists than the schema has"
    accepted: list[str] = []
    for item, (variables, own) in cursors.items():
        for argument in _ARGUMENTS:
            result = await gql(item.query(own, argument), variables, as_=admin)
            if "errors" in result:
                accepted.append(f"{item} refuses its own cursor: {result['errors']}")
    assert accepted == []
    failures: list[str] = []
    for item, (variables, own) in cursors.items():
        foreign = {
            f"{other.parent}.{other.field}({other.ordering})": cursor
            for other, (_, cursor) in cursors.items()
            if other.kind != item.kind
        }
        # `after` and `before` are decoded alike (tests/test_cursors.py): the foreign
        # cursors, hundreds, go as `after`; the malformed ones as both.
        walk = [(foreign, ("after",)), (_malformed(own), _ARGUMENTS)]
        for cursors_of_kind, arguments in walk:
            for name, cursor in cursors_of_kind.items():
                for wrong in await _refused(store, item, variables, cursor, arguments):
                    failures.append(
                        f"{item.parent}.{item.field}({item.ordering}) <- {name}: {wrong}"
                    )
    assert failures == [], "\n".join(failures[:40]) + f"\n({len(failures)} in all)"
