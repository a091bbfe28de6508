"""Every index is used: the query plan of each statement the SQLite adapter runs while the API
answers a representative set of queries reads collections through an index, and no paged read
sorts its rows in a temporary B-tree.

One exception: a store search reads its rows from the posting lists of the full-text index
(``MATCH``) and ranks those matches, so it sorts them; it costs its matches, never the
collection (a SCAN of ``services`` would still fail it)."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from typing import Any

import pytest

from datastore import collections as c
from datastore.codec import utc_now
from datastore.collections import RETIRED_INDEXES
from datastore.paging import Page, find_page
from datastore.sqlite import SQLiteStore
from datastore.store import DESCENDING, DocumentStore, keyset_of
from resolvers.identity import Role
from resolvers.store_setup import set_up_store
from tests.conftest import (
    MAX_PAGES,
    GraphQLClient,
    Make,
    accept,
    request_form,
    token,
    token_of,
)
from tests.stores import sqlite_only
from tests.test_authorization_api import LIST as AUTHORIZATIONS_OF_VIEWER
from tests.test_authorization_api import SETTINGS as OFFER_SETTINGS
from tests.test_authorization_api import UNLINK, _first_account
from tests.test_dashboard import DASHBOARD, _accepted_offers
from tests.test_seller_request_api import CREATE as CREATE_REQUEST
from tests.test_seller_request_api import INBOX
from tests.test_store_search import STORE

# SQLite's plans: MongoDB's are tests/test_mongodb_query_plans.py.
pytestmark = sqlite_only

PARTNERS = """query($status: PartnerStatus) { partners(first: 5, status: $status) {
  edges { node { id name services(first: 3) { edges { node { id name } } } } } } }"""
PARTNER_LISTS = """{ viewer { partner {
  services(first: 5) { edges { cursor node { id
    history(first: 3) { edges { node { action } } } } } }
  authorizations(first: 5, status: [ACTIVE]) { edges { node { id } } }
  expiring: authorizations(first: 5, expiringWithinDays: 30) { edges { node { id } } }
  serviceOffers(first: 5, status: [OPEN, EXPIRED]) { edges { node { id } } }
  requests(first: 5) { edges { node { id } } }
  categoryApplications(first: 5) { edges { node { id } } } } } }"""
SELLER_LISTS = """{ viewer { seller { shops(first: 5) { edges { node { id } } }
  tiktokAccounts(first: 5) { edges { node { id } } }
  authorizations(first: 5) { edges { node { id service { name } } } }
  requests(first: 5) { edges { node { id } } } } } }"""
COLLECTIONS = set(c.ALL_COLLECTIONS)
_SCAN = re.compile(r"^SCAN (\w+)(?: USING (?:COVERING )?INDEX \w+)?$")


@pytest.fixture
async def statements(store: DocumentStore) -> AsyncIterator[list[str]]:
    assert isinstance(store, SQLiteStore)
    seen: list[str] = []
    await store.trace(seen.append)
    yield seen
    await store.trace(None)


def _plan(path: str, statement: str) -> list[str]:
    with sqlite3.connect(path) as connection:
        return [row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {statement}")]


def _problems(path: str, statement: str) -> list[str]:
    problems = []
    for step in _plan(path, statement):
        scan = _SCAN.match(step)
        if scan and scan.group(1) in COLLECTIONS and "INDEX" not in step:
            problems.append(f"reads every row: {step}")
        if "TEMP B-TREE" in step and " LIMIT " in statement and " MATCH " not in statement:
            problems.append(f"sorts a paged read: {step}")
    return problems


async def answer_representative_reads(store: DocumentStore, gql: GraphQLClient, make: Make) -> None:
    """Seed partners, services, offers and a request, then answer the API's representative
    reads as their callers (each store search's next page too): the workload whose plans this
    test and ``tests/test_mongodb_query_plans.py`` check."""
    partner = await make.partner()
    other = await make.partner()
    for owner in (partner, other):
        for _ in range(3):
            await make.service(owner, description="Live shopping campaigns and coaching.")
    await _accepted_offers(2, gql, store, partner, make)
    seller = await make.seller()
    as_seller = token_of(seller)
    as_partner = token_of(partner)
    as_admin = token(Role.ADMIN)
    created = await gql(CREATE_REQUEST, request_form(partner["_id"], other["_id"]), as_=as_seller)
    assert created["data"]["createRequest"]["userErrors"] == []

    reads: list[tuple[str, dict[str, object], str]] = [
        (DASHBOARD, {}, as_partner),
        (PARTNER_LISTS, {}, as_partner),
        (SELLER_LISTS, {}, as_seller),
        (AUTHORIZATIONS_OF_VIEWER, {"days": 30, "status": ["ACTIVE"]}, as_seller),
        (INBOX, {"status": ["PARTNER_REVIEWING"]}, as_partner),
        (PARTNERS, {}, as_admin),
        (PARTNERS, {"status": "ACTIVE"}, as_admin),
    ]
    for sort_key in ("RELEVANCE", "NEWEST", "NAME"):
        for query in (None, "live", "live coaching"):
            for reverse in (False, True):
                variables: dict[str, object] = {"query": query, "sortKey": sort_key}
                variables["reverse"] = reverse
                reads.append((STORE, {**variables, "first": 2}, as_seller))
                reads.append((STORE, {**variables, "last": 2}, as_seller))
    for query, variables, caller in reads:
        result = await gql(query, variables, as_=caller)
        assert "errors" not in result, (query, result)
        # The next page too, where there is one: keyset bounds must use the index as well.
        if query is STORE and (info := result["data"]["store"]["pageInfo"])["endCursor"]:
            more = dict(variables)
            if "first" in more:
                more["after"] = info["endCursor"]
            else:
                more["before"] = info["startCursor"]
            result = await gql(query, more, as_=caller)
            assert "errors" not in result, (query, result)


async def test_every_statement_reads_through_an_index(
    store: DocumentStore, gql: GraphQLClient, make: Make, statements: list[str]
) -> None:
    assert isinstance(store, SQLiteStore)
    await answer_representative_reads(store, gql, make)
    reads_seen = [
        s for s in dict.fromkeys(statements) if s.lstrip().upper().startswith(("SELECT", "WITH"))
    ]
    assert any("authorizations" in s for s in reads_seen) and any(
        "services" in s for s in reads_seen
    )
    problems = [f"{p}\n    in {s}" for s in reads_seen for p in _problems(str(store.path), s)]
    assert not problems, "\n".join(problems)


async def test_a_page_after_a_cursor_seeks_to_it(store: DocumentStore) -> None:
    assert isinstance(store, SQLiteStore)
    when = utc_now()
    for n in range(30):
        at = None if n % 10 == 0 else when + timedelta(seconds=n)
        document = {"_id": f"hst_{n:03d}", "subjectId": "svc_1", "createdAt": at}
        await store.insert(c.HISTORY, {k: v for k, v in document.items() if v is not None})
    sort = [("createdAt", DESCENDING)]
    seen: list[str] = []
    await store.trace(seen.append)
    try:
        listed = [d["_id"] for d in await store.find(c.HISTORY, {"subjectId": "svc_1"}, sort=sort)]
        paged: list[str] = []
        page = Page(size=4)
        for _ in range(MAX_PAGES):
            result = await find_page(store, c.HISTORY, {"subjectId": "svc_1"}, sort, page)
            paged += [d["_id"] for d in result.documents]
            if not result.has_more:
                break
            page = Page(size=4, after=tuple(keyset_of(result.documents[-1], sort)))
        else:
            pytest.fail(f"still more pages after {MAX_PAGES}")
        grouped = await store.find_grouped(
            c.HISTORY,
            "subjectId",
            ["svc_1"],
            sort=sort,
            limit_per_group=50,
            after=[None, "hst_020"],
        )
    finally:
        await store.trace(None)
        # Bare rows (some without createdAt, on purpose) are no history a flow could write:
        # gone before the store's shape check.
        await store.delete_all(c.HISTORY)
    assert paged == listed
    assert [d["_id"] for d in grouped["svc_1"]] == ["hst_010", "hst_000"]
    plans = [
        step
        for statement in seen
        if "hst_0" in statement and statement.startswith("SELECT")
        for step in _plan(str(store.path), statement)
        if step.startswith("SEARCH history")
    ]
    # Every read past a cursor seeks: a range on the sort key, or the missing values.
    assert plans and all(
        re.search(r"<expr>=\? AND (<expr>[<>]\?|<expr>=\?)", step) for step in plans
    ), plans


async def test_unlinking_an_account_reads_only_its_sellers_authorizations(
    store: DocumentStore,
    gql: GraphQLClient,
    make: Make,
    partner: Mapping[str, Any],
    seller: Mapping[str, Any],
    statements: list[str],
) -> None:
    """The authorizations an account's unlink ends are found among its seller's, through the
    seller's index; filtering the active ones by status read every active authorization of
    every seller (no index serves "the array holds this id" on SQLite)."""
    assert isinstance(store, SQLiteStore)
    account = await _first_account(store, seller)
    offer = await make.offer(
        partner,
        [await make.service(partner)],
        settings={**OFFER_SETTINGS, "authorizeObject": "TTUID"},
    )
    await accept(gql, offer, seller)
    statements.clear()
    unlinked = await gql.payload(UNLINK, {"id": account}, as_=token_of(seller))
    assert [a["statusReason"] for a in unlinked["endedAuthorizations"]] == ["ACCOUNT_UNLINKED"]
    covering = [s for s in statements if s.startswith("SELECT") and "tiktokAccountIds" in s]
    assert covering
    for statement in covering:
        plan = _plan(str(store.path), statement)
        assert any(
            step.startswith("SEARCH authorizations USING INDEX ix_authorizations_sellerId_")
            for step in plan
        ), (plan, statement)


async def test_closing_a_partner_ends_its_authorizations_through_an_index_in_order(
    store: DocumentStore,
    gql: GraphQLClient,
    make: Make,
    partner: Mapping[str, Any],
    seller: Mapping[str, Any],
    statements: list[str],
) -> None:
    """Each batch of a close reads the partner's active authorizations in order through one
    index, soonest ending first, without sorting them (no index of its own)."""
    assert isinstance(store, SQLiteStore)
    offer = await make.offer(partner, [await make.service(partner), await make.service(partner)])
    assert len(await accept(gql, offer, seller)) == 2
    statements.clear()
    closed = await gql.payload(
        """mutation($input: ClosePartnerInput!) {
          closePartner(input: $input) { userErrors { code } } }""",
        {"input": {"id": partner["_id"], "reason": "Policy violation"}},
        as_=token(Role.ADMIN),
    )
    assert closed["userErrors"] == []
    batches = [
        s
        for s in statements
        if s.startswith("SELECT") and '"authorizations"' in s and "'$.partnerId'" in s
    ]
    assert batches
    for statement in batches:
        plan = _plan(str(store.path), statement)
        assert plan[0].startswith(
            "SEARCH authorizations USING INDEX ix_authorizations_partnerId_status_endsAt__id"
        ), (plan, statement)
        assert not any("TEMP B-TREE" in step for step in plan), (plan, statement)


async def test_indexes_an_earlier_release_declared_are_dropped_at_start_up(
    store: DocumentStore,
) -> None:
    assert isinstance(store, SQLiteStore)
    await store.ensure_indexes(RETIRED_INDEXES)

    def indexes() -> set[str]:
        with sqlite3.connect(store.path) as connection:
            rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
            return {name for (name,) in rows}

    assert {spec.name for spec in RETIRED_INDEXES} <= indexes()
    await set_up_store(store)
    assert not {spec.name for spec in RETIRED_INDEXES} & indexes()
    assert {spec.name for spec in c.INDEXES if not spec.text} <= indexes()
