"""The demo data set: partners of every type across regions, their approved categories and
services, and sellers with shops and TikTok accounts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from datastore import collections as c
from datastore.catalog import ServiceCategory, get_catalog
from datastore.codec import Document, utc_now
from datastore.enums import (
    REGION_MARKETS,
    LinkedStatus,
    Market,
    PartnerStatus,
    PartnerType,
    Region,
    SellerKind,
    ServiceStatus,
    ServiceType,
)
from datastore.ids import new_id, new_token
from datastore.search import search_fields, words
from datastore.store import ASCENDING, DocumentStore

_PARTNERS: list[tuple[str, PartnerType, Region]] = [
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

_SELLERS: list[tuple[str, SellerKind, Market, bool]] = [
    ("Maple & Pine Home Goods", SellerKind.LOCAL, Market.US, True),
    ("Brighton Beauty Co", SellerKind.LOCAL, Market.GB, True),
    ("Guangzhou Gadget Export", SellerKind.CROSS_BORDER, Market.US, True),
    ("Batik Nusantara", SellerKind.LOCAL, Market.ID, True),
    ("Future Founders (no shop yet)", SellerKind.LOCAL, Market.US, False),
]


def _slug(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())[:18]


def _partner(name: str, partner_type: PartnerType, region: Region, at: Any) -> Document:
    return {
        "_id": new_id("ptn"),
        "name": name,
        "type": partner_type,
        "registrationRegion": region,
        "targetMarkets": list(REGION_MARKETS[region]),
        "status": PartnerStatus.ACTIVE,
        "contactEmail": f"hello@{_slug(name)}.example",
        "searchTerms": words(f"{name} hello@{_slug(name)}.example"),
        "createdAt": at,
        "updatedAt": at,
    }


def _application(partner: Document, category: ServiceCategory, market: Market, at: Any) -> Document:
    return {
        "_id": new_id("cap"),
        "partnerId": partner["_id"],
        "categoryId": category.id,
        "market": market,
        "status": "APPROVED",
        "reason": "Demo data: approved on creation.",
        "createdAt": at,
        "updatedAt": at,
    }


def _service(
    partner: Document,
    category: ServiceCategory,
    market: Market,
    service_type: ServiceType,
    status: ServiceStatus,
    at: Any,
) -> Document:
    live = status is ServiceStatus.LIVE
    # A partner may have a public and a custom service in one category: name them apart.
    plan = " (custom plan)" if service_type is ServiceType.CUSTOM else ""
    name = f"{category.name}{plan} by {partner['name']}"
    description = (
        f"{partner['name']} delivers {category.name.lower()} for sellers in "
        f"{market.value}. {category.definition.splitlines()[0]}"
    )
    return {
        "_id": new_id("svc"),
        "partnerId": partner["_id"],
        "name": name,
        "type": service_type,
        "status": status,
        "categoryId": category.id,
        "market": market,
        "description": description,
        # Demo partners are all active, so live public services are listed in the store.
        "listed": live and service_type is ServiceType.PUBLIC,
        "publishedAt": at if live else None,
        # Live demo services count as reviewed: switching one Off and On needs no new review.
        "needsReview": not live,
        **search_fields(name, description, partner["name"]),
        "highlights": ["Dedicated account manager", "Weekly performance report"],
        "pricing": "From USD 499 per month",
        "contactEmail": partner["contactEmail"],
        "authorizationLinkToken": new_token() if live else None,
        "createdAt": at,
        "updatedAt": at,
    }


def build_demo_documents() -> dict[str, list[Document]]:
    """The demo documents by collection; the first partner and seller are the demo callers."""
    catalog = get_catalog()
    start = utc_now() - timedelta(days=60)
    documents: dict[str, list[Document]] = {
        c.PARTNERS: [],
        c.CATEGORY_APPLICATIONS: [],
        c.SERVICES: [],
        c.SELLERS: [],
        c.SHOPS: [],
        c.TIKTOK_ACCOUNTS: [],
        c.SERVICE_OFFERS: [],
    }
    for index, (name, partner_type, region) in enumerate(_PARTNERS):
        at = start + timedelta(hours=index)
        partner = _partner(name, partner_type, region, at)
        documents[c.PARTNERS].append(partner)
        market = REGION_MARKETS[region][-1] if region is Region.CN_HK else REGION_MARKETS[region][0]
        offered = catalog.eligible_for(partner_type, region, [market])
        # Three ordinary categories, plus Shop Registration where the region offers it, so the
        # demo shows referral links too.
        ordinary = [row for row in offered if not catalog.is_shop_registration(row)][:3]
        eligible = ordinary + [row for row in offered if catalog.is_shop_registration(row)]
        for position, category in enumerate(eligible):
            documents[c.CATEGORY_APPLICATIONS].append(_application(partner, category, market, at))
            if catalog.is_shop_registration(category):
                plan = [(ServiceType.CUSTOM, ServiceStatus.LIVE)]
            else:
                plan = [
                    [
                        (ServiceType.PUBLIC, ServiceStatus.LIVE),
                        (ServiceType.CUSTOM, ServiceStatus.LIVE),
                    ],
                    [(ServiceType.PUBLIC, ServiceStatus.LIVE)],
                    [(ServiceType.PUBLIC, ServiceStatus.DRAFT)],
                ][position]
            for offset, (service_type, status) in enumerate(plan):
                when = at + timedelta(minutes=10 * position + offset)
                documents[c.SERVICES].append(
                    _service(partner, category, market, service_type, status, when)
                )
    for index, (name, kind, market, has_shop) in enumerate(_SELLERS):
        at = start + timedelta(days=1, hours=index)
        seller = {
            "_id": new_id("slr"),
            "name": name,
            "kind": kind,
            "market": market,
            "hasShopAccount": has_shop,
            "searchTerms": words(name),
            "createdAt": at,
            "updatedAt": at,
        }
        documents[c.SELLERS].append(seller)
        if has_shop:
            documents[c.SHOPS].append(
                {
                    "_id": new_id("shp"),
                    "sellerId": seller["_id"],
                    "name": f"{name} Official",
                    "market": market,
                    "createdAt": at,
                }
            )
        handle = "@" + _slug(name)
        documents[c.TIKTOK_ACCOUNTS].append(
            {
                "_id": new_id("tta"),
                "sellerId": seller["_id"],
                "handle": handle,
                "linkedHandle": handle,
                "linkedStatus": LinkedStatus.LINKED,
                "linkedAt": at,
                "createdAt": at,
            }
        )
    documents[c.SERVICE_OFFERS].append(_open_offer(documents[c.PARTNERS][0], documents[c.SERVICES]))
    return documents


def _open_offer(partner: Document, services: list[Document]) -> Document:
    """An open offer from the first demo partner, so a demo seller can accept one at once."""
    live = [
        s["_id"]
        for s in services
        if s["partnerId"] == partner["_id"] and s["status"] == ServiceStatus.LIVE
    ][:2]
    today = utc_now().replace(hour=0, minute=0, second=0, microsecond=0)
    return {
        "_id": new_id("ofr"),
        "partnerId": partner["_id"],
        "serviceIds": live,
        "startsAt": today,
        "endsAt": today + timedelta(days=91),
        "contact": {"name": "Demo seller contact", "email": "seller@demo.example"},
        "settings": {
            "authorizeObject": "SHOP_AND_TTUID",
            "ticketAuthorization": True,
            "tspAccess": True,
            "dataCompassAccess": False,
        },
        "linkToken": new_token(),
        "status": "OPEN",
        "createdAt": utc_now(),
        "updatedAt": utc_now(),
    }


async def demo_subjects(store: DocumentStore) -> dict[str, str]:
    """Whom demo tokens act as, by role name: the oldest partner and seller, and an admin."""
    oldest = [("createdAt", ASCENDING)]
    partners = await store.find(c.PARTNERS, sort=oldest, limit=1)
    sellers = await store.find(c.SELLERS, sort=oldest, limit=1)
    subjects = {"admin": "admin"}
    if partners:
        subjects["partner"] = partners[0]["_id"]
    if sellers:
        subjects["seller"] = sellers[0]["_id"]
    return subjects


@dataclass(frozen=True)
class DemoSeed:
    """Whom demo tokens act as (by role name), and the link of the demo's open offer."""

    subjects: dict[str, str]
    offer_link_token: str


LiveHook = Callable[[DocumentStore, Document], Awaitable[object]]


async def seed_demo(
    store: DocumentStore, *, only_if_empty: bool, on_live: LiveHook | None = None
) -> DemoSeed | None:
    """Insert the demo data set in one transaction; ``None`` if skipped because the store
    already holds partners and ``only_if_empty`` is set.

    ``on_live`` runs for every live service inside the transaction, as publishing would run it
    (it is how live Shop Registration services get their referral links)."""
    documents = build_demo_documents()

    async def work() -> bool:
        if only_if_empty and await store.count(c.PARTNERS) > 0:
            return False
        for collection, items in documents.items():
            for document in items:
                stored = await store.insert(collection, document)
                if on_live and collection == c.SERVICES and stored["status"] == ServiceStatus.LIVE:
                    await on_live(store, stored)
        return True

    if not await store.transaction(work):
        return None
    return DemoSeed(
        subjects={
            "partner": documents[c.PARTNERS][0]["_id"],
            "seller": documents[c.SELLERS][0]["_id"],
            "admin": "admin",
        },
        offer_link_token=documents[c.SERVICE_OFFERS][0]["linkToken"],
    )
