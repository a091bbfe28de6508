"""A bulk query held to the gateway's structural limits when it is started (as written and as
the export runs it), fragments along the path to its connection, and the download link's
lifetime as a setting."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from graphql.language import Lexer, Source, TokenKind

from datastore.codec import utc_now
from datastore.store import DocumentStore
from edge.bulk_query_gate import LimitsGate
from edge.export_settings import ExportSettings
from edge.limits import Limits
from edge.settings import EdgeSettingsError
from resolvers.bulk_export_query import BulkQueryErrorCode, QueryRefused, plan_export
from schema.api import schema
from tests.conftest import SETTINGS, GraphQLClient, Make, serving
from tests.test_bulk_export_api import (
    ADMIN,
    _download,
    _export,
    _page_all,
    _start,
    refused_at_start,
)

LIMITS = Limits()


def _tokens(text: str) -> int:
    """How many tokens the parser counts in ``text`` (its token limit's measure)."""
    lexer = Lexer(Source(text))
    count = 0
    while lexer.advance().kind is not TokenKind.EOF:
        count += 1
    return count


def _aliases(count: int) -> str:
    return "{ partners { nodes { " + " ".join(f"a{n}: id" for n in range(count)) + " } } }"


def _status_list(tokens: int) -> str:
    """A query of exactly ``tokens`` tokens, most of them in one list argument."""
    frame = "{ authorizations(status: [%s]) { nodes { id } } }"
    fixed = _tokens(frame % "")
    return frame % " ".join(["ACTIVE"] * (tokens - fixed))


_DEEP = (
    "{ authorizations { edges { node { serviceOffer { authorizations { edges { node { "
    "service { partner { services { edges { node { id } } } } } } } } } } } } }"
)
_LONG_ARGUMENT = '{ partners(query: "%s") { nodes { id } } }'


def _long_argument(length: int) -> str:
    return _LONG_ARGUMENT % ("x" * (length - len(_LONG_ARGUMENT % "")))


OVER_LIMITS = [
    # Over a limit as written.
    pytest.param(_aliases(LIMITS.max_aliases + 1), "MAX_ALIASES_EXCEEDED", id="aliases"),
    pytest.param(_DEEP, "MAX_DEPTH_EXCEEDED", id="depth"),
    pytest.param(_status_list(LIMITS.max_tokens + 1), "MAX_TOKENS_EXCEEDED", id="tokens"),
    pytest.param(
        _long_argument(LIMITS.max_document_length + 1),
        "MAX_DOCUMENT_LENGTH_EXCEEDED",
        id="length",
    ),
    pytest.param(
        '{ partners { nodes { id __type(name: "Partner") { fields { name } } } } }',
        "INTROSPECTION_DISABLED",
        id="introspection",
    ),
    # Within as written, over once the export adds its ids, cursors and pageInfo.
    pytest.param(_aliases(LIMITS.max_aliases - 1), "MAX_ALIASES_EXCEEDED", id="aliases-as-run"),
    pytest.param(_status_list(LIMITS.max_tokens), "MAX_TOKENS_EXCEEDED", id="tokens-as-run"),
    pytest.param(
        _long_argument(LIMITS.max_document_length),
        "MAX_DOCUMENT_LENGTH_EXCEEDED",
        id="length-as-run",
    ),
]


@pytest.mark.parametrize(("query", "code"), OVER_LIMITS)
async def test_a_query_over_a_structural_limit_is_refused_at_start_with_its_code(
    gql: GraphQLClient, store: DocumentStore, query: str, code: str
) -> None:
    await refused_at_start(gql, store, query, code)


def test_the_as_run_cases_are_within_the_limits_as_written() -> None:
    """The "as run" cases above are refused for what the export adds, not what was written."""
    assert _tokens(_status_list(LIMITS.max_tokens)) == LIMITS.max_tokens
    assert len(_long_argument(LIMITS.max_document_length)) == LIMITS.max_document_length
    assert _aliases(LIMITS.max_aliases - 1).count(":") == LIMITS.max_aliases - 1


async def test_a_query_just_within_the_limits_as_run_is_accepted_and_completes(
    gql: GraphQLClient, http: httpx.AsyncClient, store: DocumentStore, make: Make
) -> None:
    # The export adds two aliases (the node's id and the connection's pageInfo).
    await make.partner()
    export = await _export(gql, store, _aliases(LIMITS.max_aliases - 2), ADMIN)
    assert export["status"] == "COMPLETED", export
    lines = await _download(http, export["url"])
    assert len(lines) == 1 and list(lines[0]) == [f"a{n}" for n in range(LIMITS.max_aliases - 2)]


def test_the_worker_plans_with_the_gateway_s_limits() -> None:
    """A gateway with larger limits accepts what the defaults refuse, at start and in the
    worker alike (both plan with the limits they are given)."""
    larger = Limits(max_aliases=100)
    plan = plan_export(schema._schema, _aliases(LIMITS.max_aliases + 1), LimitsGate(larger))
    assert plan.top.path == ("partners",)


def test_a_fragment_spread_twice_on_the_path_is_planned_once() -> None:
    """As execution collects it: each spread expanded afresh, a chain of fragments each
    spreading the next twice took 2^n steps (16 links, 735 characters, held the event loop
    17 s at start). With 64 links it could not end before the suite's timeout."""
    links = 64
    chain = " ".join(
        f"fragment F{i} on Partner {{ ...F{i + 1} ...F{i + 1} }}" for i in range(links)
    )
    query = (
        f"{{ viewer {{ partner {{ ...F0 }} }} }} {chain} "
        f"fragment F{links} on Partner {{ serviceOffers {{ nodes {{ id }} }} }}"
    )
    plan = plan_export(schema._schema, query, LimitsGate(LIMITS))
    assert plan.top.path == ("viewer", "partner", "serviceOffers")


@pytest.mark.parametrize(
    "query",
    [
        "{ __schema { queryType { name } types { name } } }",
        '{ __type(name: "Partner") { fields { name } } }',
    ],
)
def test_introspection_a_gateway_allows_is_still_no_connection_to_export(query: str) -> None:
    with pytest.raises(QueryRefused) as refused:
        plan_export(schema._schema, query, LimitsGate(Limits(introspection=True)))
    assert refused.value.code is BulkQueryErrorCode.NO_CONNECTION


# -- fragments along the path to the connection ---------------------------------------------


PARTNERS = (
    "query($after: String) { partners(first: 100, after: $after) { nodes { id name } "
    "pageInfo { hasNextPage endCursor } } }"
)


@pytest.mark.parametrize(
    "query",
    [
        pytest.param(
            "query { ...Root } fragment Root on Query { partners { nodes { id name } } }",
            id="named-at-the-root",
        ),
        pytest.param(
            "query { ...Ids ...Names } fragment Ids on Query { partners { nodes { id } } } "
            "fragment Names on Query { partners { nodes { name } } }",
            id="one-connection-through-two-fragments",
        ),
        pytest.param(
            "query { ...Requests @include(if: false) ...Partners @skip(if: false) } "
            "fragment Requests on Query { requests { nodes { id } } } "
            "fragment Partners on Query { partners { edges { ...Edge } } } "
            "fragment Edge on PartnerEdge { node { id name } }",
            id="left-out-by-include",
        ),
    ],
)
async def test_named_fragments_on_the_path_are_spread_as_execution_spreads_them(
    gql: GraphQLClient, http: httpx.AsyncClient, store: DocumentStore, make: Make, query: str
) -> None:
    for _ in range(3):
        await make.partner()
    export = await _export(gql, store, query, ADMIN)
    assert export["status"] == "COMPLETED", export
    lines = await _download(http, export["url"])
    assert lines == await _page_all(gql, PARTNERS, ["partners"], ADMIN)


async def test_a_path_that_skip_and_include_leave_empty_is_refused(
    gql: GraphQLClient, store: DocumentStore
) -> None:
    query = "query { ...All @skip(if: true) } fragment All on Query { partners { nodes { id } } }"
    started = await _start(gql, query, ADMIN)
    assert [e["code"] for e in started["userErrors"]] == ["NO_CONNECTION"]


# -- the download link's lifetime ----------------------------------------------------------------


LINK = "query($id: ID!) { bulkExport(id: $id) { url urlExpiresAt } }"


def test_the_link_lifetime_is_a_setting() -> None:
    assert ExportSettings.from_env({}).link_seconds == 3600
    assert ExportSettings.from_env({"TSP_EXPORT_LINK_SECONDS": "90"}).link_seconds == 90
    for wrong in ("0", "-5", "1.5", "soon"):
        with pytest.raises(EdgeSettingsError, match="TSP_EXPORT_LINK_SECONDS"):
            ExportSettings.from_env({"TSP_EXPORT_LINK_SECONDS": wrong})


async def test_a_download_link_lasts_the_configured_lifetime(
    store: DocumentStore, make: Make
) -> None:
    await make.partner()
    settings = replace(SETTINGS, exports=ExportSettings(worker=False, link_seconds=90))
    async with serving(store, settings) as http:
        gql = GraphQLClient(http)
        first = await _export(gql, store, "{ partners { nodes { id } } }", ADMIN)
        before = utc_now()
        read = await gql(LINK, {"id": first["id"]}, as_=ADMIN)
        after = utc_now()
    export: dict[str, Any] = read["data"]["bulkExport"]
    expires = int(parse_qs(urlsplit(export["url"]).query)["expires"][0])
    assert int((before + timedelta(seconds=90)).timestamp()) <= expires
    assert expires <= (after + timedelta(seconds=90)).timestamp()
    stated = datetime.fromisoformat(export["urlExpiresAt"].replace("Z", "+00:00"))
    assert stated == datetime.fromtimestamp(expires, tz=UTC)
