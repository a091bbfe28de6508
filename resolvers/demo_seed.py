"""The demo data set, made through the same resolver functions the API's mutations call:
partners register, apply for categories and publish services, admins approve them, sellers
register, add shops and link TikTok accounts, and a partner makes an offer. The demo can hold
no state the API could not produce.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from datastore import collections as c
from datastore.catalog import get_catalog
from datastore.codec import utc_now
from datastore.documents import (
    PartnerDocument,
    SellerDocument,
    ServiceDocument,
    ServiceOfferDocument,
)
from datastore.enums import Market, PartnerType, Region, SellerKind, ServiceType
from datastore.ids import new_id
from datastore.store import DocumentStore
from resolvers import category_applications, offers, partner_accounts, seller_accounts, services
from resolvers.category_applications import ReviewDecision
from resolvers.context import Context, Info
from resolvers.identity import Role, Viewer

PARTNERS: list[tuple[str, PartnerType, Region]] = [
    ("Lakeside Commerce Agency", PartnerType.TSP, Region.US),
    ("Shenzhen Bridge Sellers", PartnerType.TSP, Region.CN_HK),
    ("Thames Shop Studio", PartnerType.TSP, Region.UK),
    ("Rhein Retail Partners", PartnerType.TSP, Region.EU),
    ("Lion City Growth", PartnerType.TSP, Region.SEA),
    ("Sakura Live Commerce", PartnerType.TSP, Region.JP),
    ("Aurora Ventas MX", PartnerType.TSP, Region.MX),
    ("Praia Digital Brasil", PartnerType.TSP, Region.BR),
    ("Creator Collective US", PartnerType.MCN_CAP, Region.US),
    ("Pearl River Creators", PartnerType.MCN_CAP, Region.CN_HK),
    ("Jakarta Creator House", PartnerType.MCN_CAP, Region.SEA),
    ("Matchmade Affiliates", PartnerType.AFFILIATE_PARTNER, Region.US),
    ("London Creator Match", PartnerType.AFFILIATE_PARTNER, Region.UK),
    ("Tokyo Affiliate Link", PartnerType.AFFILIATE_PARTNER, Region.JP),
]

SELLERS: list[tuple[str, SellerKind, Market, bool]] = [
    ("Maple & Pine Home Goods", SellerKind.LOCAL, Market.US, True),
    ("Brighton Beauty Co", SellerKind.LOCAL, Market.GB, True),
    ("Guangzhou Gadget Export", SellerKind.CROSS_BORDER, Market.US, True),
    ("Batik Nusantara", SellerKind.LOCAL, Market.ID, True),
    ("Future Founders (no shop yet)", SellerKind.LOCAL, Market.US, False),
]

ADMIN = Viewer(Role.ADMIN, "admin")
_PUBLIC_LIVE, _CUSTOM_LIVE, _PUBLIC_DRAFT = "public live", "custom live", "public draft"
# Per ordinary category, in order: what the partner publishes there.
_PLANS = [[_PUBLIC_LIVE, _CUSTOM_LIVE], [_PUBLIC_LIVE], [_PUBLIC_DRAFT]]


@dataclass(frozen=True)
class DemoSeed:
    """Whom demo tokens act as (by role name), and the link of the demo's open offer."""

    subjects: dict[str, str]
    offer_link_token: str


@dataclass(frozen=True)
class _Call:
    """What the resolver functions read of a GraphQL call: its context."""

    context: Context


def _as(store: DocumentStore, viewer: Viewer) -> Info:
    return cast(Info, _Call(Context(store=store, viewer=viewer, request_id="demo-seed")))


def _slug(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())[:18]


async def _partner(
    store: DocumentStore, name: str, kind: PartnerType, region: Region
) -> PartnerDocument:
    registration = partner_accounts.PartnerRegistration(
        name=name,
        type=kind,
        registration_region=region,
        target_markets=tuple(partner_accounts.region_markets(kind, region)),
        contact_email=f"hello@{_slug(name)}.example",
        website=f"https://{_slug(name)}.example",
        description=f"{name}: a demo {kind.value} partner registered in {region.value}.",
    )
    return await partner_accounts.create_for(store, ADMIN, registration, None)


