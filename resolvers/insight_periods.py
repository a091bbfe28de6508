"""The buckets of an insights series: days, weeks or months in the caller's time zone.

Buckets follow the calendar (weeks start on Monday, ISO 8601) and are clipped to the range
asked for, so the first and last week or month may be partial. Each bucket's local midnights
are turned into UTC instants through the IANA database (``zoneinfo``), so a day in
Asia/Tokyo starts at 15:00 UTC the day before and a day in a DST zone may last 23 or 25 hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from resolvers.errors import PublicError, QueryErrorCode

MAX_DAYS = 731
"""A range covers at most two years of days (731, so any two calendar years fit)."""
MAX_SERVICE_IDS = 20
FIRST_DATE, LAST_DATE = date(2000, 1, 1), date(2999, 12, 31)
"""The days a range may name: long before any partner's first change and long after anything
planned, and far enough from the calendar's ends (years 1 and 9999) that a bucket's last day
plus one, its week's Sunday and its midnight in any time zone are still dates."""


class Granularity(StrEnum):
    """How long one bucket of a series is."""

    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"


@dataclass(frozen=True)
class Period:
    """One bucket: local dates ``first``..``last`` (inclusive), UTC ``[starts_at, ends_at)``."""

    first: date
    last: date
    starts_at: datetime
    ends_at: datetime


def zone_of(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; an unknown one is refused with INVALID_TIME_ZONE."""
    try:
        if name in _iana_names():
            return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        pass
    raise PublicError(
        f"timeZone: {name[:64]!r} is not an IANA time zone (such as 'Asia/Tokyo' or 'UTC')",
        QueryErrorCode.INVALID_TIME_ZONE,
        field="timeZone",
    )


@cache
def _iana_names() -> frozenset[str]:
    """The zones of the IANA database. ``ZoneInfo`` opens any file of the system's zone
    folder, ``localtime`` (the server's own zone) and ``posixrules`` among them, which are
    no IANA names: a dashboard asking for one would get the server's zone."""
    return frozenset(available_timezones() - {"localtime", "posixrules"})


def check_range(first: date, last: date) -> None:
    """Refuse days outside :data:`FIRST_DATE`..:data:`LAST_DATE`, ``to`` before ``from`` and
    ranges over :data:`MAX_DAYS` (INVALID_DATE_RANGE)."""
    for name, day in (("from", first), ("to", last)):
        if not FIRST_DATE <= day <= LAST_DATE:
            raise PublicError(
                f"{name}: must be a day from {FIRST_DATE} to {LAST_DATE}",
                QueryErrorCode.INVALID_DATE_RANGE,
                field=name,
            )
    if last < first:
        raise PublicError(
            "to: must not be before from", QueryErrorCode.INVALID_DATE_RANGE, field="to"
        )
    if (last - first).days + 1 > MAX_DAYS:
        raise PublicError(
            f"to: a range covers at most {MAX_DAYS} days (two years)",
            QueryErrorCode.INVALID_DATE_RANGE,
            field="to",
        )


def periods(first: date, last: date, granularity: Granularity, zone: ZoneInfo) -> list[Period]:
    """The buckets of ``first``..``last`` (checked by :func:`check_range` first)."""
    check_range(first, last)
    return [
        Period(start, end, _midnight(start, zone), _midnight(end + timedelta(days=1), zone))
        for start, end in _spans(first, last, granularity)
    ]


def bucket_count(first: object, last: object, granularity: object) -> int:
    """How many buckets a series of these arguments holds (what its cost is computed from);
    0 for arguments the field will refuse."""
    try:
        start, end = date.fromisoformat(str(first)), date.fromisoformat(str(last))
        check_range(start, end)
        return len(_spans(start, end, Granularity(str(granularity or "DAY"))))
    except (ValueError, PublicError):
        return 0


def _spans(first: date, last: date, granularity: Granularity) -> list[tuple[date, date]]:
    spans = []
    start = first
    while start <= last:
        if granularity is Granularity.DAY:
            end = start
        elif granularity is Granularity.WEEK:
            end = start + timedelta(days=6 - start.weekday())
        else:
            following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
            end = following - timedelta(days=1)
        end = min(end, last)
        spans.append((start, end))
        start = end + timedelta(days=1)
    return spans


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)
