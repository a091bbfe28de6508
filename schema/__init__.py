"""The GraphQL schema: one module per domain, merged here."""

from __future__ import annotations

import strawberry
from strawberry.tools import merge_types

from schema.authorization import Authorization
from schema.authorization_mutation import AuthorizationMutation, AuthorizationQuery
from schema.category_application import CategoryApplication, CategoryApplicationMutation
from schema.enum_values import describe_enum_values
from schema.extensions import MaskUnexpectedErrors
from schema.node import NodeQuery
from schema.partner import Partner, PartnerMutation, PartnerQuery
from schema.seller import Seller, Shop, TikTokAccount
from schema.seller_request import SellerRequest, SellerRequestMutation, SellerRequestQuery
from schema.service import Service
from schema.service_category import ServiceCategory, ServiceCategoryQuery
from schema.service_mutation import ServiceLinkQuery, ServiceMutation
from schema.service_offer import ServiceOffer
from schema.service_offer_mutation import ServiceOfferMutation, ServiceOfferQuery
from schema.store import StoreQuery
from schema.viewer import ViewerQuery

Query = merge_types(
    "Query",
    (
        NodeQuery,
        ViewerQuery,
        PartnerQuery,
        ServiceCategoryQuery,
        ServiceLinkQuery,
        StoreQuery,
        AuthorizationQuery,
        SellerRequestQuery,
        ServiceOfferQuery,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        CategoryApplicationMutation,
        ServiceMutation,
        ServiceOfferMutation,
        PartnerMutation,
        AuthorizationMutation,
        SellerRequestMutation,
    ),
)

describe_enum_values()
schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    types=[
        Partner,
        Service,
        ServiceCategory,
        Seller,
        Shop,
        TikTokAccount,
        CategoryApplication,
        Authorization,
        ServiceOffer,
        SellerRequest,
    ],
    extensions=[MaskUnexpectedErrors],
)
