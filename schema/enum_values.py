"""What every enum value means, for the schema's readers and code generators.

One table, applied to the registered enums before the schema is built
(:func:`describe_enum_values`); ``tests/test_schema.py`` fails on a value left undescribed.
Error codes share one table (``schema.mutations.CODE_DESCRIPTIONS``, most of it written
here): the same code means the same rule in every payload.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum

from datastore import enums
from resolvers import (
    authorization_queries,
    category_applications,
    identity,
    services,
    store_search,
)
from resolvers.bulk_exports import BulkExportStatus
from resolvers.events import EventType
from resolvers.history import HistoryAction
from resolvers.webhooks import WebhookStatus
from schema.authorization_mutation import RenewalPeriod
from schema.history import HistoryStatus
from schema.mutations import CODE_DESCRIPTIONS, code_enums, describe_codes

_MARKETS = {
    "US": "United States",
    "GB": "United Kingdom",
    "DE": "Germany",
    "IT": "Italy",
    "FR": "France",
    "ES": "Spain",
    "IE": "Ireland",
    "ID": "Indonesia",
    "MY": "Malaysia",
    "VN": "Vietnam",
    "TH": "Thailand",
    "PH": "the Philippines",
    "SG": "Singapore",
    "JP": "Japan",
    "MX": "Mexico",
    "BR": "Brazil",
}
_CURRENCIES = {
    "USD": "US dollar",
    "GBP": "Pound sterling",
    "EUR": "Euro",
    "IDR": "Indonesian rupiah",
    "MYR": "Malaysian ringgit",
    "VND": "Vietnamese dong",
    "THB": "Thai baht",
    "PHP": "Philippine peso",
    "SGD": "Singapore dollar",
    "JPY": "Japanese yen",
    "MXN": "Mexican peso",
    "BRL": "Brazilian real",
    "CNY": "Chinese yuan",
    "HKD": "Hong Kong dollar",
}

ERROR_CODES: dict[str, str] = {
    "INVALID_URL": "The URL is not an absolute http(s) URL (or is too long).",
    "URL_NOT_HTTPS": "The URL must use https (http is allowed for the hosts the gateway's "
    "operator allows: TSP_WEBHOOK_ALLOWED_HOSTS).",
    "WEBHOOK_URL_NOT_ALLOWED": "The URL's host is not on the public internet: a loopback, "
    "private, link-local, multicast, reserved or cloud metadata address in any spelling, or a "
    "local name (the message says which); local receivers are allowed only by the gateway's "
    "operator (TSP_WEBHOOK_ALLOWED_HOSTS).",
    "TOO_MANY_WEBHOOKS": "The partner already has the most webhook endpoints allowed.",
    "NO_EVENT_TYPES": "Name at least one event type.",
    "ACCOUNT_LINKED_ELSEWHERE": "The TikTok account is linked to another seller; it must be "
    "unlinked there first.",
    "ALREADY_APPROVED": "The partner already holds this category in this market.",
    "ALREADY_CLOSED": "The partner is already closed.",
    "ALREADY_REGISTERED": "Your account is already registered, with other details.",
    "ALREADY_UNLINKED": "The TikTok account is already unlinked.",
    "AMOUNT_TOO_LARGE": "The amount is implausibly large (over 10^12).",
    "CATEGORY_NOT_APPROVED": "The partner holds no approved application for this category "
    "and market.",
    "CATEGORY_NOT_ELIGIBLE": "The category is not offered to the partner's type and region.",
    "DATES_OUTSIDE_OFFER": "The chosen dates leave the offer's period.",
    "DATES_OUT_OF_RANGE": "A date is too far ahead: periods span at most three years, and "
    "renewals cannot pass that horizon.",
    "DUPLICATE_MARKET": "The same market is named twice.",
    "DUPLICATE_PARTNER": "The same partner is selected twice.",
    "DUPLICATE_SERVICE": "The same service is listed twice.",
    "END_NOT_AFTER_START": "The end date is not after the start date.",
    "FIELD_LOCKED": "The field cannot change in the service's current state.",
    "IDEMPOTENCY_KEY_REUSED": "The idempotency key was already used with a different input; "
    "send a new key for a new request.",
    "INVALID": "The value breaks a rule stated in the message.",
    "INVALID_ACCOUNT_ID": "Your token's account id is not an id of the kind this needs "
    "(ptn_… for partners, slr_… for sellers).",
    "INVALID_AMOUNT": "The amount is not a finite number (NaN or Infinity).",
    "INVALID_EMAIL": "Not an email address.",
    "INVALID_HANDLE": "Not a TikTok handle (2 to 24 letters, digits, '_' or '.').",
    "INVALID_PHONE": "Not a phone number.",
    "INVALID_TRANSITION": "The object's status does not allow this change.",
    "LISTING_INCOMPLETE": "A public service needs this listing field before review.",
    "LIVE_PUBLIC_NOT_EDITABLE": "A live public service cannot be edited: deactivate it first.",
    "MARKET_NOT_ELIGIBLE": "The market is not a target market of both the partner and the "
    "category.",
    "MARKET_NOT_IN_REGION": "The catalog offers no category in this market to the partner's "
    "type and registration region.",
    "MARKET_REMOVED": "Target markets can only be added, not removed.",
    "NAME_TAKEN": "Another partner is registered under this name.",
    "NEGATIVE_AMOUNT": "The amount is negative.",
    "NOT_ACTIVE": "Only an active authorization can change this way.",
    "NOT_COVERED_BY_AUTHORIZE_OBJECT": "The authorize object does not cover these shops or "
    "accounts.",
    "NOT_CLOSED": "The partner is not closed.",
    "NOT_ENDED": "Only a withdrawn or expired offer can be archived.",
    "NOT_FOUND": "Nothing with this id that you may see.",
    "NOT_OPEN": "Only an OPEN offer can change this way.",
    "NOT_REVIEWING": "The application is not under review.",
    "NO_PARTNERS": "Select at least one partner.",
    "NO_SERVICES": "Keep or offer at least one service.",
    "NO_SHOP_ACCOUNT": "Only sellers with a TikTok Shop account can do this.",
    "OFFER_ALREADY_ACCEPTED": "Another seller has accepted the offer.",
    "OFFER_EXPIRED": "The offer's end date has passed.",
    "OFFER_FOR_ANOTHER_SELLER": "The offer was made for another seller.",
    "OFFER_NOT_FOUND": "No offer behind this link.",
    "OFFER_WITHDRAWN": "The partner withdrew the offer.",
    "OPEN_REQUEST_EXISTS": "You already have an open request with this partner.",
    "PARTNER_CLOSED": "The partner has been removed from the platform.",
    "PARTNER_NOT_FOUND": "No partner with this id.",
    "REASON_REQUIRED": "A reason is required.",
    "REGION_RESTRICTED": "Sellers in your region do this only through a link a partner sends.",
    "REQUIRED": "The field is required.",
    "SERVICE_IN_REVIEW": "The service is in review and cannot change.",
    "SERVICE_REFERENCED": "An offer, authorization or referral link names the service.",
    "SERVICE_NOT_FOUND": "No service with this id among yours.",
    "SERVICE_NOT_IN_OFFER": "The service is not part of the offer.",
    "SERVICE_NOT_LIVE": "The service is not live.",
    "SELLER_NOT_FOUND": "No seller with this id.",
    "SHOP_MARKET_MISMATCH": "A local seller's shops sell in its own market.",
    "SHOP_NOT_FOUND": "Not one of your shops.",
    "SHOP_REGISTRATION_CUSTOM_ONLY": "Shop Registration services can only be CUSTOM.",
    "SHOP_REQUIRED": "The authorize object needs at least one shop.",
    "START_IN_PAST": "The start date is in the past.",
    "TIKTOK_ACCOUNT_NOT_FOUND": "Not one of your TikTok accounts.",
    "TIKTOK_ACCOUNT_REQUIRED": "The authorize object needs at least one TikTok account.",
    "TIKTOK_ACCOUNT_UNLINKED": "The TikTok account is unlinked.",
    "TOO_LONG": "The text is longer than allowed.",
    "TOO_MANY": "More items than allowed.",
    "TOO_MANY_OPEN_REQUESTS": "You have the most open requests allowed; close some first.",
    "TOO_MANY_PARTNERS": "At most ten partners per request form.",
    "TOO_MANY_SERVICES": "An offer holds at most ten services.",
}

DESCRIPTIONS: dict[type[Enum], Mapping[str, str]] = {
    enums.PartnerType: {
        "TSP": "TikTok Shop Partner: agencies that run shops for sellers.",
        "MCN_CAP": "Multi-channel networks and creator agency partners.",
        "AFFILIATE_PARTNER": "Affiliate partners that match sellers with creators.",
    },
    enums.Region: {
        "US": "United States.",
        "CN_HK": "Mainland China and Hong Kong (cross-border).",
        "UK": "United Kingdom.",
        "EU": "European Union.",
        "SEA": "South-East Asia.",
        "JP": "Japan.",
        "MX": "Mexico.",
        "BR": "Brazil.",
    },
    enums.Market: {code: f"{name}." for code, name in _MARKETS.items()},
    enums.Currency: {code: f"{name}." for code, name in _CURRENCIES.items()},
    enums.PartnerStatus: {
        "ACTIVE": "The partner operates.",
        "CLOSED": "Removed from the platform by an admin: its services are delisted.",
    },
    enums.ServiceType: {
        "PUBLIC": "Listed on the App & Service Store after review.",
        "CUSTOM": "Live once published, reached only through its link.",
    },
    enums.ServiceStatus: {
        "DRAFT": "Being written; not visible to sellers.",
        "IN_REVIEW": "Submitted; an admin reviews it.",
        "LIVE": "Published: sellers can authorize it.",
        "REJECTED": "The review refused it; see statusReason.",
        "DEACTIVATED": "Switched off by the partner.",
    },
    enums.SellerKind: {
        "LOCAL": "Sells in its own country.",
        "CROSS_BORDER": "Sells abroad.",
    },
    enums.ReferralLinkKind: {
        "LOCAL": "Onboards local sellers.",
        "CROSS_BORDER": "Onboards cross-border sellers.",
    },
    enums.LinkedStatus: {
        "LINKED": "Linked to the seller.",
        "UNLINKED": "Unlinked by the seller.",
    },
    enums.AuthorizeObject: {
        "SHOP": "The seller's shops.",
        "TTUID": "The seller's TikTok accounts.",
        "SHOP_AND_TTUID": "Both shops and TikTok accounts.",
    },
    enums.OfferStatus: {
        "OPEN": "A seller can accept it.",
        "ACCEPTED": "A seller accepted it.",
        "WITHDRAWN": "The partner withdrew it.",
        "EXPIRED": "Still open when its end date passed.",
    },
    enums.AuthorizationStatus: {
        "ACTIVE": "In force until its end date.",
        "COMPLETED": "Ended on its end date.",
        "CANCELED": "Canceled by the seller, or a TikTok account it covered was unlinked.",
        "CLOSED": "The partner was removed from the platform.",
    },
    enums.AuthorizationChannel: {
        "SERVICE_OFFER": "Accepted from a partner's service offer.",
        "SERVICE_LINK": "Through a service's authorization link.",
        "STORE": "From the App & Service Store.",
    },
    enums.AuthorizationReason: {
        "AUTHORIZED": "Granted by the seller.",
        "RENEWED": "Extended by a renewal.",
        "CANCELED_BY_SELLER": "The seller canceled it.",
        "EXPIRED": "Its end date passed.",
        "PARTNER_REMOVED": "The partner was removed from the platform.",
        "ACCOUNT_UNLINKED": "A TikTok account it covered was unlinked.",
    },
    enums.RequestStatus: {
        "PARTNER_REVIEWING": "Sent; the partner has not answered yet.",
        "PARTNER_ACCEPTED": "The partner accepted; waiting for the seller to authorize.",
        "REJECTED": "The partner rejected it; see statusReason.",
        "CONNECTED": "The seller authorized a service of the partner.",
        "CLOSED": "Closed by the seller or the partner.",
    },
    enums.CompanySize: {
        "SIZE_1_10": "1 to 10 employees.",
        "SIZE_11_50": "11 to 50 employees.",
        "SIZE_51_200": "51 to 200 employees.",
        "SIZE_201_500": "201 to 500 employees.",
        "SIZE_501_1000": "501 to 1,000 employees.",
        "SIZE_OVER_1000": "Over 1,000 employees.",
    },
    enums.ProductCategory: {
        member.name: member.name.replace("_AND_", " & ").replace("_", " ").capitalize() + "."
        for member in enums.ProductCategory
    },
    identity.Role: {
        "PARTNER": "A partner's staff.",
        "SELLER": "A seller's staff.",
        "ADMIN": "A platform admin.",
    },
    category_applications.ApplicationStatus: {
        "REVIEWING": "Waiting for an admin's review.",
        "APPROVED": "The partner may publish services in this category and market.",
        "REJECTED": "Refused; see the reason.",
        "WITHDRAWN": "The partner withdrew it before the review; it may apply again.",
    },
    category_applications.ReviewDecision: {
        "APPROVE": "Approve the application.",
        "REJECT": "Reject it (a reason is required).",
    },
    services.LinkUnavailableReason: {
        "SERVICE_NOT_LIVE": "The service is not live.",
        "PARTNER_CLOSED": "The partner has been removed from the platform.",
    },
    RenewalPeriod: {
        "ONE_MONTH": "One calendar month.",
        "THREE_MONTHS": "Three calendar months.",
        "SIX_MONTHS": "Six calendar months.",
        "TWELVE_MONTHS": "Twelve calendar months.",
    },
    authorization_queries.AuthorizationSortKey: {
        "CREATED_AT": "Newest first.",
        "UPDATED_AT": "Most recently changed first.",
        "ENDS_AT": "Soonest ending first.",
    },
    store_search.StoreSortKey: {
        "RELEVANCE": "Best match for the query first.",
        "NEWEST": "Most recently published first.",
        "NAME": "By name, A to Z.",
    },
}

DESCRIPTIONS[HistoryAction] = {
    "CREATED": "Created.",
    "UPDATED": "Fields edited (see changes).",
    "APPLIED": "A partner applied for a category.",
    "SUBMITTED": "A public service was submitted for review.",
    "PUBLISHED": "Published: the service went live.",
    "APPROVED": "An admin approved it.",
    "REJECTED": "Rejected (by an admin's review or the partner), with a reason.",
    "DEACTIVATED": "The partner switched the service off.",
    "WITHDRAWN": "The partner withdrew the offer or the category application.",
    "ACCEPTED": "Accepted (an offer by a seller, or a request by its partner).",
    "AUTHORIZED": "The seller authorized the partner.",
    "RENEWED": "The authorization's end date moved later.",
    "EXPIRED": "The authorization reached its end date.",
    "CANCELED": "The authorization was canceled.",
    "CLOSED": "Closed (a partner by an admin, a request or an authorization when its "
    "partner was removed).",
    "REOPENED": "An admin reopened a partner closed by mistake.",
    "UNLINKED": "The seller unlinked the TikTok account.",
    "CONNECTED": "The seller authorized a service of the partner the request went to.",
}
DESCRIPTIONS[EventType] = {
    "AUTHORIZATION_GRANTED": "A seller authorized a partner's service.",
    "AUTHORIZATION_RENEWED": "An authorization's end date moved later.",
    "AUTHORIZATION_CANCELED": "The seller canceled an authorization (or unlinked its account).",
    "AUTHORIZATION_COMPLETED": "An authorization reached its end date.",
    "AUTHORIZATION_CLOSED": "An authorization ended because its partner was removed.",
    "AUTHORIZATION_EXPIRING": "An authorization ends within 15 days (sent once per end date).",
    "OFFER_ACCEPTED": "A seller accepted a service offer.",
    "OFFER_WITHDRAWN": "The partner withdrew a service offer.",
    "REQUEST_RECEIVED": "A seller sent a request to the partner.",
    "REQUEST_ACCEPTED": "The partner accepted a seller's request.",
    "REQUEST_REJECTED": "The partner rejected a seller's request, with a reason.",
    "REQUEST_CLOSED": "A request was closed (by its seller, its partner, or with the partner).",
    "REQUEST_CONNECTED": "The seller authorized a service of the partner it asked.",
    "SERVICE_REVIEWED": "An admin approved or rejected a service in review.",
    "CATEGORY_APPLICATION_REVIEWED": "An admin approved or rejected a category application.",
    "BULK_EXPORT_FINISHED": "One of your bulk exports ended: COMPLETED, FAILED or CANCELED.",
}
DESCRIPTIONS[BulkExportStatus] = {
    "CREATED": "Started; waiting for a worker.",
    "RUNNING": "A worker is reading its pages into the file.",
    "COMPLETED": "The file is complete and can be downloaded until expiresAt.",
    "FAILED": "It stopped; errorCode and errorMessage say why. Nothing can be downloaded.",
    "CANCELED": "You canceled it; what it had written was deleted.",
    "EXPIRED": "Its file was deleted at the end of its retention.",
}
ERROR_CODES.update(
    {
        "INVALID_SYNTAX": "The query is not valid GraphQL syntax.",
        "INVALID_QUERY": "The query does not validate against the schema (or cannot be read "
        "page by page: a connection under node, an interface).",
        "NOT_A_QUERY": "A bulk export runs a query, never a mutation or a subscription.",
        "VARIABLES_NOT_SUPPORTED": "A bulk query takes no variables, declared (even unused) or "
        "used: write values inline.",
        "NO_CONNECTION": "The query selects no connection to export (__typename and "
        "introspection fields are none).",
        "MULTIPLE_TOP_LEVEL_FIELDS": "The query selects more than one connection, or fields "
        "beside it, at the root or in the single objects leading to it.",
        "NESTING_TOO_DEEP": "Connections are nested deeper than a bulk export reads.",
        "PAGINATION_ARGUMENT": "A connection is given first/last/after/before where the export "
        "pages itself.",
        "CONNECTION_FIELD": "A connection selects something other than edges { node } or nodes.",
        "CONNECTION_IN_LIST": "A connection sits inside a plain list, which cannot be paged "
        "(refused before anything inside it).",
        "EXPORT_IN_PROGRESS": "You already have a bulk export running.",
        "TOO_MANY_STARTS": "A caller may start one bulk export per minute.",
        "NOT_CANCELABLE": "The export already ended.",
        "MAX_DOCUMENT_LENGTH_EXCEEDED": "The query is longer than the gateway's document "
        "length limit (TSP_MAX_DOCUMENT_LENGTH).",
        "MAX_TOKENS_EXCEEDED": "The query, as written or as the export runs it, has more "
        "tokens than the gateway's limit (TSP_MAX_TOKENS).",
        "MAX_DEPTH_EXCEEDED": "The query nests fields deeper than the gateway's depth limit.",
        "MAX_ALIASES_EXCEEDED": "The query, as written or as the export runs it (with the ids "
        "and pageInfo it adds), has more aliases than the gateway's limit.",
        "MAX_SELECTIONS_EXCEEDED": "The query, as written or as the export runs it, selects "
        "more fields (fragments expanded) than the gateway's limit.",
        "MAX_DIRECTIVES_EXCEEDED": "A selection carries more directives than the gateway's limit.",
        "MAX_ROOT_FIELDS_EXCEEDED": "An operation selects more root fields than the gateway's "
        "limit.",
        "MAX_OPERATIONS_EXCEEDED": "The query holds more operations than the gateway's limit.",
        "INTROSPECTION_DISABLED": "The query selects __schema, or more of __type than a "
        "name lookup (name, kind), and introspection is off on this gateway.",
    }
)
DESCRIPTIONS[WebhookStatus] = {
    "ACTIVE": "Receives events.",
    "DISABLED": "Failed for the whole retry period and receives nothing (see disabledReason); "
    "delete it and register it again once it works.",
}
DESCRIPTIONS[enums.HistoryReasonCode] = {
    **DESCRIPTIONS[enums.AuthorizationReason],
    "AUTHORIZED": "The seller authorized: an authorization granted, the offer it was accepted "
    "from, a request to the partner that became CONNECTED.",
    "WITHDRAWN_BY_PARTNER": "The partner withdrew it (an offer, a category application).",
    "SENT_BY_SELLER": "The seller sent the request.",
    "ACCEPTED_BY_PARTNER": "The partner accepted the request.",
    "REJECTED_BY_PARTNER": "The partner rejected the request (the reason says why).",
    "CLOSED_BY_SELLER": "The seller closed the request.",
    "CLOSED_BY_PARTNER": "The partner closed the request.",
    "APPROVED_BY_ADMIN": "An admin approved it in review (a public service, a category "
    "application).",
    "REJECTED_BY_ADMIN": "An admin rejected it in review (the reason says why).",
    "EXPORT_COMPLETED": "The bulk export wrote its whole file.",
    "EXPORT_FAILED": "The bulk export stopped on an error (its errorCode says which).",
    "CANCELED_BY_OWNER": "Whoever started the bulk export canceled it.",
    "SUBMITTED_BY_PARTNER": "The partner sent the service to review before it is listed.",
    "PUBLISHED_BY_PARTNER": "The partner published the service (no review needed).",
    "DEACTIVATED_BY_PARTNER": "The partner turned the service off.",
    "REOPENED_BY_ADMIN": "An admin reopened the closed partner (the reason says why).",
    "UNLINKED_BY_SELLER": "The seller unlinked the TikTok account.",
}
# A history status means what it means on the subject's own type.
_STATUS_TYPES = {
    enums.PartnerStatus: "Partner",
    enums.ServiceStatus: "Service",
    enums.OfferStatus: "ServiceOffer",
    enums.AuthorizationStatus: "Authorization",
    enums.RequestStatus: "SellerRequest",
    enums.LinkedStatus: "TikTokAccount",
    category_applications.ApplicationStatus: "CategoryApplication",
}
DESCRIPTIONS[HistoryStatus] = {
    value.name: " ".join(
        f"{type_name}: {DESCRIPTIONS[source][value.name]}"
        for source, type_name in _STATUS_TYPES.items()
        if value.name in source.__members__
    )
    for value in HistoryStatus
}

describe_codes(ERROR_CODES)


def describe_enum_values() -> None:
    """Give every value of the registered enums its description (before the schema is
    built; a value missing from the tables keeps none, and the schema test names it). Every
    userError type's codes are described from ``CODE_DESCRIPTIONS``."""
    tables: dict[type[Enum], Mapping[str, str]] = {
        **DESCRIPTIONS,
        **dict.fromkeys(code_enums(), CODE_DESCRIPTIONS),
    }
    for enum_class, table in tables.items():
        definition = getattr(enum_class, "__strawberry_definition__", None)
        if definition is None:
            continue
        for value in definition.values:
            if value.description is None and value.name in table:
                value.description = table[value.name]
