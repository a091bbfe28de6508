"""The partner dashboard in plain graphql-core: a schema of the same shape whose resolvers
read the same SQLite store with plain SQL (stdlib ``sqlite3``), one statement where the
field needs it, served by a minimal Starlette app under uvicorn; encoded by orjson.

What ``bench/end_to_end.py`` calls raw graphql-core: what a straightforward GraphQL server
over the same store does. Its documents are parsed and validated once per distinct query
text (as the gateway caches them); no dataloaders, so each authorization's seller, shops,
accounts, service and history are a statement each. Run as ``uvicorn --factory
bench.dashboard_raw:app`` with ``BENCH_DATABASE`` and ``BENCH_SECRET`` set.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from functools import lru_cache
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLField,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    execute,
    parse,
    validate,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.dashboard_floor import _NEWEST, Dashboard
from edge.startup_heap import freeze_startup_heap
from resolvers.authorization_rules import effective_status, grants_access
from resolvers.identity import viewer_from_authorization
from resolvers.offer_dates import last_day
from resolvers.offers import effective_offer_status

Resolver = Callable[..., Any]


def _connection(name: str, node: GraphQLObjectType) -> GraphQLObjectType:
    edge = GraphQLObjectType(f"{name}Edge", {"node": GraphQLField(GraphQLNonNull(node))})
    edges = GraphQLNonNull(GraphQLList(GraphQLNonNull(edge)))
    return GraphQLObjectType(f"{name}Connection", {"edges": GraphQLField(edges)})


def _enum(name: str, values: Sequence[str]) -> GraphQLNonNull[GraphQLEnumType]:
    return GraphQLNonNull(GraphQLEnumType(name, {value: value for value in values}))


def _field(kind: Any, resolve: Resolver | None = None, **args: Any) -> GraphQLField:
    return GraphQLField(kind, {k: GraphQLArgument(v) for k, v in args.items()}, resolve=resolve)


def schema(store: Dashboard) -> GraphQLSchema:
    """The dashboard's shape, each relation read by its own statement."""
    string = GraphQLNonNull(GraphQLString)
    first = GraphQLNonNull(GraphQLInt)

    def one(table: str, key: str) -> Resolver:
        return lambda parent, _info: store._by_id(table, [parent[key]])[parent[key]]

    def listed(table: str, key: str) -> Resolver:
        def resolve(parent: dict[str, Any], _info: Any) -> list[dict[str, Any]]:
            found = store._by_id(table, parent[key])
            return [found[i] for i in parent[key]]

        return resolve

    def page(table: str, key: str) -> Resolver:
        sql = f"SELECT doc FROM {table} WHERE json_extract(doc, '$.{key}') = ? {_NEWEST} LIMIT ?"

        def resolve(parent: dict[str, Any], _info: Any, first: int) -> dict[str, Any]:
            return {"edges": [{"node": d} for d in store._rows(sql, (parent["_id"], first))]}

        return resolve

    named = GraphQLObjectType("Named", {"name": _field(string)})
    category = GraphQLObjectType("Category", {"name": _field(string)})
    service = GraphQLObjectType("Service", {
        "name": _field(string),
        "category": _field(
            GraphQLNonNull(category), lambda d, _: store.catalog.get(d["categoryId"])
        ),
    })  # fmt: skip
    account = GraphQLObjectType("TikTokAccount", {
        "handle": _field(string), "linkedStatus": _field(_enum("Linked", ["LINKED", "UNLINKED"])),
    })  # fmt: skip
    entry = GraphQLObjectType("HistoryEntry", {
        "action": _field(string),
        "reasonCode": _field(GraphQLString),
        "createdAt": _field(GraphQLNonNull(GraphQLScalarType("DateTime", datetime.isoformat))),
    })  # fmt: skip
    now = datetime.now().astimezone
    authorization = GraphQLObjectType("Authorization", {
        "id": _field(GraphQLNonNull(GraphQLID), lambda d, _: d["_id"]),
        "status": _field(
            _enum("AuthorizationStatus", ["ACTIVE", "COMPLETED", "CANCELED", "CLOSED", "PENDING"]),
            lambda d, _: effective_status(d, now()).value,
        ),
        "grantsAccess": _field(
            GraphQLNonNull(GraphQLBoolean),
            lambda d, _: grants_access(
                d, store._by_id("partners", [d["partnerId"]])[d["partnerId"]], now()
            ),
        ),
        "endDate": _field(
            GraphQLNonNull(GraphQLScalarType("Date", date.isoformat)),
            lambda d, _: last_day(d["endsAt"]),
        ),
        "seller": _field(GraphQLNonNull(named), one("sellers", "sellerId")),
        "shops": _field(
            GraphQLNonNull(GraphQLList(GraphQLNonNull(named))), listed("shops", "shopIds")
        ),
        "tiktokAccounts": _field(
            GraphQLNonNull(GraphQLList(GraphQLNonNull(account))),
            listed("tiktok_accounts", "tiktokAccountIds"),
        ),
        "service": _field(GraphQLNonNull(named), one("services", "serviceId")),
        "history": _field(
            GraphQLNonNull(_connection("History", entry)), page("history", "subjectId"), first=first
        ),
    })  # fmt: skip
    offer = GraphQLObjectType("ServiceOffer", {
        "id": _field(GraphQLNonNull(GraphQLID), lambda d, _: d["_id"]),
        "status": _field(
            _enum("OfferStatus", ["OPEN", "ACCEPTED", "WITHDRAWN", "EXPIRED"]),
            lambda d, _: effective_offer_status(d, now()).value,
        ),
        "services": _field(
            GraphQLNonNull(GraphQLList(GraphQLNonNull(service))), listed("services", "serviceIds")
        ),
        "authorizations": _field(
            GraphQLNonNull(_connection("Authorization", authorization)),
            page("authorizations", "offerId"),
            first=first,
        ),
    })  # fmt: skip
    partner = GraphQLObjectType("Partner", {
        "name": _field(string),
        "serviceOffers": _field(
            GraphQLNonNull(_connection("Offer", offer)), page("service_offers", "partnerId"),
            first=first,
        ),
    })  # fmt: skip
    viewer = GraphQLObjectType("Viewer", {
        "partner": _field(
            partner, lambda subject, _: store._by_id("partners", [subject])[subject]
        ),
    })  # fmt: skip
    query = GraphQLObjectType("Query", {
        "viewer": _field(GraphQLNonNull(viewer), lambda subject, _: subject),
    })  # fmt: skip
    return GraphQLSchema(query)


def app() -> Starlette:
    """Raw graphql-core's app: POST /graphql with a query and variables."""
    store = Dashboard(os.environ["BENCH_DATABASE"])
    secret = os.environ["BENCH_SECRET"]
    built = schema(store)

    @lru_cache(maxsize=64)
    def document(text: str) -> DocumentNode:
        parsed = parse(text)
        if errors := validate(built, parsed):
            raise ValueError(f"invalid document: {errors}")
        return parsed

    async def graphql(request: Request) -> Response:
        viewer = viewer_from_authorization(secret, request.headers.get("authorization"))
        body = orjson.loads(await request.body())
        result = execute(
            built, document(body["query"]), viewer.subject_id, variable_values=body["variables"]
        )
        assert not isinstance(result, Awaitable), "resolvers are synchronous"
        answer: dict[str, Any] = {"data": result.data}
        if result.errors:
            answer["errors"] = [error.formatted for error in result.errors]
        return Response(orjson.dumps(answer), media_type="application/json")

    # The gateway's heap settings (start-up frozen, full collections rare): what is compared
    # is the work of a request, not how often the collector walks the heap.
    freeze_startup_heap()
    return Starlette(routes=[Route("/graphql", graphql, methods=["POST"])])
