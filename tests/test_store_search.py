"""The App & Service Store query: listing, search, filters, sorting and stable paging."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from datastore.catalog import get_catalog
from datastore.codec import utc_now
from datastore.documents import PartnerDocument, ServiceDocument
from datastore.enums import PartnerStatus, PartnerType, Region, ServiceStatus, ServiceType
from datastore.search import search_fields, words
from datastore.store import DocumentStore
from resolvers.identity import Role
from tests.conftest import MAX_PAGES, GraphQLClient, Make, token

STORE = """query Store($query: String, $mainCategory: String, $category: ID, $market: Market,
  $sortKey: StoreSortKey, $reverse: Boolean, $first: Int, $after: String, $last: Int,
  $before: String) {
  store(query: $query, mainCategory: $mainCategory, category: $category, market: $market,
    sortKey: $sortKey, reverse: $reverse, first: $first, after: $after, last: $last,
    before: $before) {
    edges { cursor node { id name } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""

FLAVOURS = ("Pro", "Plus", "Live", "Studio", "Prime", "Growth")
DESCRIPTIONS = (
    "We deliver results fast.",
    "Hands-on growth coaching for new sellers.",
    "Live shopping and video campaigns, with account management.",
    "Daily livestreams with trained hosts.",
    "Video content management for brands.",
)
SERVICE_COUNT = 300


@dataclass
class Seeded:
    """What the store holds: every service, and those the store must list."""

    partners: list[PartnerDocument]
    services: list[ServiceDocument]

    @property
    def listed(self) -> list[ServiceDocument]:
        return [service for service in self.services if service["listed"]]

    def text_of(self, service: Mapping[str, Any]) -> str:
        partner = next(p for p in self.partners if p["_id"] == service["partnerId"])
        return " ".join((service["name"], service.get("description", ""), partner["name"]))


def _has_word(text: str, word: str) -> bool:
    # An oracle independent of datastore.search: whole ASCII words, any case.
    return re.search(rf"\b{re.escape(word)}\b", text, re.IGNORECASE) is not None


def _newest(services: Sequence[Mapping[str, Any]]) -> list[str]:
    ordered = sorted(services, key=lambda s: (s["publishedAt"], s["_id"]), reverse=True)
    return [service["_id"] for service in ordered]


def _plan(index: int) -> tuple[ServiceType, ServiceStatus]:
    return {
        3: (ServiceType.PUBLIC, ServiceStatus.DRAFT),
        5: (ServiceType.CUSTOM, ServiceStatus.LIVE),
        7: (ServiceType.PUBLIC, ServiceStatus.DEACTIVATED),
        8: (ServiceType.PUBLIC, ServiceStatus.IN_REVIEW),
    }.get(index % 10, (ServiceType.PUBLIC, ServiceStatus.LIVE))


@pytest.fixture
async def seeded(make: Make) -> Seeded:
    catalog = get_catalog()
    partners = [
        await make.partner(name="Acme Growth Partners", registrationRegion=Region.US),
        await make.partner(name="Lotus Commerce", registrationRegion=Region.SEA),
        await make.partner(name="Dragon Gate Ventures", registrationRegion=Region.CN_HK),
        await make.partner(
            name="Brightline Agency", registrationRegion=Region.UK, type=PartnerType.MCN_CAP
        ),
    ]
    closed = await make.partner(
        name="Shuttered Studio", registrationRegion=Region.US, status=PartnerStatus.CLOSED
    )
    start = utc_now()
    services: list[ServiceDocument] = []

    async def add(partner: Mapping[str, Any], index: int, **fields: Any) -> None:
        categories = [
            row
            for row in catalog.find(partner["type"], partner["registrationRegion"])
            if not catalog.is_shop_registration(row)
        ]
        # Partners take turns, so each partner's own services step through its categories
        # and markets by ``index // partners``.
        turn = index // len(partners)
        category = categories[turn % len(categories)]
        # Pairs of services share a publishing time, so ties are broken by id.
        published = start - timedelta(minutes=index // 2)
        document = {
            "name": f"{category.name} {FLAVOURS[index % len(FLAVOURS)]}",
            "description": DESCRIPTIONS[index % len(DESCRIPTIONS)],
            "categoryId": category.id,
            "market": partner["targetMarkets"][turn % len(partner["targetMarkets"])],
            "createdAt": published,
            **fields,
        }
        services.append(await make.service(partner, **document))

    for index in range(SERVICE_COUNT):
        service_type, status = _plan(index)
        await add(partners[index % len(partners)], index, type=service_type, status=status)
    for index in range(20):
        await add(closed, SERVICE_COUNT + index)
    return Seeded([*partners, closed], services)


async def _page(gql: GraphQLClient, as_: str | None = None, **args: Any) -> dict[str, Any]:
    """One store page; omitted arguments take their defaults."""
    variables = {key: value for key, value in args.items() if value is not None}
    result = await gql(STORE, variables, as_=as_)
    assert "errors" not in result, result["errors"]
    page: dict[str, Any] = result["data"]["store"]
    return page


async def _ids(gql: GraphQLClient, as_: str | None = None, **args: Any) -> list[str]:
    """Every id of a listing, paging forwards 100 at a time."""
    seen: list[str] = []
    after = None
    for _ in range(MAX_PAGES):  # bounded: a paging bug fails, never hangs
        page = await _page(gql, as_, first=100, after=after, **args)
        seen += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return seen
        after = page["pageInfo"]["endCursor"]
    else:
        pytest.fail("paging did not reach the end within MAX_PAGES pages")


async def _error_code(gql: GraphQLClient, **args: Any) -> str:
    variables = {key: value for key, value in args.items() if value is not None}
    result = await gql(STORE, variables)
    assert result.get("data") is None
    code: str = result["errors"][0]["extensions"]["code"]
    return code


def test_words_are_case_folded_unicode_runs_of_letters_and_digits() -> None:
    assert words("LIVE-Management, live & Café_Crème 2024!") == [
        "live",
        "management",
        "café",
        "crème",
        "2024",
    ]
    full_width_live = "\uff2c\uff29\uff36\uff25"
    assert words(f"Straße {full_width_live} Live") == ["strasse", "live"]
    assert words("  ...  ") == []
    fields = search_fields("  LIVE Management Pro ", None, "Acme Growth")
    assert fields == {
        "searchTerms": ["live", "management", "pro", "acme", "growth"],
        "nameTerms": ["live", "management", "pro"],
        "nameSort": "live management pro",
    }


async def test_only_listed_services_appear_newest_first(gql: GraphQLClient, seeded: Seeded) -> None:
    listed = seeded.listed
    # Drafts, custom, deactivated and in-review services, and a closed partner's live
    # public services, are all in the store but must not be listed.
    assert 150 < len(listed) < len(seeded.services) - 100
    closed = seeded.partners[-1]["_id"]
    assert not any(service["partnerId"] == closed for service in listed)
    for sort_key in (None, "NEWEST", "RELEVANCE"):
        assert await _ids(gql, sortKey=sort_key) == _newest(listed)


async def test_search_matches_whole_words_in_any_case_and_every_word(
    gql: GraphQLClient, seeded: Seeded
) -> None:
    listed = seeded.listed

    def expected(*query_words: str) -> set[str]:
        return {
            service["_id"]
            for service in listed
            if all(_has_word(seeded.text_of(service), word) for word in query_words)
        }

    live = set(await _ids(gql, query="live"))
    assert live == expected("live")
    # "LIVE Management" and "Live shopping" match; "deliver" and "livestreams" do not.
    assert any(_has_word(s["name"], "live") for s in listed if s["_id"] in live)
    assert any("deliver" in s["description"] and s["_id"] not in live for s in listed)
    assert any("livestream" in s["name"].lower() and s["_id"] not in live for s in listed)
    assert set(await _ids(gql, query="  lIvE ")) == live
    both = set(await _ids(gql, query="LIVE, video!"))
    assert both == expected("live", "video") and both < live
    # Words are found across the name, the description and the partner's name.
    across = set(await _ids(gql, query="lotus coaching management"))
    assert across == expected("lotus", "coaching", "management") != set()
    assert await _ids(gql, query="live deliverable") == []
    assert await _ids(gql, query="   ") == _newest(listed)


async def test_filters_by_main_category_category_and_market(
    gql: GraphQLClient, seeded: Seeded
) -> None:
    catalog = get_catalog()
    listed = seeded.listed

    def main_category(service: Mapping[str, Any]) -> str:
        row = catalog.get(service["categoryId"])
        assert row is not None
        return row.main_category

    content = [s for s in listed if main_category(s) == "Content Management"]
    assert content and len(content) < len(listed)
    assert await _ids(gql, mainCategory="content MANAGEMENT") == _newest(content)
    assert await _ids(gql, mainCategory="No Such Main Category") == []
    category_id = content[0]["categoryId"]
    in_category = [s for s in listed if s["categoryId"] == category_id]
    assert await _ids(gql, category=category_id) == _newest(in_category)
    british = [s for s in listed if s["market"] == "GB"]
    assert {s["partnerId"] for s in british} == {
        seeded.partners[2]["_id"],
        seeded.partners[3]["_id"],
    }
    assert await _ids(gql, market="GB") == _newest(british)
    combined = [s for s in content if s["market"] == "GB" and _has_word(seeded.text_of(s), "video")]
    assert combined
    assert await _ids(gql, market="GB", mainCategory="Content Management", query="video") == (
        _newest(combined)
    )


async def test_sorts_by_newest_and_name_either_way(gql: GraphQLClient, seeded: Seeded) -> None:
    listed = seeded.listed
    newest = _newest(listed)
    assert await _ids(gql, sortKey="NEWEST", reverse=True) == list(reversed(newest))
    by_name = sorted(listed, key=lambda s: (s["name"].casefold(), s["_id"]))
    assert len({s["name"] for s in listed}) < len(listed)  # ties, broken by id
    names = [s["_id"] for s in by_name]
    assert await _ids(gql, sortKey="NAME") == names
    assert await _ids(gql, sortKey="NAME", reverse=True) == list(reversed(names))
    page = await _page(gql, sortKey="NAME", first=3)
    assert [e["node"]["name"] for e in page["edges"]] == [s["name"] for s in by_name[:3]]


async def test_relevance_ranks_services_with_more_query_words_in_their_name_first(
    gql: GraphQLClient, seeded: Seeded
) -> None:
    query = ["video", "live", "management"]

    def score(service: Mapping[str, Any]) -> int:
        return sum(_has_word(service["name"], word) for word in query)

    matching = [
        s for s in seeded.listed if all(_has_word(seeded.text_of(s), word) for word in query)
    ]
    ranked = sorted(matching, key=lambda s: (score(s), s["publishedAt"], s["_id"]), reverse=True)
    assert {score(s) for s in matching} == {0, 1, 2, 3}
    expected = [s["_id"] for s in ranked]
    assert await _ids(gql, query="Management LIVE video") == expected
    assert await _ids(gql, query="video live management", reverse=True) == expected[::-1]
    # Paging by 37 through a ranked listing neither repeats nor skips.
    seen: list[str] = []
    after = None
    for _ in range(MAX_PAGES):  # bounded: a paging bug fails, never hangs
        page = await _page(gql, query="video live management", first=37, after=after)
        seen += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    else:
        pytest.fail("paging did not reach the end within MAX_PAGES pages")
    assert seen == expected


async def test_paging_by_37_lists_every_service_once_in_order_both_ways(
    gql: GraphQLClient, seeded: Seeded
) -> None:
    for sort_key in ("NEWEST", "NAME"):
        everything = await _ids(gql, sortKey=sort_key)
        assert len(everything) == len(seeded.listed)
        forwards: list[str] = []
        after = None
        for _ in range(MAX_PAGES):  # bounded: a paging bug fails, never hangs
            page = await _page(gql, sortKey=sort_key, first=37, after=after)
            assert len(page["edges"]) <= 37
            forwards += [edge["node"]["id"] for edge in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        else:
            pytest.fail("paging did not reach the end within MAX_PAGES pages")
        assert forwards == everything
        backwards: list[str] = []
        before = None
        for _ in range(MAX_PAGES):  # bounded: a paging bug fails, never hangs
            page = await _page(gql, sortKey=sort_key, last=37, before=before)
            backwards = [edge["node"]["id"] for edge in page["edges"]] + backwards
            if not page["pageInfo"]["hasPreviousPage"]:
                break
            before = page["pageInfo"]["startCursor"]
        else:
            pytest.fail("paging did not reach the end within MAX_PAGES pages")
        assert backwards == everything


async def test_paging_neither_repeats_nor_skips_while_services_are_published(
    gql: GraphQLClient, seeded: Seeded, make: Make
) -> None:
    partner = seeded.partners[0]
    first = await _page(gql, first=37)
    before_change = _newest(seeded.listed)
    assert [edge["node"]["id"] for edge in first["edges"]] == before_change[:37]
    # A newer service lands before the cursor (not shown); an older one after it (shown).
    await make.service(partner, createdAt=utc_now() + timedelta(hours=1))
    older = await make.service(partner, createdAt=utc_now() - timedelta(days=30))
    rest: list[str] = []
    after = first["pageInfo"]["endCursor"]
    for _ in range(MAX_PAGES):  # bounded: a paging bug fails, never hangs
        page = await _page(gql, first=37, after=after)
        rest += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    else:
        pytest.fail("paging did not reach the end within MAX_PAGES pages")
    assert rest == [*before_change[37:], older["_id"]]


async def test_bad_arguments_and_foreign_cursors_are_refused(
    gql: GraphQLClient, seeded: Seeded, make: Make
) -> None:
    assert await _error_code(gql, query="x" * 201) == "INVALID_SEARCH"
    assert await _error_code(gql, query=" ".join(f"w{n}" for n in range(11))) == "INVALID_SEARCH"
    assert await _ids(gql, query=" ".join(["live"] * 11 + [f"w{n}" for n in range(9)])) == []
    assert await _error_code(gql, category="not-an-id") == "INVALID_ID"
    assert await _error_code(gql, category=seeded.partners[0]["_id"]) == "INVALID_ID"
    assert await _error_code(gql, first=101) == "INVALID_PAGE_SIZE"
    assert await _error_code(gql, after="definitely-not-a-cursor") == "INVALID_CURSOR"
    forged = base64.urlsafe_b64encode(json.dumps({"k": [{"$date": "soon"}, "x"]}).encode())
    assert await _error_code(gql, after=forged.decode()) == "INVALID_CURSOR"
    newest = (await _page(gql, sortKey="NEWEST", first=1))["pageInfo"]["endCursor"]
    assert await _error_code(gql, sortKey="NAME", after=newest) == "INVALID_CURSOR"
    assert await _error_code(gql, sortKey="NEWEST", reverse=True, after=newest) == "INVALID_CURSOR"
    assert await _error_code(gql, sortKey="NEWEST", query="live", after=newest) == "INVALID_CURSOR"
    ranked = (await _page(gql, query="live", first=1))["pageInfo"]["endCursor"]
    assert await _error_code(gql, query="video", before=ranked) == "INVALID_CURSOR"
    assert (await _page(gql, query="LIVE", after=ranked))["edges"]
    # A cursor of another list (same number of keys) is refused too.
    admin = token(Role.ADMIN)
    await make.partner()
    partners = await gql("{ partners(first: 1) { pageInfo { endCursor } } }", as_=admin)
    foreign = partners["data"]["partners"]["pageInfo"]["endCursor"]
    assert await _error_code(gql, sortKey="NEWEST", after=foreign) == "INVALID_CURSOR"


async def test_every_caller_sees_the_same_store_in_one_round_trip(
    gql: GraphQLClient, seeded: Seeded, store: DocumentStore
) -> None:
    own, closed = seeded.partners[0]["_id"], seeded.partners[-1]["_id"]
    callers = [
        None,
        token(Role.ADMIN),
        token(Role.PARTNER, own),
        token(Role.PARTNER, closed),
        token(Role.SELLER, "slr_01aaaaaaaaaaaaaaaaaaaaaaaa"),
    ]
    expected = _newest(seeded.listed)[:50]
    for caller in callers:
        for args in ({}, {"query": "video management"}, {"sortKey": "NAME", "market": "US"}):
            store.stats.reset()
            page = await _page(gql, caller, first=50, **args)
            assert store.stats.round_trips == 1
            if not args:
                assert [edge["node"]["id"] for edge in page["edges"]] == expected
