"""How fast the gateway answers the partner dashboard: end to end first, then where time goes.

Run ``python -m bench.execution [--offers 20] [--authorizations 20] [--history 5] [--runs 30]
[--end-to-end-offers 5,50] [--connections 1,8,32] [--seconds 3] [--rounds 3] [--model-only |
--end-to-end-only]``.

First the figure users get (``bench/end_to_end.py``): the dashboard over a real seeded SQLite
store, HTTP on 127.0.0.1 and JSON, ``tsp-gateway serve`` against a hand-written floor (plain
SQL + orjson, the same bytes) and raw graphql-core (plain SQL resolvers), each under uvicorn,
at 5 and 50 offers, 1, 8 and 32 connections, p50 and p99, in rotated rounds.

Then the CPU model, which says where the time goes inside one process (not what a user
gets: no HTTP, no SQLite after the first run, no JSON encoding of the answer):

Seeds a SQLite store with the demo data set, lets the demo seller accept the demo partner's
open offer through the API (one real authorization, its seller's shop and TikTok account, its
history), then copies those documents into ``--offers`` offers, each accepted by
``--authorizations`` sellers, each authorization with ``--history`` entries. It runs the partner
dashboard query (offers, their services and categories, their authorizations with seller,
shops, TikTok accounts, service and history) in one process, as the demo partner:

- **gateway**: the gateway's own schema (with its whole layer: limits, cost, caches, metrics)
  over the store, whose answers are recorded on the first run and replayed after, so no run
  after the first pays for SQLite and the gateway executes over preloaded documents;
- **raw**: a minimal graphql-core schema of the same shape whose resolvers read the same
  documents from dicts (indexed by parent id), the document parsed once, nothing validated;
- **gateway (store)**: the gateway over the SQLite store itself, for reference;
- **gateway (no layer)**: the gateway's schema without its layer (no limits, cost, caches or
  metrics), to show what the schema and its resolvers cost alone;
- **gateway (planned)**: the gateway's schema and layer executed as ``serve`` does by default
  (``TSP_EXECUTION=planned``): the document's plan compiled once, documents read directly,
  each level's loads batched; the rows above are the interpreted path;
- **hand-written floor**: the same JSON from the same replaying store with one plain read per
  level, the same rules, encoded by orjson: no GraphQL at all.

Every answer must be equal (the bench stops if one is not). Before the timed rounds the heap
set-up built is frozen, as ``serve`` freezes its start-up heap, and before each timed run the
collector runs untimed: each run pays for the collections its own garbage makes, none for a
full collection that the interpreted runs' garbage left due. Printed: medians of CPU time
(``process_time``, which other jobs on a shared machine disturb less than the wall clock) over
interleaved rounds and the ratios **gateway (planned) / raw** (issue 11 item 4: <= 1.0) and
**gateway (planned) / floor** (item 5: <= 2).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import orjson
from graphql import (
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
)

from bench.dashboard_answer import dashboard
from datastore import collections as c
from datastore.catalog import get_catalog
from datastore.codec import Document
from datastore.ids import new_id, new_token
from datastore.sqlite import SQLiteStore
from datastore.store import DESCENDING, DocumentStore, Filter, Sort
from edge.extension import GatewayPolicy, gateway_extensions
from edge.gateway_settings import Settings
from edge.operation_metrics import OperationMetrics
from edge.planned_execution import PlannedExecutor
from edge.startup_heap import freeze_startup_heap
from edge.throttle import ThrottlePolicy
from gateway import create_app
from resolvers.authorization_rules import effective_status, grants_access
from resolvers.context import Context
from resolvers.demo_seed import seed_demo
from resolvers.identity import Role, Viewer, issue_token
from resolvers.offer_dates import last_day
from resolvers.offers import effective_offer_status
from schema.api import build_schema

SECRET = "bench-secret-" + "x" * 40
WARMUP = 3

DASHBOARD = """query Dashboard($offers: Int!, $authorizations: Int!, $history: Int!) {
  viewer { partner { name serviceOffers(first: $offers) { edges { node {
    id status services { name category { name } }
    authorizations(first: $authorizations) { edges { node { id status grantsAccess endDate
      seller { name } shops { name } tiktokAccounts { handle linkedStatus } service { name }
      history(first: $history) { edges { node { action reasonCode createdAt } } } } } } } } } } }
}"""


class ReplayingStore(SQLiteStore):
    """A SQLite store whose reads are answered from memory after their first time: execution
    measured over preloaded documents, with the same loaders and page reads as in service."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self._answers: dict[str, Any] = {}

    async def _replay(self, key: str, read: Callable[[], Any]) -> Any:
        if key not in self._answers:
            self._answers[key] = await read()
        else:
            self._counted()
        answer = self._answers[key]
        return list(answer) if isinstance(answer, list) else dict(answer)

    async def _get_many(self, collection: str, ids: Sequence[str]) -> dict[str, Document]:
        key = repr(("get_many", collection, list(ids)))
        answer: dict[str, Document] = await self._replay(
            key, lambda: super(ReplayingStore, self)._get_many(collection, ids)
        )
        return answer

    async def _find_grouped(
        self,
        collection: str,
        group_field: str,
        group_values: Sequence[Any],
        filter: Filter | None = None,
        *,
        sort: Sort = (),
        limit_per_group: int,
        after: Sequence[Any] | None = None,
    ) -> dict[Any, list[Document]]:
        key = repr(
            ("grouped", collection, group_field, list(group_values), filter, sort,
             limit_per_group, after)
        )  # fmt: skip

        def read() -> Any:
            return super(ReplayingStore, self)._find_grouped(
                collection,
                group_field,
                group_values,
                filter,
                sort=sort,
                limit_per_group=limit_per_group,
                after=after,
            )

        answer: dict[Any, list[Document]] = await self._replay(key, read)
        return answer


