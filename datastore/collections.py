"""Collection names and the indexes declared once for every adapter."""

from __future__ import annotations

from datastore.store import IndexSpec

PARTNERS = "partners"
SELLERS = "sellers"
SHOPS = "shops"
TIKTOK_ACCOUNTS = "tiktok_accounts"
SERVICES = "services"
CATEGORY_APPLICATIONS = "category_applications"
HISTORY = "history"

ALL_COLLECTIONS = (
    PARTNERS,
    SELLERS,
    SHOPS,
    TIKTOK_ACCOUNTS,
    SERVICES,
    CATEGORY_APPLICATIONS,
    HISTORY,
)

INDEXES: tuple[IndexSpec, ...] = (
    IndexSpec(PARTNERS, ("createdAt",)),
    IndexSpec(PARTNERS, ("name",), unique=True),
    IndexSpec(SELLERS, ("createdAt",)),
    IndexSpec(SHOPS, ("sellerId", "createdAt")),
    IndexSpec(TIKTOK_ACCOUNTS, ("sellerId", "createdAt")),
    IndexSpec(SERVICES, ("partnerId", "createdAt")),
    IndexSpec(SERVICES, ("status", "type", "createdAt")),
    IndexSpec(SERVICES, ("authorizationLinkToken",), unique=True),
    # The App & Service Store lists by the denormalised ``listed`` flag, newest or by name.
    IndexSpec(SERVICES, ("listed", "publishedAt")),
    IndexSpec(SERVICES, ("listed", "nameSort")),
    IndexSpec(CATEGORY_APPLICATIONS, ("partnerId", "createdAt")),
    IndexSpec(CATEGORY_APPLICATIONS, ("openKey",), unique=True),
    IndexSpec(SERVICES, ("partnerId", "idempotencyKey"), unique=True),
    IndexSpec(HISTORY, ("subjectId", "createdAt")),
)
