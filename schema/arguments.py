"""Filter arguments shared by several list fields, described once."""

from __future__ import annotations

from typing import Annotated

import strawberry

from schema.enums import AuthorizationStatus, RequestStatus

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
