"""What a service's fields must satisfy, and which state changes are legal."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from datastore import collections as c
from datastore.catalog import ServiceCategory, get_catalog
from datastore.documents import PartnerDocument, ServiceDocument
from datastore.enums import Market, ServiceStatus, ServiceType
from datastore.store import DocumentStore
from resolvers.category_applications import ApplicationStatus, check_eligible
from resolvers.validation import Checks, fail


class ServiceErrorCode(StrEnum):
    NOT_FOUND = "NOT_FOUND"
    REQUIRED = "REQUIRED"
    TOO_LONG = "TOO_LONG"
    TOO_MANY = "TOO_MANY"
    INVALID_EMAIL = "INVALID_EMAIL"
    CATEGORY_NOT_ELIGIBLE = "CATEGORY_NOT_ELIGIBLE"
    MARKET_NOT_ELIGIBLE = "MARKET_NOT_ELIGIBLE"
    CATEGORY_NOT_APPROVED = "CATEGORY_NOT_APPROVED"
    SHOP_REGISTRATION_CUSTOM_ONLY = "SHOP_REGISTRATION_CUSTOM_ONLY"
    PARTNER_CLOSED = "PARTNER_CLOSED"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    SERVICE_IN_REVIEW = "SERVICE_IN_REVIEW"
    LIVE_PUBLIC_NOT_EDITABLE = "LIVE_PUBLIC_NOT_EDITABLE"
    FIELD_LOCKED = "FIELD_LOCKED"
    LISTING_INCOMPLETE = "LISTING_INCOMPLETE"
    REASON_REQUIRED = "REASON_REQUIRED"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    SERVICE_REFERENCED = "SERVICE_REFERENCED"


Code = ServiceErrorCode

MAX_NAME = 100
MAX_DESCRIPTION = 5000
MAX_HIGHLIGHTS = 10
MAX_HIGHLIGHT = 200
MAX_PRICING = 500
MAX_EMAIL = 254
MAX_REASON = 1000

# Fields a store listing shows: changing one sends a public service back to review.
LISTING_FIELDS = (
    "name",
    "description",
    "highlights",
    "pricing",
    "contactEmail",
    "categoryId",
    "market",
)

# From which states each action may start.
PUBLISHABLE = (ServiceStatus.DRAFT, ServiceStatus.REJECTED, ServiceStatus.DEACTIVATED)


def check_fields(fields: Mapping[str, Any], *, creating: bool) -> None:
    """Lengths, counts and formats of the given fields (all problems at once)."""
    checks = Checks()
    if creating or "name" in fields:
        checks.text(
            ["name"],
            fields.get("name"),
            max_length=MAX_NAME,
            too_long=Code.TOO_LONG,
            missing=Code.REQUIRED,
        )
    for name, limit in (
        ("description", MAX_DESCRIPTION),
        ("pricing", MAX_PRICING),
        ("contactEmail", MAX_EMAIL),
    ):
        checks.text([name], fields.get(name), max_length=limit, too_long=Code.TOO_LONG)
    checks.email(["contactEmail"], fields.get("contactEmail"), code=Code.INVALID_EMAIL)
    highlights = fields.get("highlights") or []
    if len(highlights) > MAX_HIGHLIGHTS:
        checks.add(["highlights"], f"at most {MAX_HIGHLIGHTS} highlights", Code.TOO_MANY)
    for index, highlight in enumerate(highlights):
        checks.text(
            ["highlights", str(index)],
            highlight,
            max_length=MAX_HIGHLIGHT,
            too_long=Code.TOO_LONG,
            missing=Code.REQUIRED,
        )
    checks.raise_if_any()


def normalise_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Trimmed texts; blank optional texts become absent."""
    cleaned: dict[str, Any] = {}
    for key, value in fields.items():
        if isinstance(value, str):
            value = value.strip() or None
        elif key == "highlights":
            value = [item.strip() for item in value or []]
        cleaned[key] = value
    return cleaned


async def check_category(
    store: DocumentStore,
    partner: PartnerDocument,
    category_id: str,
    market: Market,
    service_type: ServiceType,
) -> ServiceCategory:
    """The category, if the partner may publish a service of ``service_type`` under it."""
    category = check_eligible(partner, get_catalog().get(category_id), market, "categoryId")
    if get_catalog().is_shop_registration(category) and service_type is not ServiceType.CUSTOM:
        raise fail(
            ["type"],
            "Shop Registration services can only be CUSTOM",
            Code.SHOP_REGISTRATION_CUSTOM_ONLY,
        )
    approved = await store.count(
        c.CATEGORY_APPLICATIONS,
        {
            "partnerId": partner["_id"],
            "categoryId": category_id,
            "market": market,
            "status": ApplicationStatus.APPROVED,
        },
    )
    if not approved:
        raise fail(
            ["categoryId"],
            f"you hold no approved application for this category in {market.value}",
            Code.CATEGORY_NOT_APPROVED,
        )
    return category


def missing_listing_fields(service: ServiceDocument) -> list[str]:
    """What a public service lacks before it can be submitted for review."""
    required = ("description", "highlights", "pricing", "contactEmail")
    return [name for name in required if not service.get(name)]


def check_transition(
    service: ServiceDocument, allowed: tuple[ServiceStatus, ...], action: str
) -> None:
    if ServiceStatus(service["status"]) not in allowed:
        names = ", ".join(s.value for s in allowed)
        raise fail(
            ["id"],
            f"cannot {action} a service that is {service['status']} (only from {names})",
            Code.INVALID_TRANSITION,
        )
