"""Filter arguments shared by several list fields, described once."""

from datetime import datetime
from typing import Annotated

import strawberry

from resolvers import authorization_queries as queries
from resolvers.moments import check_moment
from resolvers.nodes import check_id
from schema.enums import AuthorizationStatus, RequestStatus

strawberry.enum(queries.AuthorizationSortKey, description="How to order authorizations.")
AuthorizationSortKey = queries.AuthorizationSortKey

AuthorizationStatusFilter = Annotated[
    list[AuthorizationStatus] | None,
    strawberry.argument(description="Only authorizations in these (effective) states."),
]
ExpiringWithinDays = Annotated[
    int | None,
    strawberry.argument(
        description="Only active authorizations ending within this many days, soonest first."
    ),
]
RequestStatusFilter = Annotated[
    list[RequestStatus] | None, strawberry.argument(description="Only requests in these states.")
]
RequestSellerFilter = Annotated[
    strawberry.ID | None,
    strawberry.argument(description="Only requests from this Seller (a partner's inbox)."),
]
UpdatedSince = Annotated[
    datetime | None,
    strawberry.argument(
        description="Only items changed at or after this moment (for incremental sync: pass "
        "the time of your last sync)."
    ),
]
Reverse = Annotated[bool, strawberry.argument(description="Reverse the order of `sortKey`.")]
SortKeyArgument = Annotated[
    AuthorizationSortKey | None,
    strawberry.argument(
        description="CREATED_AT (newest first, the default), UPDATED_AT (most recently changed "
        "first) or ENDS_AT (soonest ending first, the default with `expiringWithinDays`). A "
        "cursor works only under the order it was made in."
    ),
]


@strawberry.input(description="Narrow an authorization list; every condition must hold.")
class AuthorizationFilter:
    seller_id: strawberry.ID | None = strawberry.field(default=None, description="A Seller id.")
    partner_id: strawberry.ID | None = strawberry.field(default=None, description="A Partner id.")
    service_id: strawberry.ID | None = strawberry.field(default=None, description="A Service id.")
    ends_at_from: datetime | None = strawberry.field(
        default=None, description="Only those ending at or after this moment."
    )
    ends_at_to: datetime | None = strawberry.field(
        default=None, description="Only those ending at or before this moment."
    )
    updated_since: datetime | None = strawberry.field(
        default=None, description="Only those changed at or after this moment."
    )

    def to_query(
        self, sort_key: AuthorizationSortKey | None, reverse: bool
    ) -> queries.AuthorizationQuery:
        """The list query this filter asks for; a malformed id is refused (INVALID_ID)."""
        ids = {
            "sellerId": (self.seller_id, "Seller"),
            "partnerId": (self.partner_id, "Partner"),
            "serviceId": (self.service_id, "Service"),
        }
        for argument, (value, expected) in ids.items():
            if value is not None:
                check_id(str(value), f"filter.{argument}", expected)
        return queries.AuthorizationQuery(
            seller_id=str(self.seller_id) if self.seller_id else None,
            partner_id=str(self.partner_id) if self.partner_id else None,
            service_id=str(self.service_id) if self.service_id else None,
            ends_from=check_moment(self.ends_at_from, "filter.endsAtFrom"),
            ends_to=check_moment(self.ends_at_to, "filter.endsAtTo"),
            updated_since=check_moment(self.updated_since, "filter.updatedSince"),
            sort_key=sort_key,
            reverse=reverse,
        )


AuthorizationFilterArgument = Annotated[
    AuthorizationFilter | None, strawberry.argument(description="Narrow the list.")
]
