"""The GraphQL schema: one module per domain, merged here."""

from __future__ import annotations

import strawberry
from strawberry.tools import merge_types

from schema.extensions import MaskUnexpectedErrors
from schema.node import NodeQuery
from schema.partner import Partner, PartnerQuery
from schema.seller import Seller, Shop, TikTokAccount
from schema.service import Service
from schema.service_category import ServiceCategory, ServiceCategoryQuery
from schema.store import StoreQuery
from schema.viewer import ViewerQuery

Query = merge_types(
    "Query", (NodeQuery, ViewerQuery, PartnerQuery, ServiceCategoryQuery, StoreQuery)
)

schema = strawberry.Schema(
    query=Query,
    types=[Partner, Service, ServiceCategory, Seller, Shop, TikTokAccount],
    extensions=[MaskUnexpectedErrors],
)
