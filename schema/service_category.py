"""The service category catalog (seed 003)."""

from typing import Annotated, TypedDict

import strawberry

from datastore.catalog import ServiceCategory as CatalogRow
from datastore.catalog import get_catalog
from datastore.enums import Market, PartnerType, Region
from datastore.paging import Page
from datastore.store import Collection
from resolvers.pagination import page_from_args
from schema.node import Node
from schema.pagination import After, Before, Connection, First, Last, connection_of_items
from schema.roots import query_fields

_SORT = (("position", 1),)


class _Position(TypedDict):
    """What a category's cursor holds: its position in the filtered catalog, and its id."""

    position: int
    _id: str


_CATALOG = Collection("service_categories", _Position)
"""The catalog as a list to page through (it is no stored collection: its rows are data)."""


@strawberry.type(
    description="A service category a partner may apply for and publish services under: one "
    "row of the catalog (partner type x registration region x target markets)."
)
class ServiceCategory(Node):
    partner_type: PartnerType = strawberry.field(description="The partner programme.")
    registration_region: Region = strawberry.field(
        description="The registration region of partners who may use it."
    )
    target_markets: list[Market] = strawberry.field(description="The markets it serves.")
    main_category: str = strawberry.field(description="The main category it is grouped under.")
    name: str = strawberry.field(description="The service category.")
    definition: str = strawberry.field(description="What services in it provide.")
    is_shop_registration: bool = strawberry.field(
        description="A Shop Registration category: custom services with referral links."
    )

    @classmethod
    def from_category(cls, row: CatalogRow) -> "ServiceCategory":
        return cls(
            id=strawberry.ID(row.id),
            partner_type=row.partner_type,
            registration_region=row.registration_region,
            target_markets=list(row.target_markets),
            main_category=row.main_category,
            name=row.name,
            definition=row.definition,
            is_shop_registration=get_catalog().is_shop_registration(row),
        )


def _window(rows: list[CatalogRow], page: Page) -> list[tuple[int, CatalogRow]]:
    numbered = list(enumerate(rows))
    if page.after is not None:
        numbered = [(i, row) for i, row in numbered if i > page.after[0]]
    if page.before is not None:
        numbered = [(i, row) for i, row in numbered if i < page.before[0]]
    if page.backwards:
        numbered.reverse()
    return numbered[: page.size + 1]


@query_fields
@strawberry.type
class ServiceCategoryQuery:
    @strawberry.field(description="The category catalog, filtered; in catalog order.")
    def service_categories(
        self,
        partner_type: Annotated[
            PartnerType | None,
            strawberry.argument(description="Only categories of this partner programme."),
        ] = None,
        registration_region: Annotated[
            Region | None,
            strawberry.argument(description="Only categories for partners registered here."),
        ] = None,
        target_market: Annotated[
            Market | None,
            strawberry.argument(description="Only categories that serve this market."),
        ] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[ServiceCategory]:
        page = page_from_args(_SORT, first, after, last, before, of=_CATALOG)
        rows = get_catalog().find(partner_type, registration_region, target_market)
        window = _window(rows, page)
        positions = {row.id: index for index, row in window}
        items = [ServiceCategory.from_category(row) for _, row in window]
        return connection_of_items(
            items, page, lambda item: [positions[str(item.id)], item.id], total=len(rows)
        )
