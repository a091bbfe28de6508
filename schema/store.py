"""The App & Service Store: live public services of active partners, for everyone."""

from typing import Annotated

import strawberry

from datastore import collections as c
from resolvers import store_search as resolve
from resolvers.context import Info
from resolvers.pagination import page_from_args
from schema.enums import Market
from schema.pagination import After, Before, Connection, First, Last, connection_from
from schema.roots import query_fields
from schema.service import Service

strawberry.enum(
    resolve.StoreSortKey,
    description="How the store orders services. RELEVANCE (the default): services whose name "
    "holds more of the query's words first, then the newest; without a query the same as "
    "NEWEST. NEWEST: most recently published first. NAME: by name, A to Z, ignoring case.",
)

# Registered above; the alias keeps it usable as a type for mypy.
StoreSortKey = resolve.StoreSortKey


@query_fields
@strawberry.type
class StoreQuery:
    @strawberry.field(
        description="The App & Service Store: live public services of active partners, the "
        "same for every caller. Cursors belong to one sort order and query."
    )
    async def store(
        self,
        info: Info,
        query: Annotated[
            str | None,
            strawberry.argument(
                description="Whole words, any case, that must all appear in the service's "
                f"name, description or partner name (at most {resolve.MAX_QUERY_LENGTH} "
                f"characters and {resolve.MAX_QUERY_WORDS} words, else INVALID_SEARCH)."
            ),
        ] = None,
        main_category: Annotated[
            str | None,
            strawberry.argument(
                description="Only services in a category under this main category "
                "(for example `Content Management`; any case)."
            ),
        ] = None,
        category: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only services in this ServiceCategory."),
        ] = None,
        market: Annotated[
            Market | None, strawberry.argument(description="Only services for this market.")
        ] = None,
        sort_key: Annotated[
            StoreSortKey, strawberry.argument(description="The order of the services.")
        ] = StoreSortKey.RELEVANCE,
        reverse: Annotated[
            bool, strawberry.argument(description="Reverse the order of `sortKey`.")
        ] = False,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[Service]:
        listing = resolve.store_listing(
            query,
            main_category,
            None if category is None else str(category),
            market,
            sort_key,
            reverse,
        )
        page = page_from_args(
            listing.sort, first, after, last, before, of=c.SERVICES, ordering=listing.tag
        )
        result = await resolve.store_page(info, listing, page)
        return connection_from(
            result, page, listing.sort, Service.from_document, score=listing.score
        )
