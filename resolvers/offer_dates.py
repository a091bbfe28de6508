"""Calendar dates in the API, instants in the store.

A service period is given as a first and a last day (``datetime.date``, in UTC). It is stored
as two instants: ``startsAt``, the first day at 00:00 UTC, and ``endsAt``, the day *after* the
last day at 00:00 UTC. The end is exclusive, so "has it ended?" is ``now >= endsAt`` and the
last day is fully inside the period.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

_DAY = timedelta(days=1)
MAX_YEARS = 3
"""A service period, an offer's or an authorization's, ends at most this many calendar years
after it starts (and starts at most this many after today): the same rule on every path, so a
seller can never consent beyond what a partner could offer."""


def day_start(day: date) -> datetime:
    """``day`` at 00:00 UTC (what ``startsAt`` stores for a first day)."""
    return datetime.combine(day, time.min, tzinfo=UTC)


def day_after(day: date) -> datetime:
    """The day after ``day`` at 00:00 UTC (what ``endsAt`` stores for a last day)."""
    return day_start(day + _DAY)


def first_day(starts_at: datetime) -> date:
    """The first day of a period stored as ``starts_at``."""
    return starts_at.astimezone(UTC).date()


def last_day(ends_at: datetime) -> date:
    """The last day of a period whose exclusive end is ``ends_at``."""
    return (ends_at.astimezone(UTC) - _DAY).date()


def years_later(day: date, years: int) -> date:
    """The same calendar day ``years`` later; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)
