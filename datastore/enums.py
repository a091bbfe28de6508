"""Domain enumerations stored in documents as their string values.

The schema exposes these same enums through ``strawberry.enum``, so a value that is valid in
the API is exactly a value that can be stored.
"""

from __future__ import annotations

from enum import StrEnum


class PartnerType(StrEnum):
    """The three service-based partner programmes (seed 003)."""

    TSP = "TSP"
    MCN_CAP = "MCN_CAP"
    AFFILIATE_PARTNER = "AFFILIATE_PARTNER"


class Region(StrEnum):
    """Where a partner (or a seller) is registered."""

    US = "US"
    CN_HK = "CN_HK"
    UK = "UK"
    EU = "EU"
    SEA = "SEA"
    JP = "JP"
    MX = "MX"
    BR = "BR"


class Market(StrEnum):
    """A country a partner serves or a service targets."""

    US = "US"
    GB = "GB"
    DE = "DE"
    IT = "IT"
    FR = "FR"
    ES = "ES"
    IE = "IE"
    ID = "ID"
    MY = "MY"
    VN = "VN"
    TH = "TH"
    PH = "PH"
    SG = "SG"
    JP = "JP"
    MX = "MX"
    BR = "BR"


EU_MARKETS = (Market.DE, Market.IT, Market.FR, Market.ES, Market.IE)
SEA_MARKETS = (Market.ID, Market.MY, Market.VN, Market.TH, Market.PH, Market.SG)

# The markets a partner registered in each region may target (SPEC.md §2).
REGION_MARKETS: dict[Region, tuple[Market, ...]] = {
    Region.US: (Market.US,),
    Region.CN_HK: (*SEA_MARKETS, Market.GB, Market.US),
    Region.UK: (Market.GB,),
    Region.EU: EU_MARKETS,
    Region.SEA: SEA_MARKETS,
    Region.JP: (Market.JP,),
    Region.MX: (Market.MX,),
    Region.BR: (Market.BR,),
}


class PartnerStatus(StrEnum):
    ACTIVE = "ACTIVE"
    CLOSED = "CLOSED"


class ServiceType(StrEnum):
    PUBLIC = "PUBLIC"
    CUSTOM = "CUSTOM"


class ServiceStatus(StrEnum):
    DRAFT = "DRAFT"
    IN_REVIEW = "IN_REVIEW"
    LIVE = "LIVE"
    REJECTED = "REJECTED"
    DEACTIVATED = "DEACTIVATED"


class SellerKind(StrEnum):
    """Local sellers sell in their own country; cross-border sellers sell abroad."""

    LOCAL = "LOCAL"
    CROSS_BORDER = "CROSS_BORDER"


class ReferralLinkKind(StrEnum):
    """Which sellers a Shop Registration referral link onboards (seed 004)."""

    LOCAL = "LOCAL"
    CROSS_BORDER = "CROSS_BORDER"


class LinkedStatus(StrEnum):
    LINKED = "LINKED"
    UNLINKED = "UNLINKED"


class AuthorizeObject(StrEnum):
    """What a seller authorizes a partner on: its shops, its TikTok accounts (TTUID), or both."""

    SHOP = "SHOP"
    TTUID = "TTUID"
    SHOP_AND_TTUID = "SHOP_AND_TTUID"


class OfferStatus(StrEnum):
    """Stored states of a service offer; EXPIRED is derived from the end date when read."""

    OPEN = "OPEN"
    ACCEPTED = "ACCEPTED"
    WITHDRAWN = "WITHDRAWN"
    EXPIRED = "EXPIRED"


class AuthorizationStatus(StrEnum):
    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    CANCELED = "CANCELED"
    CLOSED = "CLOSED"


class AuthorizationChannel(StrEnum):
    """How the seller reached the authorization."""

    SERVICE_OFFER = "SERVICE_OFFER"
    SERVICE_LINK = "SERVICE_LINK"
    STORE = "STORE"


class AuthorizationReason(StrEnum):
    """Reason codes of authorization changes (SPEC.md §7)."""

    AUTHORIZED = "AUTHORIZED"
    RENEWED = "RENEWED"
    CANCELED_BY_SELLER = "CANCELED_BY_SELLER"
    EXPIRED = "EXPIRED"
    PARTNER_REMOVED = "PARTNER_REMOVED"
    ACCOUNT_UNLINKED = "ACCOUNT_UNLINKED"
