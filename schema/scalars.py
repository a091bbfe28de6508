"""The custom scalars as clients read them: each says its format in full and links the standard
it follows (``@specifiedBy``), so code generators and validators need not guess.

Strawberry's own ``Date``, ``DateTime`` and ``Decimal`` say one word ("isoformat") and link
nothing; these keep its parsing (a client's input is read as before) and state what is sent.
"""

import dataclasses
import datetime
import decimal

from strawberry.schema.types.base_scalars import (
    DateDefinition,
    DateTimeDefinition,
    DecimalDefinition,
)
from strawberry.types.scalar import ScalarDefinition

RFC_3339_DATES = "https://www.rfc-editor.org/rfc/rfc3339#section-5.6"
"""RFC 3339's grammar of ``full-date`` and ``date-time``."""

XSD_DECIMAL = "https://www.w3.org/TR/xmlschema11-2/#decimal"
"""XML Schema's ``decimal``: a plain decimal numeral as text, with no exponent."""

_DATE = dataclasses.replace(
    DateDefinition,
    description=(
        "A calendar date without a time or time zone, as an RFC 3339 `full-date` string: "
        "`YYYY-MM-DD` (e.g. `2025-01-31`). Sent and accepted in that form."
    ),
    specified_by_url=RFC_3339_DATES,
)

_DATE_TIME = dataclasses.replace(
    DateTimeDefinition,
    description=(
        "A moment, as an RFC 3339 `date-time` string with its offset from UTC: "
        "`YYYY-MM-DDThh:mm:ss[.ffffff]±hh:mm` (e.g. `2025-01-31T09:30:00+00:00`; the server "
        "sends UTC). Accepted with `Z` or any offset; an argument "
        "without an offset is refused with `INVALID_DATETIME`."
    ),
    specified_by_url=RFC_3339_DATES,
)


def _plain_decimal(value: decimal.Decimal) -> str:
    # str() writes large or very small values with an exponent ("1E+3"), which the format
    # promised below does not allow; "f" writes every digit instead.
    return format(value, "f")


_DECIMAL = dataclasses.replace(
    DecimalDefinition,
    description=(
        "An exact decimal number as a string, so that no digit is lost to floating point: "
        "an optional `-`, digits, and a fraction after `.` when it has one (e.g. `25000.50`, "
        "`-1`, `0.5`), never an exponent; the lexical form of XML Schema's `decimal`. "
        "Sent in that form, trailing zeros kept as given. Accepted in that form; exponent "
        "notation (`1e3`) and JSON numbers are read too, as the value they write."
    ),
    specified_by_url=XSD_DECIMAL,
    serialize=_plain_decimal,
)

SCALAR_OVERRIDES: dict[object, ScalarDefinition] = {
    datetime.date: _DATE,
    datetime.datetime: _DATE_TIME,
    decimal.Decimal: _DECIMAL,
}
"""The definitions the schema uses in place of Strawberry's, by Python type."""
