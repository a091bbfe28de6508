"""The partner dashboard written by hand: plain SQL through stdlib ``sqlite3``, the same rules
for derived values, encoded by orjson, served by a minimal Starlette app under uvicorn.

The floor ``bench/end_to_end.py`` compares the gateway with: what no GraphQL server over the
same store can beat. It verifies the bearer token (as any endpoint would), reads one statement
per level (the offers page; each offer's authorizations page; the services, sellers, shops,
TikTok accounts and history of every authorization at once) and answers the same bytes as the
gateway. The gateway's cost report is echoed from ``BENCH_EXTENSIONS`` (its text per offers
count), not computed. Run as ``uvicorn --factory bench.dashboard_floor:app`` with
``BENCH_DATABASE`` (the SQLite file) and ``BENCH_SECRET`` (the tokens' secret) set.
"""

from __future__ import annotations

import os
import sqlite3
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.dashboard_answer import dashboard
from datastore.catalog import get_catalog
from edge.startup_heap import freeze_startup_heap
from resolvers.identity import viewer_from_authorization

_NEWEST = "ORDER BY json_extract(doc, '$.createdAt') DESC, id DESC"
_DATES = ("createdAt", "startsAt", "endsAt", "updatedAt", "publishedAt")


def _document(text: str) -> dict[str, Any]:
    """A stored document with its dates as datetimes (the ones the dashboard reads)."""
    document: dict[str, Any] = orjson.loads(text)
    for key in _DATES:
        if key in document:
            document[key] = datetime.fromisoformat(document[key]["$date"])
    return document


class Dashboard:
    """The dashboard's reads and its answer, over one connection to the store."""

    def __init__(self, path: str) -> None:
        self.connection = sqlite3.connect(path, check_same_thread=False)
        self.catalog = get_catalog()

    def _rows(self, sql: str, params: Iterable[Any]) -> list[Any]:
        return [_document(row[0]) for row in self.connection.execute(sql, tuple(params))]

    def _by_id(self, table: str, ids: Iterable[str]) -> dict[str, Any]:
        wanted = sorted(set(ids))
        marks = ",".join("?" * len(wanted))
        found = self._rows(f'SELECT doc FROM "{table}" WHERE id IN ({marks})', wanted)
        return {document["_id"]: document for document in found}

    def category(self, category_id: str) -> str:
        category = self.catalog.get(category_id)
        assert category is not None, f"unknown category {category_id}"
        return str(category.name)

    def answer(self, partner_id: str, offers: int, authorizations: int, history: int) -> Any:
        now = datetime.now().astimezone()
        partner = self._by_id("partners", [partner_id])[partner_id]
        offer_rows = self._rows(
            f"SELECT doc FROM service_offers WHERE json_extract(doc, '$.partnerId') = ? "
            f"{_NEWEST} LIMIT ?",
            (partner_id, offers),
        )
        granted = {
            offer["_id"]: self._rows(
                f"SELECT doc FROM authorizations WHERE json_extract(doc, '$.offerId') = ? "
                f"{_NEWEST} LIMIT ?",
                (offer["_id"], authorizations),
            )
            for offer in offer_rows
        }
        rows = [row for found in granted.values() for row in found]
        services = self._by_id(
            "services",
            [i for offer in offer_rows for i in offer["serviceIds"]]
            + [row["serviceId"] for row in rows],
        )
        sellers = self._by_id("sellers", [row["sellerId"] for row in rows])
        shops = self._by_id("shops", [i for row in rows for i in row["shopIds"]])
        accounts = self._by_id(
            "tiktok_accounts", [i for row in rows for i in row["tiktokAccountIds"]]
        )
        entries: dict[str, list[dict[str, Any]]] = defaultdict(list)
        subjects = [row["_id"] for row in rows]
        marks = ",".join("?" * len(subjects))
        for entry in self._rows(
            f"SELECT doc FROM history WHERE json_extract(doc, '$.subjectId') IN ({marks}) "
            f"ORDER BY json_extract(doc, '$.subjectId'), json_extract(doc, '$.createdAt') DESC, "
            "id DESC",
            subjects,
        ):
            kept = entries[entry["subjectId"]]
            if len(kept) < history:
                kept.append(entry)

        return dashboard(
            partner,
            offer_rows,
            granted,
            entries,
            {"sellers": sellers, "shops": shops, "accounts": accounts, "services": services},
            self.category,
            now,
        )


def app() -> Starlette:
    """The floor's app: POST /graphql with the dashboard's variables, as the gateway takes."""
    dashboard = Dashboard(os.environ["BENCH_DATABASE"])
    secret = os.environ["BENCH_SECRET"]
    extensions: dict[str, bytes] = {
        offers: orjson.dumps(report)
        for offers, report in orjson.loads(os.environ.get("BENCH_EXTENSIONS", "{}")).items()
    }

    async def graphql(request: Request) -> Response:
        viewer = viewer_from_authorization(secret, request.headers.get("authorization"))
        variables = orjson.loads(await request.body())["variables"]
        assert viewer.subject_id is not None, "the floor answers a partner"
        data = dashboard.answer(
            viewer.subject_id,
            variables["offers"],
            variables["authorizations"],
            variables["history"],
        )
        body = b'{"data":' + orjson.dumps(data)
        report = extensions.get(str(variables["offers"]))
        body += (b',"extensions":' + report + b"}") if report else b"}"
        return Response(body, media_type="application/json")

    # The gateway's heap settings (start-up frozen, full collections rare): what is compared
    # is the work of a request, not how often the collector walks the heap.
    freeze_startup_heap()
    return Starlette(routes=[Route("/graphql", graphql, methods=["POST"])])
