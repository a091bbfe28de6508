"""The GraphQL schema: one module per domain, merged here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import strawberry
from graphql.execution import Executor
from strawberry.extensions import SchemaExtension
from strawberry.tools import merge_types

from schema.authorization import Authorization
from schema.authorization_mutation import AuthorizationMutation, AuthorizationQuery
from schema.category_application import CategoryApplication, CategoryApplicationMutation
from schema.enum_values import describe_enum_values
from schema.error_log import LoggedSchema
from schema.events import EVENT_TYPES, EventSubscription
from schema.extensions import MaskUnexpectedErrors
from schema.insights import InsightsMutation, InsightsQuery
from schema.node import NodeQuery
from schema.partner import Partner, PartnerMutation, PartnerQuery
from schema.partner_account_mutation import PartnerAccountMutation
from schema.seller import Seller, Shop, TikTokAccount
from schema.seller_account_mutation import SellerAccountMutation
from schema.seller_list import SellerListQuery
from schema.seller_request import SellerRequest, SellerRequestMutation, SellerRequestQuery
from schema.service import Service
from schema.service_category import ServiceCategory, ServiceCategoryQuery
from schema.service_mutation import ServiceLinkQuery, ServiceMutation
from schema.service_offer import ServiceOffer
from schema.service_offer_mutation import ServiceOfferMutation, ServiceOfferQuery
from schema.store import StoreQuery
from schema.tidying_mutation import TidyingMutation
from schema.viewer import ViewerQuery
from schema.webhooks import WebhookMutation, WebhookQuery

ExtensionFactory = Callable[[], SchemaExtension]

Query = merge_types(
    "Query",
    (
        NodeQuery,
        ViewerQuery,
        PartnerQuery,
        SellerListQuery,
        ServiceCategoryQuery,
        ServiceLinkQuery,
        StoreQuery,
        AuthorizationQuery,
        SellerRequestQuery,
        ServiceOfferQuery,
        WebhookQuery,
        InsightsQuery,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        CategoryApplicationMutation,
        ServiceMutation,
        ServiceOfferMutation,
        PartnerMutation,
        PartnerAccountMutation,
        SellerAccountMutation,
        TidyingMutation,
        AuthorizationMutation,
        SellerRequestMutation,
        WebhookMutation,
        InsightsMutation,
    ),
)

describe_enum_values()
TYPES = [
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
    *EVENT_TYPES,
]


def build_schema(
    extensions: Sequence[ExtensionFactory] = (), *, executor: type[Executor[Any]] | None = None
) -> strawberry.Schema:
    """The schema with ``extensions`` (the gateway layer's) running before error masking,
    executed by ``executor`` (graphql-core's, through Strawberry, if ``None``)."""
    return LoggedSchema(
        query=Query,
        mutation=Mutation,
        subscription=EventSubscription,
        types=TYPES,
        extensions=[*extensions, MaskUnexpectedErrors],
        execution_context_class=executor,
    )


schema = build_schema()
"""The schema without the gateway layer: for exporting SDL and for tools."""
