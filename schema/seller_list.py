"""The admins' list of sellers."""

from typing import Annotated

import strawberry

from datastore import collections as c
from datastore.loaders import NEWEST_FIRST
from resolvers import account_lists
from resolvers.context import Info
from resolvers.pagination import page_from_args
from schema.enums import Market, SellerKind
from schema.pagination import After, Before, Connection, First, Last, connection_from
from schema.permissions import IsAdmin
from schema.roots import query_fields
from schema.seller import Seller


@query_fields
@strawberry.type
class SellerListQuery:
    @strawberry.field(
        description="Every seller, newest first (admins only).", permission_classes=[IsAdmin]
    )
    async def sellers(
        self,
        info: Info,
        query: Annotated[
            str | None,
            strawberry.argument(
                description="Whole words, any case, that must all appear in the seller's "
                "business name (at most 200 characters and 10 words, else INVALID_SEARCH)."
            ),
        ] = None,
        kind: Annotated[
            SellerKind | None, strawberry.argument(description="Only sellers of this kind.")
        ] = None,
        market: Annotated[
            Market | None, strawberry.argument(description="Only sellers selling in this market.")
        ] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[Seller] | None:
        page = page_from_args(NEWEST_FIRST, first, after, last, before, of=c.SELLERS)
        result = await account_lists.list_sellers(info, page, query, kind, market)
        return connection_from(result, page, NEWEST_FIRST, Seller.from_document)
