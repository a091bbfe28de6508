"""Relay connection arguments turned into keyset windows, and cursors."""

from __future__ import annotations

import base64
import math
import types
from datetime import datetime
from functools import cache
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from datastore.codec import from_json, to_json
from datastore.paging import Page
from datastore.store import SCORE, Collection, Sort, full_sort
from resolvers.errors import PublicError, QueryErrorCode

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
# What both stores hold as an integer: BSON's and SQLite's signed 64 bits.
_MIN_INT, _MAX_INT = -(2**63), 2**63 - 1


def encode_cursor(values: list[Any], tag: str) -> str:
    """An opaque cursor for keyset ``values`` of the list tagged ``tag`` (see
    :func:`page_from_args`)."""
    return base64.urlsafe_b64encode(to_json({"k": values, "t": tag}).encode()).decode().rstrip("=")


def cursor_tag(of: Collection[Any], ordering: str | None = None) -> str:
    """What the cursors of a list of ``of`` carry: its collection, and the ``ordering`` for a
    list whose order depends on arguments (a sort key, a search). A cursor is refused by
    any list with another tag: one from another collection, or another order, would skip or
    repeat items (or compare values of different kinds)."""
    return str(of) if ordering is None else f"{of}:{ordering}"


def decode_cursor(
    cursor: str, sort: Sort, argument: str, of: Collection[Any], tag: str
) -> tuple[Any, ...]:
    """The keyset values of ``cursor`` for a list of ``of`` in ``sort`` order tagged ``tag``;
    a cursor of another list, or with values the list's sort keys cannot hold, is refused."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = from_json(base64.urlsafe_b64decode(padded.encode()).decode())
        values = payload["k"]
        cursor_tag = payload.get("t")
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        # ValueError covers bad base64, bad UTF-8, bad JSON and a malformed "$date" alike;
        # TypeError and AttributeError a payload that is JSON but not an object.
        raise PublicError(
            f"`{argument}` is not a valid cursor", QueryErrorCode.INVALID_CURSOR
        ) from e
    keys = full_sort(sort)
    if not isinstance(values, list) or len(values) != len(keys) or cursor_tag != tag:
        raise PublicError(
            f"`{argument}` is not a cursor of this list", QueryErrorCode.INVALID_CURSOR
        )
    kinds = _key_kinds(of)
    if not all(
        _is_value(value) and _is_kind(value, kinds[name])
        for value, (name, _) in zip(values, keys, strict=True)
    ):
        # A cursor is client input that reaches store filters and in-memory comparisons:
        # values of the kinds its keys hold, never an operator object, a list, a number the
        # stores cannot hold or a date where the list sorts by a number.
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


def _is_kind(value: Any, kinds: tuple[type, ...]) -> bool:
    # bool is an int to isinstance, never to a sort key.
    return isinstance(value, kinds) and (bool in kinds or not isinstance(value, bool))


@cache
def _key_kinds(collection: Collection[Any]) -> dict[str, tuple[type, ...]]:
    """The Python types each field of ``collection``'s documents (its shape, a ``TypedDict``)
    may hold, as a sort key reads it: ``None`` too where the field is optional (a missing
    field sorts as null); and the score a search sorts by, a number."""
    shape = collection.shape
    optional: frozenset[str] = getattr(shape, "__optional_keys__", frozenset())
    kinds = {
        name: _kinds_of(hint) + ((type(None),) if name in optional else ())
        for name, hint in get_type_hints(shape).items()
    }
    kinds[SCORE] = (int, float)
    return kinds


def _kinds_of(hint: Any) -> tuple[type, ...]:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        return tuple(kind for arg in get_args(hint) for kind in _kinds_of(arg))
    if origin is Literal:
        return tuple({type(arg) for arg in get_args(hint)})
    if origin is not None:
        return (origin,)  # a list or a mapping: no sort key holds one, _is_value refuses it
    if hint is float:
        return (int, float)  # JSON writes 2.0 as 2
    if isinstance(hint, type) and issubclass(hint, str):
        return (str,)  # an enumeration, as stored
    return (hint,) if isinstance(hint, type) else (object,)


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
    of: Collection[Any],
    ordering: str | None = None,
) -> Page:
    """The window that ``first/after/last/before`` select in a list of ``of`` (whose keys'
    kinds its shape declares) sorted by ``sort``, its cursors tagged (see :func:`cursor_tag`).

    ``ordering``: for a list whose order depends on arguments, which order this one is.
    """
    _check_size(first, "first")
    _check_size(last, "last")
    if first is not None and last is not None:
        raise PublicError("pass `first` or `last`, not both", QueryErrorCode.INVALID_PAGE_SIZE)
    tag = cursor_tag(of, ordering)
    # An empty string is no cursor, and no way to say "from the start" (that is null).
    after_keys = decode_cursor(after, sort, "after", of, tag) if after is not None else None
    before_keys = decode_cursor(before, sort, "before", of, tag) if before is not None else None
    if last is not None:
        return Page(size=last, after=after_keys, before=before_keys, backwards=True, cursor_tag=tag)
    size = DEFAULT_PAGE_SIZE if first is None else first
    return Page(size=size, after=after_keys, before=before_keys, cursor_tag=tag)
