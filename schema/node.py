"""The ``Node`` interface and the ``node``/``nodes`` lookups by global id."""

from collections.abc import Callable
from typing import Annotated, Any

import strawberry

from resolvers.context import Info
from resolvers.errors import PublicError, QueryErrorCode
from resolvers.nodes import MAX_NODE_IDS, load_visible_nodes
from schema.roots import query_fields


@strawberry.interface(description="An object with a global id, fetchable with `node(id:)`.")
class Node:
    id: strawberry.ID = strawberry.field(description="The global id.")


def _to_node(type_name: str, document: object) -> Node:
    from schema.authorization import Authorization
    from schema.category_application import CategoryApplication
    from schema.partner import Partner
    from schema.seller import Seller, Shop, TikTokAccount
    from schema.seller_request import SellerRequest
    from schema.service import Service
    from schema.service_category import ServiceCategory
    from schema.service_offer import ServiceOffer

    # The id's type, known only at run time, decides which document the loader returned.
    builders: dict[str, Callable[[Any], Node]] = {
        "Partner": Partner.from_document,
        "Service": Service.from_document,
        "Seller": Seller.from_document,
        "Shop": Shop.from_document,
        "TikTokAccount": TikTokAccount.from_document,
        "ServiceCategory": ServiceCategory.from_category,
        "CategoryApplication": CategoryApplication.from_document,
        "Authorization": Authorization.from_document,
        "SellerRequest": SellerRequest.from_document,
        "ServiceOffer": ServiceOffer.from_document,
    }
    return builders[type_name](document)


@query_fields
@strawberry.type
class NodeQuery:
    @strawberry.field(
        description="The object with this global id, or null (with a NOT_FOUND "
        "error) when it does not exist or is not yours to see."
    )
    async def node(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="A global id.")],
    ) -> Node | None:
        found = await load_visible_nodes(info, [str(id)])
        return _to_node(*found[0]) if found[0] else None

    @strawberry.field(
        description=f"The objects with these global ids, in order; null where one is not found "
        f"(at most {MAX_NODE_IDS} ids)."
    )
    async def nodes(
        self,
        info: Info,
        ids: Annotated[list[strawberry.ID], strawberry.argument(description="Global ids.")],
    ) -> list[Node | None]:
        if len(ids) > MAX_NODE_IDS:
            raise PublicError(
                f"`ids` takes at most {MAX_NODE_IDS} ids, got {len(ids)}",
                QueryErrorCode.TOO_MANY_IDS,
            )
        found = await load_visible_nodes(info, [str(i) for i in ids])
        return [_to_node(*item) if item else None for item in found]
