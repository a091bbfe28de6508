"""The domain enums, registered as GraphQL enums.

They are the same Python classes the datastore stores, so an API value is a storable value.
"""

import strawberry

from datastore import enums
from resolvers import identity

strawberry.enum(enums.PartnerType, description="A partner programme.")
strawberry.enum(
    enums.Region,
    description="A registration region: US, China & Hong Kong (CN_HK, cross-border), United "
    "Kingdom, EU, South-East Asia, Japan, Mexico, Brazil.",
)
strawberry.enum(enums.Market, description="A market (country), by ISO 3166 code.")
strawberry.enum(enums.PartnerStatus, description="Whether a partner operates.")
strawberry.enum(
    enums.ServiceType,
    description="PUBLIC services are listed on the App & Service Store after review; CUSTOM "
    "services are live once published and reached only through their link.",
)
strawberry.enum(enums.ServiceStatus, description="Where a service is in its life.")
strawberry.enum(enums.SellerKind, description="Local or cross-border seller.")
strawberry.enum(
    enums.LinkedStatus, description="Whether a TikTok account is still linked to its seller."
)
strawberry.enum(
    enums.ReferralLinkKind,
    description="Which sellers a Shop Registration referral link onboards: LOCAL sellers "
    "(selling in their own country) or CROSS_BORDER sellers.",
)
strawberry.enum(
    enums.AuthorizeObject,
    description="What a seller authorizes a partner on: SHOP (its shops), TTUID (its TikTok "
    "accounts), or SHOP_AND_TTUID (both).",
)
strawberry.enum(
    enums.OfferStatus,
    description="Where a service offer stands: OPEN (a seller can accept it), ACCEPTED, "
    "WITHDRAWN by the partner, or EXPIRED (still open when its end date passed).",
)
strawberry.enum(identity.Role, description="What a caller signs in as.")
strawberry.enum(
    enums.AuthorizationStatus,
    description="ACTIVE; COMPLETED (ended on its end date); CANCELED (by the seller, or a "
    "TikTok account it covered was unlinked); CLOSED (the partner was removed from the platform).",
)
strawberry.enum(enums.AuthorizationChannel, description="How the seller reached the authorization.")
strawberry.enum(enums.AuthorizationReason, description="Why an authorization has its status.")
strawberry.enum(
    enums.RequestStatus,
    description="PARTNER_REVIEWING, then PARTNER_ACCEPTED or REJECTED; CONNECTED once the seller "
    "authorizes a service of the partner; CLOSED by either side.",
)
strawberry.enum(enums.CompanySize, description="Company size (employees).")
strawberry.enum(enums.Currency, description="A currency (ISO 4217).")
strawberry.enum(enums.ProductCategory, description="A TikTok Shop top-level product category.")

# Registered above; the aliases keep them usable as types for mypy.
PartnerType = enums.PartnerType
Region = enums.Region
Market = enums.Market
PartnerStatus = enums.PartnerStatus
ServiceType = enums.ServiceType
ServiceStatus = enums.ServiceStatus
SellerKind = enums.SellerKind
LinkedStatus = enums.LinkedStatus
ReferralLinkKind = enums.ReferralLinkKind
AuthorizeObject = enums.AuthorizeObject
OfferStatus = enums.OfferStatus
Role = identity.Role
AuthorizationStatus = enums.AuthorizationStatus
AuthorizationChannel = enums.AuthorizationChannel
AuthorizationReason = enums.AuthorizationReason
RequestStatus = enums.RequestStatus
CompanySize = enums.CompanySize
Currency = enums.Currency
ProductCategory = enums.ProductCategory