async def seed(path: str, offers: int, authorizations: int, history: int) -> tuple[str, str]:
    """Fill the store at ``path``; returns the demo partner's id and a token for it."""
    settings = Settings(jwt_secret=SECRET, database_url=f"sqlite:///{path}")
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b") as client,
    ):
        store: DocumentStore = app.state.store
        seeded = await seed_demo(store, only_if_empty=False)
        assert seeded is not None
        partner_id, seller_id = seeded.subjects["partner"], seeded.subjects["seller"]
        accept = """mutation($token: String!) { authorizeServiceOffer(token: $token) {
          userErrors { code } } }"""
        token = issue_token(SECRET, Role.SELLER, seller_id, timedelta(hours=1))
        response = await client.post(
            "/graphql",
            json={"query": accept, "variables": {"token": seeded.offer_link_token}},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.json()["data"]["authorizeServiceOffer"]["userErrors"] == []
        authorization = (await store.find(c.AUTHORIZATIONS, {"partnerId": partner_id}))[0]
        offer = (await store.get_many(c.SERVICE_OFFERS, [authorization["offerId"]]))[
            authorization["offerId"]
        ]
        entries = await store.find(c.HISTORY, {"subjectId": authorization["_id"]}, limit=1)
        seller = (await store.get_many(c.SELLERS, [seller_id]))[seller_id]
        shops = await store.get_many(c.SHOPS, authorization["shopIds"])
        accounts = await store.get_many(c.TIKTOK_ACCOUNTS, authorization["tiktokAccountIds"])

        async def grow() -> None:
            sellers = []
            for n in range(authorizations):
                copy = _copy(seller, "slr", n, name=f"{seller['name']} {n}")
                shop_ids = []
                for shop in shops.values():
                    shop_copy = _copy(shop, "shp", n, sellerId=copy["_id"])
                    shop_ids.append((await store.insert(c.SHOPS, shop_copy))["_id"])
                account_ids = []
                for account in accounts.values():
                    handle = f"{account['handle']}{n}"
                    account_copy = _copy(
                        account, "tta", n, sellerId=copy["_id"], handle=handle, linkedHandle=handle
                    )
                    account_ids.append((await store.insert(c.TIKTOK_ACCOUNTS, account_copy))["_id"])
                await store.insert(c.SELLERS, copy)
                sellers.append((copy["_id"], shop_ids, account_ids))
            for o in range(offers):
                changes = {"linkToken": new_token(), "idempotencyKey": None}
                offer_copy = await store.insert(c.SERVICE_OFFERS, _copy(offer, "ofr", o, **changes))
                for n, (copy_seller, shop_ids, account_ids) in enumerate(sellers):
                    authorization_copy = await store.insert(
                        c.AUTHORIZATIONS,
                        _copy(
                            authorization,
                            "aut",
                            o * authorizations + n,
                            activeKey=None,
                            offerId=offer_copy["_id"],
                            sellerId=copy_seller,
                            shopIds=shop_ids,
                            tiktokAccountIds=account_ids,
                        ),
                    )
                    for h in range(history):
                        entry = _copy(entries[0], "hst", h, subjectId=authorization_copy["_id"])
                        await store.insert(c.HISTORY, entry)

        await store.transaction(grow)
    return partner_id, issue_token(SECRET, Role.PARTNER, partner_id, timedelta(hours=1))


def _copy(original: Mapping[str, Any], prefix: str, age: int, **changes: Any) -> Document:
    """A copy of ``original`` under a new id, ``age`` + 1 milliseconds older."""
    copy = {key: value for key, value in original.items() if key != "version"}
    copy.update(_id=new_id(prefix), **changes)
    for stamp in ("createdAt", "updatedAt", "publishedAt"):
        if stamp in copy:
            copy[stamp] = copy[stamp] - timedelta(milliseconds=age + 1)
    return {key: value for key, value in copy.items() if value is not None}


# --- the hand-written floor: the same answer from the same store, no GraphQL at all ---------

_NEWEST_FIRST: Sort = [("createdAt", DESCENDING), ("_id", DESCENDING)]


async def floor(store: DocumentStore, partner_id: str, variables: Mapping[str, int]) -> bytes:
    """The dashboard's JSON built by hand: one plain read per level (the same reads the
    gateway's loaders make, so a replaying store answers them from memory), the same rules for
    derived values, encoded by orjson. What no executor can beat."""
    now = datetime.now().astimezone()
    partner = (await store.get_many(c.PARTNERS, [partner_id]))[partner_id]
    offers = (
        await store.find_grouped(
            c.SERVICE_OFFERS, "partnerId", [partner_id], sort=_NEWEST_FIRST,
            limit_per_group=variables["offers"],
        )
    ).get(partner_id, [])  # fmt: skip
    offer_ids = [offer["_id"] for offer in offers]
    authorizations = await store.find_grouped(
        c.AUTHORIZATIONS, "offerId", offer_ids, sort=_NEWEST_FIRST,
        limit_per_group=variables["authorizations"],
    )  # fmt: skip
    rows = [row for offer_id in offer_ids for row in authorizations.get(offer_id, [])]
    service_ids = {i for offer in offers for i in offer["serviceIds"]}
    service_ids.update(row["serviceId"] for row in rows)
    services = await store.get_many(c.SERVICES, sorted(service_ids))
    sellers = await store.get_many(c.SELLERS, sorted({row["sellerId"] for row in rows}))
    shops = await store.get_many(c.SHOPS, sorted({i for row in rows for i in row["shopIds"]}))
    accounts = await store.get_many(
        c.TIKTOK_ACCOUNTS, sorted({i for row in rows for i in row["tiktokAccountIds"]})
    )
    history = await store.find_grouped(
        c.HISTORY, "subjectId", [row["_id"] for row in rows], sort=_NEWEST_FIRST,
        limit_per_group=variables["history"],
    )  # fmt: skip
    catalog = get_catalog()

    answer = dashboard(
        partner,
        offers,
        authorizations,
        history,
        {"sellers": sellers, "shops": shops, "accounts": accounts, "services": services},
        lambda category_id: _category_name(catalog, category_id),
        now,
    )
    return orjson.dumps(answer)


def _category_name(catalog: Any, category_id: str) -> str:
    category = catalog.get(category_id)
    assert category is not None, f"unknown category {category_id}"
    return str(category.name)


# --- raw graphql-core: the same shape, resolvers reading preloaded dicts ---------------------


def _scalar(name: str, serialize: Callable[[Any], Any]) -> GraphQLScalarType:
    return GraphQLScalarType(name, serialize=serialize)


def _enum(name: str, values: Sequence[str]) -> GraphQLEnumType:
    return GraphQLEnumType(name, {value: value for value in values})


def _connection(name: str, node: GraphQLObjectType) -> GraphQLObjectType:
    edge = GraphQLObjectType(f"{name}Edge", {"node": GraphQLField(GraphQLNonNull(node))})
    edges = GraphQLNonNull(GraphQLList(GraphQLNonNull(edge)))
    return GraphQLObjectType(f"{name}Connection", {"edges": GraphQLField(edges)})


def _page(documents: Sequence[Document], first: int) -> dict[str, Any]:
    return {"edges": [{"node": document} for document in documents[:first]]}


class RawDashboard:
    """The dashboard's shape in plain graphql-core over dicts of the documents the gateway
    read, with the same derived values (statuses, access, last day) from the same rules."""

    def __init__(self, documents: Mapping[str, Sequence[Any]], partner_id: str) -> None:
        self.by_id: dict[str, Any] = {
            document["_id"]: document for found in documents.values() for document in found
        }
        self.partner = self.by_id[partner_id]
        self.offers = sorted(
            (d for d in documents[c.SERVICE_OFFERS] if d["partnerId"] == partner_id),
            key=lambda d: (d["createdAt"], d["_id"]),
            reverse=True,
        )
        self.children: dict[tuple[str, str], list[Document]] = defaultdict(list)
        for collection, field in ((c.AUTHORIZATIONS, "offerId"), (c.HISTORY, "subjectId")):
            for document in documents[collection]:
                self.children[(collection, document[field])].append(document)
        for found in self.children.values():
            found.sort(key=lambda d: (d["createdAt"], d["_id"]), reverse=True)
        self.now = datetime.now().astimezone()
        self.schema = self._schema()

    def _schema(self) -> GraphQLSchema:
        string = GraphQLNonNull(GraphQLString)
        named = GraphQLObjectType("Named", {"name": GraphQLField(string)})
        category = GraphQLObjectType("Category", {"name": GraphQLField(string)})
        service = GraphQLObjectType(
            "Service",
            {
                "name": GraphQLField(string),
                "category": GraphQLField(
                    GraphQLNonNull(category),
                    resolve=lambda d, _: get_catalog().get(d["categoryId"]),
                ),
            },
        )
        account = GraphQLObjectType(
            "TikTokAccount",
            {
                "handle": GraphQLField(string),
                "linkedStatus": GraphQLField(
                    GraphQLNonNull(_enum("Linked", ["LINKED", "UNLINKED"]))
                ),
            },
        )
        date_scalar = _scalar("Date", date.isoformat)
        datetime_scalar = _scalar("DateTime", datetime.isoformat)
        entry = GraphQLObjectType(
            "HistoryEntry",
            {
                "action": GraphQLField(GraphQLNonNull(GraphQLString)),
                "reasonCode": GraphQLField(GraphQLString),
                "createdAt": GraphQLField(GraphQLNonNull(datetime_scalar)),
            },
        )
        first = {"first": GraphQLArgument(GraphQLNonNull(GraphQLInt))}
        by_id = self.by_id

        def listed(ids: str) -> Callable[[Document, Any], list[Document]]:
            return lambda d, _: [by_id[i] for i in d[ids]]

        def one(id_field: str) -> Callable[[Document, Any], Document]:
            return lambda d, _: by_id[d[id_field]]

        def children(collection: str) -> Callable[..., dict[str, Any]]:
            return lambda d, _, first: _page(self.children[(collection, d["_id"])], first)

        def status(values: Sequence[str]) -> GraphQLNonNull[GraphQLEnumType]:
            return GraphQLNonNull(_enum(f"Status{len(values)}", values))

        authorization = GraphQLObjectType(
            "Authorization",
            {
                "id": GraphQLField(GraphQLNonNull(GraphQLID), resolve=lambda d, _: d["_id"]),
                "status": GraphQLField(
                    status(["ACTIVE", "COMPLETED", "CANCELED", "CLOSED", "PENDING"]),
                    resolve=lambda d, _: effective_status(d, self.now),
                ),
                "grantsAccess": GraphQLField(
                    GraphQLNonNull(GraphQLBoolean),
                    resolve=lambda d, _: grants_access(d, by_id[d["partnerId"]], self.now),
                ),
                "endDate": GraphQLField(
                    GraphQLNonNull(date_scalar), resolve=lambda d, _: last_day(d["endsAt"])
                ),
                "seller": GraphQLField(GraphQLNonNull(named), resolve=one("sellerId")),
                "shops": GraphQLField(
                    GraphQLNonNull(GraphQLList(GraphQLNonNull(named))), resolve=listed("shopIds")
                ),
                "tiktokAccounts": GraphQLField(
                    GraphQLNonNull(GraphQLList(GraphQLNonNull(account))),
                    resolve=listed("tiktokAccountIds"),
                ),
                "service": GraphQLField(GraphQLNonNull(named), resolve=one("serviceId")),
                "history": GraphQLField(
                    GraphQLNonNull(_connection("History", entry)),
                    first,
                    resolve=children(c.HISTORY),
                ),
            },
        )
        offer = GraphQLObjectType(
            "ServiceOffer",
            {
                "id": GraphQLField(GraphQLNonNull(GraphQLID), resolve=lambda d, _: d["_id"]),
                "status": GraphQLField(
                    status(["OPEN", "ACCEPTED", "WITHDRAWN", "EXPIRED"]),
                    resolve=lambda d, _: effective_offer_status(d, self.now),
                ),
                "services": GraphQLField(
                    GraphQLNonNull(GraphQLList(GraphQLNonNull(service))),
                    resolve=listed("serviceIds"),
                ),
                "authorizations": GraphQLField(
                    GraphQLNonNull(_connection("Authorization", authorization)),
                    first,
                    resolve=children(c.AUTHORIZATIONS),
                ),
            },
        )
        partner = GraphQLObjectType(
            "Partner",
            {
                "name": GraphQLField(string),
                "serviceOffers": GraphQLField(
                    GraphQLNonNull(_connection("Offer", offer)),
                    first,
                    resolve=lambda _d, _, first: _page(self.offers, first),
                ),
            },
        )
        viewer = GraphQLObjectType(
            "Viewer", {"partner": GraphQLField(partner, resolve=lambda *_: self.partner)}
        )
        query = GraphQLObjectType(
            "Query", {"viewer": GraphQLField(GraphQLNonNull(viewer), resolve=lambda *_: {})}
        )
        return GraphQLSchema(query)


async def main(args: argparse.Namespace) -> None:
    variables = {
        "offers": args.offers,
        "authorizations": args.authorizations,
        "history": args.history,
    }
    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/bench.sqlite3"
        print(
            f"seeding {args.offers} offers x {args.authorizations} authorizations x "
            f"{args.history} history entries",
            flush=True,
        )
        partner_id, _ = await seed(path, args.offers, args.authorizations, args.history)
        policy = GatewayPolicy(max_query_cost=10**9, throttle=ThrottlePolicy(enabled=False))
        layer = [*gateway_extensions(policy), OperationMetrics]
        schema = build_schema(layer)
        planned = build_schema(layer, executor=PlannedExecutor)
        bare = build_schema()
        replaying = ReplayingStore(path)
        plain = SQLiteStore(path)
        for store in (replaying, plain):
            await store.connect()
        viewer = Viewer(Role.PARTNER, partner_id)

        async def gateway(store: DocumentStore, layer: bool = True, plans: bool = False) -> Any:
            context = Context(store=store, viewer=viewer, request_id="bench")
            chosen = (planned if plans else schema) if layer else bare
            result = await chosen.execute(
                DASHBOARD, variable_values=variables, context_value=context
            )
            if result.errors:
                raise RuntimeError(f"gateway answered errors: {result.errors}")
            return result.data

        documents: dict[str, Sequence[Any]] = {
            name: await plain.find(name, {})
            for name in (c.PARTNERS, c.SERVICES, c.SERVICE_OFFERS, c.AUTHORIZATIONS, c.HISTORY,
                         c.SELLERS, c.SHOPS, c.TIKTOK_ACCOUNTS)
        }  # fmt: skip
        raw = RawDashboard(documents, partner_id)
        parsed = parse(DASHBOARD)

        async def raw_run() -> Any:
            result = execute(raw.schema, parsed, variable_values=variables)
            assert not isinstance(result, Awaitable), "raw resolvers are synchronous"
            if result.errors:
                raise RuntimeError(f"raw graphql-core answered errors: {result.errors}")
            return result.data

        expected = await raw_run()
        answer = await gateway(replaying)
        if json.dumps(answer, sort_keys=True) != json.dumps(expected, sort_keys=True):
            raise SystemExit("the gateway and raw graphql-core answered differently")
        if json.dumps(await gateway(replaying, plans=True)) != json.dumps(answer):
            raise SystemExit("the planned and interpreted gateway answered differently")
        if orjson.loads(await floor(replaying, partner_id, variables)) != answer:
            raise SystemExit("the hand-written floor and the gateway answered differently")
        nodes = json.dumps(expected).count('"node"')
        print(f"the dashboard answer holds {nodes} nodes; both answers are equal")

        runners: dict[str, Callable[[], Any]] = {
            "raw graphql-core": raw_run,
            "gateway": lambda: gateway(replaying),
            "gateway (store)": lambda: gateway(plain),
            "gateway (no layer)": lambda: gateway(replaying, layer=False),
            "gateway (planned)": lambda: gateway(replaying, plans=True),
            "hand-written floor": lambda: floor(replaying, partner_id, variables),
        }
        # As a serving process does once started: what set-up built (here also the seeded
        # documents, the replayed answers and the raw schema's dicts) stays out of the
        # collector's full collections, which would otherwise walk it during the runs.
        freeze_startup_heap()
        times: dict[str, list[float]] = {name: [] for name in runners}
        for round_ in range(WARMUP + args.runs):
            for name, run in runners.items():
                gc.collect()
                started = time.process_time()
                await run()
                if round_ >= WARMUP:
                    times[name].append((time.process_time() - started) * 1000)
        for store in (replaying, plain):
            await store.close()
    medians = {name: statistics.median(found) for name, found in times.items()}
    print(f"\nmedian CPU ms over {args.runs} interleaved rounds")
    for name, median in medians.items():
        print(f"  {name:18} {median:9.2f} ms")
    print(f"gateway / raw graphql-core: {medians['gateway'] / medians['raw graphql-core']:.2f}")
    print(
        f"gateway (planned) / raw graphql-core: "
        f"{medians['gateway (planned)'] / medians['raw graphql-core']:.2f}"
    )
    print(
        f"gateway (planned) / hand-written floor: "
        f"{medians['gateway (planned)'] / medians['hand-written floor']:.2f} (issue 11 item 5)"
    )
    print(
        f"gateway (no layer) / raw graphql-core: "
        f"{medians['gateway (no layer)'] / medians['raw graphql-core']:.2f} (the schema alone)"
    )
    print(
        f"gateway (store) / gateway: {medians['gateway (store)'] / medians['gateway']:.2f} "
        "(what the store reads add)"
    )


def _numbers(text: str) -> list[int]:
    return [int(part) for part in text.split(",")]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--offers", type=int, default=20)
    parser.add_argument("--authorizations", type=int, default=20)
    parser.add_argument("--history", type=int, default=5)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--end-to-end-offers", type=_numbers, default=[5, 50])
    parser.add_argument("--connections", type=_numbers, default=[1, 8, 32])
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--model-only", action="store_true")
    only.add_argument("--end-to-end-only", action="store_true")
    arguments = parser.parse_args()
    if not arguments.model_only:
        from bench import end_to_end  # it reuses this module's seeding and query

        end_to_end.run(
            argparse.Namespace(
                offers=arguments.end_to_end_offers,
                authorizations=arguments.authorizations,
                history=arguments.history,
                connections=arguments.connections,
                seconds=arguments.seconds,
                rounds=arguments.rounds,
            )
        )
    if not arguments.end_to_end_only:
        print("\nwhere time goes: the CPU model (one process, recorded store answers, no HTTP)")
        asyncio.run(main(arguments))
