"""Relay connection arguments turned into keyset windows, and cursors."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from datastore.codec import from_json, to_json
from datastore.paging import Page
from datastore.store import Sort, full_sort
from resolvers.errors import PublicError, QueryErrorCode

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


def encode_cursor(values: list[Any]) -> str:
    """An opaque cursor for keyset ``values``."""
    return base64.urlsafe_b64encode(to_json({"k": values}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: Sort, argument: str) -> tuple[Any, ...]:
    """The keyset values of ``cursor``; a cursor from another listing is refused."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = from_json(base64.urlsafe_b64decode(padded.encode()).decode())["k"]
    except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise PublicError(
            f"`{argument}` is not a valid cursor", QueryErrorCode.INVALID_CURSOR
        ) from e
    if not isinstance(values, list) or len(values) != len(full_sort(sort)):
        raise PublicError(
            f"`{argument}` is not a cursor of this list", QueryErrorCode.INVALID_CURSOR
        )
    return tuple(values)


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
) -> Page:
    """The window that ``first/after/last/before`` select in a listing sorted by ``sort``."""
    _check_size(first, "first")
    _check_size(last, "last")
    if first is not None and last is not None:
        raise PublicError("pass `first` or `last`, not both", QueryErrorCode.INVALID_PAGE_SIZE)
    after_keys = decode_cursor(after, sort, "after") if after else None
    before_keys = decode_cursor(before, sort, "before") if before else None
    if last is not None:
        return Page(size=last, after=after_keys, before=before_keys, backwards=True)
    size = DEFAULT_PAGE_SIZE if first is None else first
    return Page(size=size, after=after_keys, before=before_keys)
