"""Moments a client passes to narrow a list (``updatedSince``, ``endsAtFrom``...): refused with
a code when the store could not hold them, never an unexpected error."""

from __future__ import annotations

from datetime import datetime

from datastore.codec import normalise_datetime
from resolvers.errors import PublicError, QueryErrorCode


def check_moment(value: datetime | None, argument: str) -> datetime | None:
    """``value`` as the store compares it (UTC, milliseconds). A moment without a time zone,
    or one that leaves the calendar once in UTC (year 1 at +14:00), is refused."""
    if value is None:
        return None
    try:
        return normalise_datetime(value)
    except (ValueError, OverflowError) as error:
        raise PublicError(
            f"`{argument}` must be a moment with a time zone (e.g. 2025-01-31T00:00:00Z) "
            "within years 1 to 9999 in UTC",
            QueryErrorCode.INVALID_DATETIME,
        ) from error
