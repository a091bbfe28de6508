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


class HistoryReasonCode(StrEnum):
    """Why a change happened, as a code: kept in history entries and in the event log
    (``resolvers.history.entry`` and ``resolvers.events`` refuse anything else). Every event
    that changes a status names one (SPEC.md §7)."""

    AUTHORIZED = "AUTHORIZED"
    RENEWED = "RENEWED"
    CANCELED_BY_SELLER = "CANCELED_BY_SELLER"
    EXPIRED = "EXPIRED"
    PARTNER_REMOVED = "PARTNER_REMOVED"
    ACCOUNT_UNLINKED = "ACCOUNT_UNLINKED"
    WITHDRAWN_BY_PARTNER = "WITHDRAWN_BY_PARTNER"
    SENT_BY_SELLER = "SENT_BY_SELLER"
    ACCEPTED_BY_PARTNER = "ACCEPTED_BY_PARTNER"
    REJECTED_BY_PARTNER = "REJECTED_BY_PARTNER"
    CLOSED_BY_SELLER = "CLOSED_BY_SELLER"
    CLOSED_BY_PARTNER = "CLOSED_BY_PARTNER"
    APPROVED_BY_ADMIN = "APPROVED_BY_ADMIN"
    REJECTED_BY_ADMIN = "REJECTED_BY_ADMIN"
    EXPORT_COMPLETED = "EXPORT_COMPLETED"
    EXPORT_FAILED = "EXPORT_FAILED"
    CANCELED_BY_OWNER = "CANCELED_BY_OWNER"
    SUBMITTED_BY_PARTNER = "SUBMITTED_BY_PARTNER"
    PUBLISHED_BY_PARTNER = "PUBLISHED_BY_PARTNER"
    DEACTIVATED_BY_PARTNER = "DEACTIVATED_BY_PARTNER"
    REOPENED_BY_ADMIN = "REOPENED_BY_ADMIN"
    UNLINKED_BY_SELLER = "UNLINKED_BY_SELLER"


class RequestStatus(StrEnum):
    """A seller's request to one partner (seed 002, "My request")."""

    PARTNER_REVIEWING = "PARTNER_REVIEWING"
    PARTNER_ACCEPTED = "PARTNER_ACCEPTED"
    REJECTED = "REJECTED"
    CONNECTED = "CONNECTED"
    CLOSED = "CLOSED"


OPEN_REQUEST_STATUSES = (RequestStatus.PARTNER_REVIEWING, RequestStatus.PARTNER_ACCEPTED)


class CompanySize(StrEnum):
    """The request form's company size dropdown (employees)."""

    SIZE_1_10 = "SIZE_1_10"
    SIZE_11_50 = "SIZE_11_50"
    SIZE_51_200 = "SIZE_51_200"
    SIZE_201_500 = "SIZE_201_500"
    SIZE_501_1000 = "SIZE_501_1000"
    SIZE_OVER_1000 = "SIZE_OVER_1000"


class Currency(StrEnum):
    """Currencies of the markets TikTok Shop sells in (ISO 4217)."""

    USD = "USD"
    GBP = "GBP"
    EUR = "EUR"
    IDR = "IDR"
    MYR = "MYR"
    VND = "VND"
    THB = "THB"
    PHP = "PHP"
    SGD = "SGD"
    JPY = "JPY"
    MXN = "MXN"
    BRL = "BRL"
    CNY = "CNY"
    HKD = "HKD"


class ProductCategory(StrEnum):
    """TikTok Shop's top-level product categories, as the form's dropdown lists them."""

    WOMENSWEAR_AND_UNDERWEAR = "WOMENSWEAR_AND_UNDERWEAR"
    MENSWEAR_AND_UNDERWEAR = "MENSWEAR_AND_UNDERWEAR"
    BEAUTY_AND_PERSONAL_CARE = "BEAUTY_AND_PERSONAL_CARE"
    PHONES_AND_ELECTRONICS = "PHONES_AND_ELECTRONICS"
    COMPUTERS_AND_OFFICE_EQUIPMENT = "COMPUTERS_AND_OFFICE_EQUIPMENT"
    HOME_SUPPLIES = "HOME_SUPPLIES"
    KITCHENWARE = "KITCHENWARE"
    TEXTILES_AND_SOFT_FURNISHINGS = "TEXTILES_AND_SOFT_FURNISHINGS"
    HOUSEHOLD_APPLIANCES = "HOUSEHOLD_APPLIANCES"
    FASHION_ACCESSORIES = "FASHION_ACCESSORIES"
    SHOES = "SHOES"
    LUGGAGE_AND_BAGS = "LUGGAGE_AND_BAGS"
    SPORTS_AND_OUTDOOR = "SPORTS_AND_OUTDOOR"
    HEALTH = "HEALTH"
    FOOD_AND_BEVERAGES = "FOOD_AND_BEVERAGES"
    BABY_AND_MATERNITY = "BABY_AND_MATERNITY"
    KIDS_FASHION = "KIDS_FASHION"
    TOYS_AND_HOBBIES = "TOYS_AND_HOBBIES"
    PET_SUPPLIES = "PET_SUPPLIES"
    AUTOMOTIVE_AND_MOTORCYCLE = "AUTOMOTIVE_AND_MOTORCYCLE"
    TOOLS_AND_HARDWARE = "TOOLS_AND_HARDWARE"
    FURNITURE = "FURNITURE"
    HOME_IMPROVEMENT = "HOME_IMPROVEMENT"
    JEWELRY_ACCESSORIES_AND_DERIVATIVES = "JEWELRY_ACCESSORIES_AND_DERIVATIVES"
    BOOKS_MAGAZINES_AND_AUDIO = "BOOKS_MAGAZINES_AND_AUDIO"
    COLLECTIBLES = "COLLECTIBLES"
    PRE_OWNED = "PRE_OWNED"
    VIRTUAL_PRODUCTS = "VIRTUAL_PRODUCTS"