async def _services(store: DocumentStore, partner: PartnerDocument) -> list[ServiceDocument]:
    """Three ordinary categories (plus Shop Registration where offered), approved, with
    public and custom services in them."""
    catalog = get_catalog()
    region = Region(partner["registrationRegion"])
    markets = partner["targetMarkets"]
    market = Market(markets[-1] if region is Region.CN_HK else markets[0])
    offered = catalog.eligible_for(PartnerType(partner["type"]), region, [market])
    ordinary = [row for row in offered if not catalog.is_shop_registration(row)][:3]
    shop_registration = [row for row in offered if catalog.is_shop_registration(row)]
    owner, admin = _as(store, Viewer(Role.PARTNER, partner["_id"])), _as(store, ADMIN)
    made: list[ServiceDocument] = []
    for position, category in enumerate(ordinary + shop_registration):
        application = await category_applications.apply(owner, category.id, market)
        await category_applications.review(
            admin, application["_id"], ReviewDecision.APPROVE, "Demo data: approved."
        )
        plan = [_CUSTOM_LIVE] if category in shop_registration else _PLANS[position]
        for kind in plan:
            custom = kind == _CUSTOM_LIVE
            fields: dict[str, Any] = {
                # A partner may have a public and a custom service in one category.
                "name": f"{category.name}{' (custom plan)' if custom else ''} by {partner['name']}",
                "type": ServiceType.CUSTOM if custom else ServiceType.PUBLIC,
                "categoryId": category.id,
                "market": market,
                "description": f"{partner['name']} delivers {category.name.lower()} for sellers "
                f"in {market.value}. {category.definition.splitlines()[0]}",
                "highlights": ["Dedicated account manager", "Weekly performance report"],
                "pricing": "From USD 499 per month",
                "contactEmail": partner["contactEmail"],
            }
            service = await services.create(owner, fields)
            if kind != _PUBLIC_DRAFT:
                service = await services.publish(owner, service["_id"])
                if not custom:
                    service = await services.review(
                        admin, service["_id"], ReviewDecision.APPROVE, None
                    )
            made.append(service)
    return made


async def _seller(
    store: DocumentStore, name: str, kind: SellerKind, market: Market, has_shop: bool
) -> SellerDocument:
    viewer = Viewer(Role.SELLER, new_id("slr"))
    seller = await seller_accounts.register(
        store, viewer, seller_accounts.SellerRegistration(name, kind, market, has_shop)
    )
    if has_shop:
        await seller_accounts.add_shop(store, viewer, f"{name} Official", market, None)
    await seller_accounts.link_tiktok_account(store, viewer, "@" + _slug(name))
    return seller


async def _open_offer(
    store: DocumentStore, partner: PartnerDocument, live: list[ServiceDocument]
) -> ServiceOfferDocument:
    """An open offer from the first demo partner, so a demo seller can accept one at once."""
    today = utc_now().date()
    fields = {
        "serviceIds": [s["_id"] for s in live[:2]],
        "startDate": today,
        "endDate": today + timedelta(days=90),
        "contact": {"name": "Demo seller contact", "email": "seller@demo.example", "phone": None},
        "settings": {
            "authorizeObject": "SHOP_AND_TTUID",
            "ticketAuthorization": True,
            "tspAccess": True,
            "dataCompassAccess": False,
        },
        "sellerId": None,
        "idempotencyKey": None,
    }
    return await offers.create(_as(store, Viewer(Role.PARTNER, partner["_id"])), fields)


async def seed_demo(store: DocumentStore, *, only_if_empty: bool) -> DemoSeed | None:
    """Make the demo data set in one transaction; ``None`` if skipped because the store
    already holds partners and ``only_if_empty`` is set."""

    async def work() -> DemoSeed | None:
        if only_if_empty and await store.count(c.PARTNERS) > 0:
            return None
        partners: list[PartnerDocument] = []
        first_services: list[ServiceDocument] = []
        for name, kind, region in PARTNERS:
            partner = await _partner(store, name, kind, region)
            made = await _services(store, partner)
            if not partners:
                first_services = [s for s in made if s["status"] == "LIVE"]
            partners.append(partner)
        sellers = [await _seller(store, *row) for row in SELLERS]
        offer = await _open_offer(store, partners[0], first_services)
        return DemoSeed(
            subjects={
                "partner": partners[0]["_id"],
                "seller": sellers[0]["_id"],
                "admin": "admin",
            },
            offer_link_token=offer["linkToken"],
        )

    return await store.transaction(work)
