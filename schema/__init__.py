"""The GraphQL schema: one module per domain, merged here."""

import functools
from collections.abc import Callable, Sequence
from typing import Any

import strawberry
from graphql.execution import Executor
from strawberry.extensions import SchemaExtension
from strawberry.tools import merge_types

from schema.long_lived import long_lived

# The domain modules' types live as long as the process: see schema.long_lived.
with long_lived():
    from schema.authorization import Authorization
    from schema.authorization_mutation import AuthorizationMutation, AuthorizationQuery
    from schema.bulk_export import BulkExportMutation, BulkExportQuery
    from schema.category_application import CategoryApplication, CategoryApplicationMutation
    from schema.enum_values import describe_enum_values
    from schema.error_log import LoggedSchema
    from schema.events import EVENT_TYPES, Subscription
    from schema.extensions import MaskUnexpectedErrors
    from schema.insights import InsightsMutation, InsightsQuery
    from schema.node import NodeQuery
    from schema.partner import Partner, PartnerMutation, PartnerQuery
    from schema.partner_account_mutation import PartnerAccountMutation
    from schema.scalars import SCALAR_OVERRIDES
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
        BulkExportQuery,
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
        BulkExportMutation,
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
        subscription=Subscription,
        types=TYPES,
        scalar_overrides=SCALAR_OVERRIDES,
        extensions=[*extensions, MaskUnexpectedErrors],
        execution_context_class=executor,
    )


@functools.cache
def plain_schema() -> strawberry.Schema:
    """The schema without the gateway layer: for exporting SDL and for tools. Built on first
    use, since a serving process builds its own with the gateway layer and building one takes
    a good share of start-up."""
    return build_schema()


def __getattr__(name: str) -> strawberry.Schema:
    # ``from schema import schema`` still works, building the schema then (PEP 562).
    if name == "schema":
        return plain_schema()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
