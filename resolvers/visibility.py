"""Who may see which document: every such rule lives here, and nowhere else. A document the
viewer may not see behaves as if it did not exist (a list hanging off it reads as empty), so
these rules are applied wherever a document is loaded for a caller."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from datastore.enums import PartnerStatus, ServiceStatus, ServiceType
from datastore.ids import type_of
from resolvers.errors import PublicError, QueryErrorCode
from resolvers.identity import Viewer

Document = Mapping[str, Any]


def sees_partner_privately(viewer: Viewer, partner_id: str) -> bool:
    """The partner itself and admins see everything a partner owns."""
    return viewer.is_admin or viewer.partner_id == partner_id


def sees_seller_privately(viewer: Viewer, seller_id: str) -> bool:
    return viewer.is_admin or viewer.seller_id == seller_id


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


def is_party(viewer: Viewer, document: Document) -> bool:
    """The partner and (when it has one) the seller a document concerns, and admins: who sees
    an authorization, a request, and the history of anything."""
    return (
        viewer.is_admin
        or (viewer.partner_id is not None and viewer.partner_id == document.get("partnerId"))
        or (viewer.seller_id is not None and viewer.seller_id == document.get("sellerId"))
    )


def sees_offer_privately(viewer: Viewer, offer: Document) -> bool:
    """An offer made for one seller: whom it is for and the contact prefilled for that seller
    are for the seller, the partner and admins, never for others holding the link. An offer
    for whoever holds the link has nothing private of a seller."""
    return offer.get("sellerId") is None or is_party(viewer, offer)


def sees_history(viewer: Viewer, subject: Document) -> bool:
    """Every change of an object is for the parties to it: a service's, an offer's or an
    application's partner; an authorization's or a request's seller and partner; admins."""
    return is_party(viewer, subject)


def sees_lists_of(viewer: Viewer, owner: Document) -> bool:
    """Lists hanging off a partner, a seller or an offer (authorizations, requests): the
    owner (an offer's partner) and admins; anyone else reads them empty."""
    kind = type_of(owner["_id"])
    if kind == "Seller":
        return sees_seller_privately(viewer, owner["_id"])
    if kind == "Partner":
        return sees_partner_privately(viewer, owner["_id"])
    return sees_partner_privately(viewer, owner["partnerId"])


def own_lists_owner(viewer: Viewer) -> tuple[str, str] | None:
    """Whose lists a root field (``authorizations``, ``requests``) shows: a seller's or a
    partner's own, or (``None``) everyone's, for admins; nobody else has lists."""
    if viewer.is_admin:
        return None
    if viewer.seller_id:
        return ("seller", viewer.seller_id)
    if viewer.partner_id:
        return ("partner", viewer.partner_id)
    raise PublicError(
        "sign in as a seller or a partner to read your lists", QueryErrorCode.FORBIDDEN
    )


def sees_node(viewer: Viewer, type_name: str, document: Document, partner: Document | None) -> bool:
    """Whether ``node(id:)`` shows a document (``partner``: a service's, else unused)."""
    if type_name == "Partner":
        return can_see_partner(viewer, document)
    if type_name == "Service":
        return can_see_service(viewer, document, partner)
    if type_name in ("CategoryApplication", "ServiceOffer"):
        # A seller reads an offer through its link token, never by id.
        return sees_partner_privately(viewer, document["partnerId"])
    if type_name in ("Authorization", "SellerRequest"):
        return is_party(viewer, document)
    return can_see_seller_item(viewer, document)


def event_scope(viewer: Viewer) -> dict[str, str] | None:
    """The part of the event log ``viewer`` may follow, as a store filter: a partner's or a
    seller's own events, all of them for admins; ``None`` for anonymous callers."""
    if viewer.is_admin:
        return {}
    if viewer.partner_id is not None:
        return {"partnerId": viewer.partner_id}
    if viewer.seller_id is not None:
        return {"sellerId": viewer.seller_id}
    return None
