"""Who the caller is."""

import strawberry

from resolvers.context import Info
from schema.enums import Role
from schema.partner import Partner
from schema.roots import query_fields
from schema.seller import Seller


@strawberry.type(description="The caller of this request.")
class Viewer:
    role: Role | None = strawberry.field(description="The caller's role; null when anonymous.")
    partner_id: strawberry.Private[str | None]
    seller_id: strawberry.Private[str | None]

    @strawberry.field(description="The partner the caller acts as, if a partner.")
    async def partner(self, info: Info) -> Partner | None:
        if self.partner_id is None:
            return None
        document = await info.context.loaders.partner_by_id.load(self.partner_id)
        return Partner.from_document(document) if document else None

    @strawberry.field(description="The seller the caller acts as, if a seller.")
    async def seller(self, info: Info) -> Seller | None:
        if self.seller_id is None:
            return None
        document = await info.context.loaders.seller_by_id.load(self.seller_id)
        return Seller.from_document(document) if document else None


@query_fields
@strawberry.type
class ViewerQuery:
    @strawberry.field(description="Who you are: your role and your partner or seller.")
    def viewer(self, info: Info) -> Viewer:
        caller = info.context.viewer
        return Viewer(role=caller.role, partner_id=caller.partner_id, seller_id=caller.seller_id)
