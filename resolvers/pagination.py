"""Relay connection arguments turned into keyset windows, and cursors."""

from __future__ import annotations

import base64
import math
from datetime import datetime
from typing import Any

from datastore.codec import from_json, to_json
from datastore.paging import Page
from datastore.store import Sort, full_sort
from resolvers.errors import PublicError, QueryErrorCode

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
# What both stores hold as an integer: BSON's and SQLite's signed 64 bits.
_MIN_INT, _MAX_INT = -(2**63), 2**63 - 1


def encode_cursor(values: list[Any], tag: str | None = None) -> str:
    """An opaque cursor for keyset ``values``.

    ``tag`` names the ordering the values belong to, for listings whose order depends on
    arguments (a sort key, a search): their cursors are refused under any other ordering.
    """
    payload: dict[str, Any] = {"k": values} if tag is None else {"k": values, "t": tag}
    return base64.urlsafe_b64encode(to_json(payload).encode()).decode().rstrip("=")


def decode_cursor(
    cursor: str, sort: Sort, argument: str, tag: str | None = None
) -> tuple[Any, ...]:
    """The keyset values of ``cursor``; a cursor from another listing is refused."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = from_json(base64.urlsafe_b64decode(padded.encode()).decode())
        values = payload["k"]
        cursor_tag = payload.get("t")
    except (ValueError, KeyError, TypeError) as e:
        # ValueError covers bad base64, bad UTF-8, bad JSON and a malformed "$date" alike.
        raise PublicError(
            f"`{argument}` is not a valid cursor", QueryErrorCode.INVALID_CURSOR
        ) from e
    if not isinstance(values, list) or len(values) != len(full_sort(sort)) or cursor_tag != tag:
        raise PublicError(
            f"`{argument}` is not a cursor of this list", QueryErrorCode.INVALID_CURSOR
        )
    if not all(_is_value(value) for value in values):
        # A cursor is client input that reaches store filters: values only, never an
        # operator object, a list or a number the stores cannot hold.
        raise PublicError(f"`{argument}` is not a valid cursor", QueryErrorCode.INVALID_CURSOR)
    return tuple(values)


def _is_value(value: Any) -> bool:
    """Whether ``value`` is something a listing sorts by: a scalar or a date."""
    if value is None or isinstance(value, bool | str | datetime):
        return True
    if isinstance(value, int):
        return _MIN_INT <= value <= _MAX_INT
    if isinstance(value, float):
        return math.isfinite(value)
    return False


def _check_size(value: int | None, argument: str) -> None:
    if value is not None and not 0 <= value <= MAX_PAGE_SIZE:
        raise PublicError(
            f"`{argument}` must be between 0 and {MAX_PAGE_SIZE}, got {value}",
            QueryErrorCode.INVALID_PAGE_SIZE,
            maxPageSize=MAX_PAGE_SIZE,
        )


def page_from_args(
    sort: Sort,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    *,
    tag: str | None = None,
) -> Page:
    """The window that ``first/after/last/before`` select in a listing sorted by ``sort``.

    ``tag``: the ordering cursors must have been made for (see :func:`encode_cursor`).
    """
    _check_size(first, "first")
    _check_size(last, "last")
    if first is not None and last is not None:
        raise PublicError("pass `first` or `last`, not both", QueryErrorCode.INVALID_PAGE_SIZE)
    after_keys = decode_cursor(after, sort, "after", tag) if after else None
    before_keys = decode_cursor(before, sort, "before", tag) if before else None
    if last is not None:
        return Page(size=last, after=after_keys, before=before_keys, backwards=True)
    size = DEFAULT_PAGE_SIZE if first is None else first
    return Page(size=size, after=after_keys, before=before_keys)
