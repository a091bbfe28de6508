"""How documents are normalised before they are stored, on every adapter.

Both adapters store the same documents: keys whose value is ``None`` are left out (so "missing"
and "null" never differ between stores), enums become their string values, and datetimes are
timezone-aware UTC truncated to milliseconds, the precision BSON keeps.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import orjson

Document = dict[str, Any]
"""A document of no declared shape, as the adapters read and write it. Domain code never sees
one: the store's reads are typed by the collection they are given (``store.Collection``), so a
document read from ``PARTNERS`` is a ``PartnerDocument`` and a misspelt field fails mypy."""

_DATE_KEY = "$date"
_DATE_MARK = '"$date"'


def utc_now() -> datetime:
    """The current time as stored: UTC, millisecond precision."""
    return normalise_datetime(datetime.now(UTC))


def normalise_datetime(value: datetime) -> datetime:
    """Make ``value`` UTC with millisecond precision; naive datetimes are refused."""
    if value.tzinfo is UTC and value.microsecond % 1000 == 0:
        return value  # as stored already (most are: utc_now(), or read back)
    if value.tzinfo is None:
        raise ValueError("naive datetimes cannot be stored; attach a timezone")
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def normalise_value(value: Any) -> Any:
    """One value as it is stored (see the module docstring)."""
    # The exact types documents are made of first, by identity: every write normalises every
    # value, and isinstance against the abstract Mapping is several times slower.
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict:
        return normalise(value)
    if kind is datetime:
        return normalise_datetime(value)
    if kind is not list and kind is not tuple:
        if isinstance(value, Enum):
            return value.value
        if isinstance(value, datetime):
            return normalise_datetime(value)
        if isinstance(value, Mapping):
            return normalise(value)
    if isinstance(value, list | tuple):
        if all(type(item) in _PLAIN for item in value):
            # Stored as they are (an insight counter's 96 quarter hours): no walk per item.
            return list(value)
        return [normalise_value(item) for item in value]
    return value


# Exactly these types (not their subclasses, such as a StrEnum) are stored as they are.
_PLAIN = frozenset({int, float, str, bool})


def normalise(document: Mapping[str, Any]) -> Document:
    """A document as it is stored (see the module docstring)."""
    # A plain value is kept without a call: most of a document's values are.
    return {
        key: value if type(value) in _PLAIN else normalise_value(value)
        for key, value in document.items()
        if value is not None
    }


def _encode_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return {_DATE_KEY: encode_datetime(value)}
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"cannot store a value of type {type(value).__name__}")


def encode_datetime(value: datetime) -> str:
    """Fixed-width ISO text, so that text order equals time order."""
    return _encoded(normalise_datetime(value))


@functools.lru_cache(maxsize=1024)
def _encoded(value: datetime) -> str:
    # Remembered: a write stores the same few instants many times over (a change's "now" in
    # each of its documents, their history entries and events), and formatting one costs ten
    # times a look-up. isoformat pads the year to four digits, as fromisoformat reads it back.
    return value.isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"


def _decode_object(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and _DATE_KEY in obj:
        # fromisoformat is several times faster than strptime, and decoding is on every read.
        return datetime.fromisoformat(obj[_DATE_KEY])
    return obj


def to_json(document: Mapping[str, Any]) -> str:
    """Compact JSON with datetimes as ``{"$date": "..."}``, as SQLite's json functions print.

    orjson writes it (several times faster than ``json``, the same text); what orjson refuses
    (integers beyond 64 bits, keys that are not strings) is written by ``json``."""
    try:
        return orjson.dumps(
            document, default=_encode_default, option=orjson.OPT_PASSTHROUGH_DATETIME
        ).decode()
    except orjson.JSONEncodeError:
        return json.dumps(
            document, default=_encode_default, separators=(",", ":"), ensure_ascii=False
        )


def to_json_scalar(value: Any) -> Any:
    """A query value as SQLite compares it with ``json_extract`` of a stored field."""
    if isinstance(value, datetime):
        return to_json({_DATE_KEY: encode_datetime(value)})
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bool):
        return int(value)
    return value


def from_json(text: str) -> Document:
    """The inverse of :func:`to_json`.

    orjson parses (several times faster than ``json`` with an object hook, and reading
    documents is most of what a large answer costs), then ``{"$date": ...}`` objects become
    datetimes again (:func:`_revive_document`). Text orjson refuses (``NaN``, integers beyond
    64 bits, which ``json`` writes) is read by ``json``."""
    try:
        parsed: Any = orjson.loads(text)
    except orjson.JSONDecodeError:
        document: Document = json.loads(text, object_hook=_decode_object)
        return document
    if type(parsed) is list:
        _revive_list(parsed)
    elif type(parsed) is dict:
        if len(parsed) == 1 and _DATE_KEY in parsed:
            return _decode_object(parsed)  # type: ignore[no-any-return]
        _revive_document(parsed, text.count(_DATE_MARK))
    return parsed  # type: ignore[no-any-return]


_date_keys: tuple[str, ...] = ()
"""Top-level keys found holding a date so far (``createdAt``, ``updatedAt``, ...)."""
_MAX_DATE_KEYS = 64


def _revive_document(document: dict[str, Any], dates: int) -> None:
    """Turn the ``dates`` date objects of a parsed document back into datetimes.

    A stored document keeps its dates at the top, under a few keys: those are looked up first,
    which for most documents finds every date without walking each value (walking was most
    of the cost of decoding). ``dates`` counts ``"$date"`` in the text: every date object has
    that key, spelt so (a quote inside a string is escaped), so when as many dates are found
    none is left; otherwise the whole document is walked, and its top-level date keys are
    remembered."""
    if not dates:
        return
    for key in _date_keys:
        value = document.get(key)
        if type(value) is dict and len(value) == 1 and _DATE_KEY in value:
            document[key] = datetime.fromisoformat(value[_DATE_KEY])
            dates -= 1
    if dates:
        _learn_date_keys(document)
        _revive(document)


def _learn_date_keys(document: dict[str, Any]) -> None:
    global _date_keys
    found = [
        key
        for key, value in document.items()
        if type(value) is dict and len(value) == 1 and _DATE_KEY in value
    ]
    new = [key for key in found if key not in _date_keys]
    if new and len(_date_keys) < _MAX_DATE_KEYS:
        # Rebound, not changed in place: a decode on another thread iterates a whole tuple.
        _date_keys = (*_date_keys, *new)


def _revive(document: dict[str, Any]) -> dict[str, Any]:
    for key, value in document.items():
        kind = type(value)
        if kind is dict:
            if len(value) == 1 and _DATE_KEY in value:
                document[key] = datetime.fromisoformat(value[_DATE_KEY])
            else:
                _revive(value)
        elif kind is list:
            _revive_list(value)
    return document


def _revive_list(items: list[Any]) -> None:
    for index, value in enumerate(items):
        kind = type(value)
        if kind is dict:
            if len(value) == 1 and _DATE_KEY in value:
                items[index] = datetime.fromisoformat(value[_DATE_KEY])
            else:
                _revive(value)
        elif kind is list:
            _revive_list(value)
