"""Who may see which document. A document the viewer may not see behaves as if it did not
exist, so these rules are applied wherever a document is loaded for a caller."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from datastore.enums import PartnerStatus, ServiceStatus, ServiceType
from resolvers.identity import Viewer

Document = Mapping[str, Any]


def sees_partner_privately(viewer: Viewer, partner_id: str) -> bool:
    """The partner itself and admins see everything a partner owns."""
    return viewer.is_admin or viewer.partner_id == partner_id


def sees_seller_privately(viewer: Viewer, seller_id: str) -> bool:
    return viewer.is_admin or viewer.seller_id == seller_id


def sees_owner_privately(viewer: Viewer, kind: str, owner_id: str) -> bool:
    """Whether ``viewer`` may list what a seller or a partner (``kind``) owns."""
    if kind == "seller":
        return sees_seller_privately(viewer, owner_id)
    return sees_partner_privately(viewer, owner_id)


def can_see_partner(viewer: Viewer, partner: Document) -> bool:
    """Active partners have a public profile; a closed one is visible to itself and admins."""
    return partner.get("status") == PartnerStatus.ACTIVE or sees_partner_privately(
        viewer, partner["_id"]
    )


def is_in_store(service: Document, partner: Document | None) -> bool:
    """Listed on the App & Service Store: live, public, and of an active partner."""
    return (
        service.get("status") == ServiceStatus.LIVE
        and service.get("type") == ServiceType.PUBLIC
        and partner is not None
        and partner.get("status") == PartnerStatus.ACTIVE
    )


def can_see_service(viewer: Viewer, service: Document, partner: Document | None) -> bool:
    return sees_partner_privately(viewer, service["partnerId"]) or is_in_store(service, partner)


def can_see_seller_item(viewer: Viewer, item: Document) -> bool:
    """Sellers, their shops and TikTok accounts are private to the seller (and admins)."""
    return sees_seller_privately(viewer, item.get("sellerId") or item["_id"])
