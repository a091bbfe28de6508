"""Collection names and the indexes declared once for every adapter."""

from __future__ import annotations

from datastore.store import IndexSpec

PARTNERS = "partners"
SELLERS = "sellers"
SHOPS = "shops"
TIKTOK_ACCOUNTS = "tiktok_accounts"
SERVICES = "services"
CATEGORY_APPLICATIONS = "category_applications"
REFERRAL_LINKS = "referral_links"
REFERRAL_CLICKS = "referral_clicks"

ALL_COLLECTIONS = (
    PARTNERS,
    SELLERS,
    SHOPS,
    TIKTOK_ACCOUNTS,
    SERVICES,
    CATEGORY_APPLICATIONS,
    REFERRAL_LINKS,
    REFERRAL_CLICKS,
)

INDEXES: tuple[IndexSpec, ...] = (
    IndexSpec(PARTNERS, ("createdAt",)),
    IndexSpec(PARTNERS, ("name",), unique=True),
    IndexSpec(SHOPS, ("sellerId", "createdAt")),
    IndexSpec(TIKTOK_ACCOUNTS, ("sellerId", "createdAt")),
    IndexSpec(SERVICES, ("partnerId", "createdAt")),
    IndexSpec(SERVICES, ("status", "type", "createdAt")),
    IndexSpec(SERVICES, ("authorizationLinkToken",), unique=True),
    IndexSpec(CATEGORY_APPLICATIONS, ("partnerId", "createdAt")),
    IndexSpec(REFERRAL_LINKS, ("code",), unique=True),
    # One link per kind and service: racing publishes cannot create a second one.
    IndexSpec(REFERRAL_LINKS, ("serviceId", "kind"), unique=True),
    IndexSpec(REFERRAL_CLICKS, ("linkId", "at")),
)
