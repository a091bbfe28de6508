"""Shop Registration referral links: created once per kind, redirect and count while the
service is live, visible with their clicks to the owning partner only."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Mapping
from typing import Any, Protocol

import httpx
import pytest

from datastore import collections as c
from datastore.catalog import ServiceCategory, get_catalog
from datastore.documents import ReferralLinkDocument, ServiceDocument
from datastore.enums import (
    PartnerStatus,
    PartnerType,
    ReferralLinkKind,
    Region,
    ServiceStatus,
    ServiceType,
)
from datastore.store import Collection, DocumentStore
from edge.gateway_settings import (
    DEFAULT_ONBOARDING_URL_CROSS_BORDER,
    DEFAULT_ONBOARDING_URL_LOCAL,
    Settings,
    SettingsError,
)
from gateway import create_app
from resolvers.identity import Role
from resolvers.referrals import (
    click_counts,
    ensure_referral_links,
    follow_referral,
    redirect_url,
)
from tests.conftest import (
    JWT_SECRET,
    SETTINGS,
    GraphQLClient,
    Make,
    token,
    token_of,
)

ONBOARDING = {
    ReferralLinkKind.LOCAL: DEFAULT_ONBOARDING_URL_LOCAL,
    ReferralLinkKind.CROSS_BORDER: DEFAULT_ONBOARDING_URL_CROSS_BORDER,
}
LINKS_OF_NODE = """query($id: ID!) { node(id: $id) { ... on Service {
  referralLinks { kind code url clicks } } } }"""
NOT_AVAILABLE = "This referral link is not available"


def shop_registration(region: Region) -> ServiceCategory:
    catalog = get_catalog()
    rows = catalog.find(PartnerType.TSP, region)
    return next(row for row in rows if catalog.is_shop_registration(row))


class ShopRegistrationFactory(Protocol):
    def __call__(
        self, partner: Mapping[str, Any] | None = None, **fields: Any
    ) -> Awaitable[ServiceDocument]: ...


@pytest.fixture
def make_shop_registration(make: Make) -> ShopRegistrationFactory:
    """A custom LIVE Shop Registration service (of a new US partner unless one is given)."""

    async def build(partner: Mapping[str, Any] | None = None, **fields: Any) -> ServiceDocument:
        owner = partner or await make.partner()
        category = shop_registration(Region(owner["registrationRegion"]))
        return await make.service(
            owner, **{"type": ServiceType.CUSTOM, "categoryId": category.id, **fields}
        )

    return build


async def set_status(
    store: DocumentStore, collection: Collection[Mapping[str, Any]], document_id: str, status: str
) -> None:
    current = (await store.get_many(collection, [document_id]))[document_id]
    await store.update(
        collection, document_id, expected_version=current["version"], changes={"status": status}
    )


async def test_shop_registration_service_gets_two_links_once(
    store: DocumentStore, make_shop_registration: ShopRegistrationFactory
) -> None:
    service = await make_shop_registration()
    links = await ensure_referral_links(store, service)
    assert [link["kind"] for link in links] == ["LOCAL", "CROSS_BORDER"]
    codes = [link["code"] for link in links]
    assert len(set(codes)) == 2
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{16}", code) for code in codes)
    assert all(link["partnerId"] == service["partnerId"] for link in links)
    again = await ensure_referral_links(store, service)
    assert again == links
    assert await store.count(c.REFERRAL_LINKS) == 2


async def test_uk_partners_shop_registration_gets_links_too(
    store: DocumentStore, make: Make, make_shop_registration: ShopRegistrationFactory
) -> None:
    partner = await make.partner(registrationRegion=Region.UK)
    service = await make_shop_registration(partner)
    assert len(await ensure_referral_links(store, service)) == 2


async def test_racing_publishes_agree_on_one_link_per_kind(
    store: DocumentStore, make_shop_registration: ShopRegistrationFactory
) -> None:
    service = await make_shop_registration()
    results = await asyncio.gather(*(ensure_referral_links(store, service) for _ in range(4)))
    codes = {tuple(link["code"] for link in links) for links in results}
    assert len(codes) == 1
    assert await store.count(c.REFERRAL_LINKS) == 2

    # Inside publish transactions, as the service life cycle calls it.
    other = await make_shop_registration()

    async def publish() -> list[ReferralLinkDocument]:
        return await store.transaction(lambda: ensure_referral_links(store, other))

    transactional = await asyncio.gather(publish(), publish())
    assert transactional[0] == transactional[1]
    assert await store.count(c.REFERRAL_LINKS) == 4


async def test_other_categories_get_no_links(store: DocumentStore, make: Make) -> None:
    partner = await make.partner()
    service = await make.service(partner)
    category = get_catalog().get(service["categoryId"])
    assert category is not None and not get_catalog().is_shop_registration(category)
    assert await ensure_referral_links(store, service) == []
    assert await store.count(c.REFERRAL_LINKS) == 0


async def test_following_redirects_to_onboarding_per_kind_and_counts_clicks(
    http: httpx.AsyncClient, store: DocumentStore, make_shop_registration: ShopRegistrationFactory
) -> None:
    service = await make_shop_registration()
    links = await ensure_referral_links(store, service)
    for link in links:
        response = await http.get(f"/r/{link['code']}")
        assert response.status_code == 302
        assert response.headers["location"] == (
            f"{ONBOARDING[ReferralLinkKind(link['kind'])]}?ref={link['code']}"
        )
        assert response.headers["cache-control"] == "no-store"
    await http.get(f"/r/{links[0]['code']}")
    ids = [link["_id"] for link in links]
    assert await click_counts(store, ids) == {ids[0]: 2, ids[1]: 1}
    clicks = await store.find(c.REFERRAL_CLICKS, {"linkId": ids[1]})
    assert len(clicks) == 1
    click = clicks[0]
    assert click["_id"].startswith("rcl_")
    assert (click["serviceId"], click["partnerId"], click["kind"]) == (
        service["_id"],
        service["partnerId"],
        "CROSS_BORDER",
    )
    assert click["at"].tzinfo is not None


async def test_head_checks_a_link_without_counting_it(
    http: httpx.AsyncClient, store: DocumentStore, make_shop_registration: ShopRegistrationFactory
) -> None:
    links = await ensure_referral_links(store, await make_shop_registration())
    response = await http.head(f"/r/{links[0]['code']}")
    assert response.status_code == 302
    assert await store.count(c.REFERRAL_CLICKS) == 0


async def test_owner_and_admins_see_links_with_clicks(
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    store: DocumentStore,
    make_shop_registration: ShopRegistrationFactory,
    admin: str,
) -> None:
    service = await make_shop_registration()
    links = await ensure_referral_links(store, service)
    await http.get(f"/r/{links[1]['code']}")
    owner = token(Role.PARTNER, service["partnerId"])
    for caller in (owner, admin):
        result = await gql(LINKS_OF_NODE, {"id": service["_id"]}, as_=caller)
        assert result["data"]["node"]["referralLinks"] == [
            {
                "kind": link["kind"],
                "code": link["code"],
                "url": f"http://gateway/r/{link['code']}",
                "clicks": clicks,
            }
            for link, clicks in zip(links, (0, 1), strict=True)
        ]
    # The URL shown is the one that works.
    shown = (await gql(LINKS_OF_NODE, {"id": service["_id"]}, as_=owner))["data"]["node"]
    assert (await http.get(shown["referralLinks"][0]["url"])).status_code == 302


async def test_nobody_else_sees_the_links(
    gql: GraphQLClient,
    store: DocumentStore,
    make: Make,
    make_shop_registration: ShopRegistrationFactory,
) -> None:
    service = await make_shop_registration()
    await ensure_referral_links(store, service)
    # A listed service in the category, so that others can reach the field at all.
    listed = await make_shop_registration(
        (await store.get_many(c.PARTNERS, [service["partnerId"]]))[service["partnerId"]],
        type=ServiceType.PUBLIC,
    )
    assert len(await ensure_referral_links(store, listed)) == 2
    other_partner = token(Role.PARTNER, (await make.partner())["_id"])
    seller = token(Role.SELLER, "slr_0000000000000000000000000a")
    for caller in (other_partner, seller, None):
        hidden = await gql(LINKS_OF_NODE, {"id": service["_id"]}, as_=caller)
        assert hidden["data"]["node"] is None
        assert hidden["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        result = await gql(LINKS_OF_NODE, {"id": listed["_id"]}, as_=caller)
        assert result["data"]["node"] == {"referralLinks": []}


async def test_links_stop_while_deactivated_and_return_unchanged_when_published_again(
    http: httpx.AsyncClient, store: DocumentStore, make_shop_registration: ShopRegistrationFactory
) -> None:
    service = await make_shop_registration()
    links = await ensure_referral_links(store, service)
    await set_status(store, c.SERVICES, service["_id"], ServiceStatus.DEACTIVATED)
    for link in links:
        response = await http.get(f"/r/{link['code']}")
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["cache-control"] == "no-store"
        assert NOT_AVAILABLE in response.text
    assert await store.count(c.REFERRAL_CLICKS) == 0

    await set_status(store, c.SERVICES, service["_id"], ServiceStatus.LIVE)
    republished = await ensure_referral_links(store, service)
    assert [link["code"] for link in republished] == [link["code"] for link in links]
    for link in links:
        response = await http.get(f"/r/{link['code']}")
        assert response.status_code == 302
        assert response.headers["location"].endswith(f"?ref={link['code']}")
    assert await store.count(c.REFERRAL_CLICKS) == 2


@pytest.mark.parametrize(
    "code", ["AAAAAAAAAAAAAAAA", "x", "a" * 100, "bad%20code", "%3Cscript%3Ealert(1)%3C"]
)
async def test_unknown_codes_get_the_not_available_page(
    http: httpx.AsyncClient, store: DocumentStore, code: str
) -> None:
    response = await http.get(f"/r/{code}")
    assert response.status_code == 404
    assert NOT_AVAILABLE in response.text
    assert "<script>" not in response.text
    assert "location" not in response.headers
    assert await store.count(c.REFERRAL_CLICKS) == 0


async def test_links_of_a_closed_partner_are_not_available(
    http: httpx.AsyncClient, store: DocumentStore, make_shop_registration: ShopRegistrationFactory
) -> None:
    service = await make_shop_registration()
    links = await ensure_referral_links(store, service)
    await set_status(store, c.PARTNERS, service["partnerId"], PartnerStatus.CLOSED)
    response = await http.get(f"/r/{links[0]['code']}")
    assert response.status_code == 404
    assert NOT_AVAILABLE in response.text
    assert await store.count(c.REFERRAL_CLICKS) == 0
    assert await follow_referral(store, links[0]["code"], ONBOARDING) is None


async def test_configured_onboarding_urls_keep_their_query(
    store: DocumentStore, make_shop_registration: ShopRegistrationFactory
) -> None:
    links = await ensure_referral_links(store, await make_shop_registration())
    settings = Settings(
        jwt_secret=JWT_SECRET,
        onboarding_url_local="https://onboard.example/join?src=tsp#start",
        onboarding_url_cross_border="http://global.example/register",
    )
    app = create_app(settings, store=store)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            local, cross_border = [await client.get(f"/r/{link['code']}") for link in links]
    assert local.headers["location"] == (
        f"https://onboard.example/join?src=tsp&ref={links[0]['code']}#start"
    )
    assert cross_border.headers["location"] == (
        f"http://global.example/register?ref={links[1]['code']}"
    )


def test_redirect_url_appends_the_code() -> None:
    assert redirect_url("https://a.example/r", "c0de") == "https://a.example/r?ref=c0de"
    assert redirect_url("https://a.example/r?x=1", "c0de") == "https://a.example/r?x=1&ref=c0de"


def test_settings_read_and_validate_onboarding_urls() -> None:
    secret = "s" * 40
    defaults = Settings.from_env({"TSP_JWT_SECRET": secret})
    assert defaults.onboarding_urls == ONBOARDING
    assert SETTINGS.onboarding_urls == ONBOARDING
    custom = Settings.from_env(
        {
            "TSP_JWT_SECRET": secret,
            "TSP_ONBOARDING_URL_LOCAL": "https://local.example/join?a=1",
            "TSP_ONBOARDING_URL_CROSS_BORDER": "http://127.0.0.1:8080/register",
        }
    )
    assert custom.onboarding_urls == {
        ReferralLinkKind.LOCAL: "https://local.example/join?a=1",
        ReferralLinkKind.CROSS_BORDER: "http://127.0.0.1:8080/register",
    }
    for name in ("TSP_ONBOARDING_URL_LOCAL", "TSP_ONBOARDING_URL_CROSS_BORDER"):
        for url in (
            "nonsense",
            "/account/register",
            "seller-us.tiktok.com/account/register",
            "ftp://files.example/register",
            "javascript:alert(1)",
            "https://",
            "https://exa mple.com/register",
            "https://host:port/register",
            "https://[::1/register",
        ):
            with pytest.raises(SettingsError, match=name):
                Settings.from_env({"TSP_JWT_SECRET": secret, name: url})


async def _round_trips_for_services(
    count: int,
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    store: DocumentStore,
    make: Make,
    make_shop_registration: ShopRegistrationFactory,
) -> int:
    partner = await make.partner()
    for _ in range(count):
        service = await make_shop_registration(partner)
        links = await ensure_referral_links(store, service)
        await http.get(f"/r/{links[0]['code']}")
    query = """query($id: ID!) { partner(id: $id) { services(first: 10) {
      nodes { referralLinks { kind url clicks } } } } }"""
    store.stats.reset()
    result = await gql(query, {"id": partner["_id"]}, as_=token_of(partner))
    services = result["data"]["partner"]["services"]["nodes"]
    assert len(services) == count
    assert all(
        [link["clicks"] for link in service["referralLinks"]] == [1, 0] for service in services
    )
    return store.stats.round_trips


async def test_round_trips_do_not_grow_with_services(
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    store: DocumentStore,
    make: Make,
    make_shop_registration: ShopRegistrationFactory,
) -> None:
    one = await _round_trips_for_services(1, gql, http, store, make, make_shop_registration)
    five = await _round_trips_for_services(5, gql, http, store, make, make_shop_registration)
    # The partner, its services, every service's links, every link's click count.
    assert one == five == 4
