"""Reading insight series: the counters of a few scopes over a range, summed into buckets.

A series of any length reads, in two round trips for all its scopes, the counter documents of
the range's UTC days (one per scope and day with activity) and, per scope, the last document
before the range (where the active gauge stood): O(days), never O(authorizations). Only
"expiring within 15 days as of now" reads authorizations, through an index on (partner,
status, end), and only the ones that expire.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from datastore import collections as c
from datastore.catalog import get_catalog
from datastore.codec import utc_now
from datastore.documents import InsightCounterDocument
from datastore.enums import AuthorizationStatus
from datastore.store import DESCENDING, DocumentStore
from resolvers import insight_figures as f
from resolvers.errors import PublicError, QueryErrorCode
from resolvers.insight_periods import Period
from resolvers.nodes import check_id

EXPIRING_WITHIN = timedelta(days=15)
_DAY = timedelta(days=1)
_PAGE = 1_000


@dataclass
class Bucket:
    """One bucket's figures (every :data:`insight_figures.FIGURES` key) and gauge."""

    period: Period
    figures: dict[str, int]
    active_at_end: int = 0


@dataclass
class Series:
    """A scope's buckets and what its whole range adds up to."""

    buckets: list[Bucket]
    totals: dict[str, int]
    acceptance: dict[str, int] = field(default_factory=dict)

    @property
    def conversion(self) -> float | None:
        """Offers accepted per link page opened (distinct visitors a day)."""
        opens = self.totals[f.LINK_OPENS]
        return self.totals[f.OFFERS_ACCEPTED] / opens if opens else None

    @property
    def renewal_rate(self) -> float | None:
        """Of the authorizations that came up for renewal in the range (renewed, or ran to
        their end), the share renewed."""
        due = self.totals[f.RENEWED] + self.totals[f.EXPIRED]
        return self.totals[f.RENEWED] / due if due else None

    @property
    def median_acceptance_seconds(self) -> float | None:
        """The middle offer-to-acceptance time; of an even count, the mean of the two middle
        ones (the lower alone made 0.1 s and 110 s a median of 1 s)."""
        total = sum(self.acceptance.values())
        if not total:
            return None
        middles: list[float] = []
        wanted = [(total - 1) // 2, total // 2]  # 0-based places of the middle times
        seen = 0
        for name in sorted(self.acceptance, key=lambda b: int(b[1:])):
            seen += self.acceptance[name]
            while wanted and wanted[0] < seen:
                middles.append(f.bin_middle(name))
                wanted.pop(0)
        return round(sum(middles) / len(middles), 1)


async def read_series(
    store: DocumentStore, scopes: Sequence[str], periods: Sequence[Period]
) -> dict[str, Series]:
    """Each scope's series over ``periods`` (consecutive buckets, in order)."""
    first_day = periods[0].starts_at.date().isoformat()
    last_day = (periods[-1].ends_at - timedelta(milliseconds=1)).date().isoformat()
    documents = await store.find(
        c.INSIGHT_COUNTERS,
        {"scope": {"$in": list(scopes)}, "day": {"$gte": first_day, "$lte": last_day}},
        sort=[("scope", 1), ("day", 1)],
    )
    before = await store.find_grouped(
        c.INSIGHT_COUNTERS,
        "scope",
        list(scopes),
        {"day": {"$lt": first_day}},
        sort=[("day", DESCENDING)],
        limit_per_group=1,
    )
    by_scope: dict[str, list[InsightCounterDocument]] = {scope: [] for scope in scopes}
    for document in documents:
        by_scope[document["scope"]].append(document)
    return {
        scope: _series(
            by_scope[scope],
            f.day_end_gauge(before[scope][0]) if before.get(scope) else 0,
            periods,
        )
        for scope in scopes
    }


def _series(
    documents: Sequence[InsightCounterDocument], gauge: int, periods: Sequence[Period]
) -> Series:
    """Sum each day's slots into the buckets they fall in (a bucket's part of a day is a
    slice), and follow the active gauge: where the previous day left it, reset to each
    day's ``base``, moved by the day's slots up to a bucket's end."""
    buckets = [Bucket(p, dict.fromkeys(f.FIGURES, 0)) for p in periods]
    starts = [p.starts_at for p in periods]
    acceptance: dict[str, int] = {}
    ended = 0  # buckets whose end the gauge has passed
    for document in documents:
        day_start = datetime.fromisoformat(document["day"]).replace(tzinfo=UTC)
        day_end = day_start + _DAY
        while ended < len(buckets) and buckets[ended].period.ends_at <= day_start:
            buckets[ended].active_at_end = gauge
            ended += 1
        gauge = int(document["base"])
        pieces = _pieces(day_start, day_end, periods, starts)
        counts = document.get("counts", {})
        for figure, slots in counts.items():
            for index, low, high in pieces:
                buckets[index].figures[figure] += _inside(slots, low, high)
        moves = counts.get(f.ACTIVE_CHANGE) or {}
        while ended < len(buckets) and buckets[ended].period.ends_at < day_end:
            cut = _slot(day_start, buckets[ended].period.ends_at)
            buckets[ended].active_at_end = gauge + _inside(moves, 0, cut)
            ended += 1
        gauge += sum(moves.values())
        for _, low, high in pieces:
            for name, counted in document.get("acceptance", {}).items():
                inside = _inside(counted, low, high)
                if inside:
                    acceptance[name] = acceptance.get(name, 0) + inside
    for bucket in buckets[ended:]:
        bucket.active_at_end = gauge
    totals = {figure: sum(b.figures[figure] for b in buckets) for figure in f.FIGURES}
    return Series(buckets, totals, acceptance)


def _inside(slots: Mapping[str, int], low: int, high: int) -> int:
    """What a day's sparse slots (``q<slot>``) hold in slots ``low`` to ``high`` (excluded)."""
    if low == 0 and high >= f.SLOTS_PER_DAY:
        return sum(slots.values())
    return sum(n for name, n in slots.items() if low <= f.slot_number(name) < high)


def _pieces(
    day_start: datetime, day_end: datetime, periods: Sequence[Period], starts: list[datetime]
) -> list[tuple[int, int, int]]:
    """(bucket, first slot, slot after) of each bucket's part of one UTC day."""
    pieces = []
    index = max(bisect_right(starts, day_start) - 1, 0)
    while index < len(periods) and periods[index].starts_at < day_end:
        low = _slot(day_start, periods[index].starts_at)
        high = _slot(day_start, periods[index].ends_at)
        if high > low:
            pieces.append((index, low, high))
        index += 1
    return pieces


def _slot(day_start: datetime, at: datetime) -> int:
    """The first slot of the day at or after ``at`` (0 before the day, 96 after it)."""
    seconds = (at - day_start).total_seconds()
    return min(max(math.ceil(seconds / f.SLOT.total_seconds()), 0), f.SLOTS_PER_DAY)


async def expiring_of_partner(
    store: DocumentStore, partner_id: str, service_ids: Sequence[str] = ()
) -> dict[str | None, int]:
    """Active authorizations of the partner ending within 15 days as of now: under ``None``
    all of them, and per service for ``service_ids``."""
    now = utc_now()
    window = {
        "partnerId": partner_id,
        "status": AuthorizationStatus.ACTIVE,
        "endsAt": {"$gt": now, "$lte": now + EXPIRING_WITHIN},
    }
    counted: dict[str | None, int] = {None: await store.count(c.AUTHORIZATIONS, window)}
    if service_ids:
        grouped = await store.count_grouped(
            c.AUTHORIZATIONS, "serviceId", list(service_ids), window
        )
        counted.update({str(k): v for k, v in grouped.items()})
    return counted


def platform_category(identifier: str | None) -> str | None:
    """The service category a platform series is filtered by: a malformed id is refused
    ``INVALID_ID``, one the catalog does not hold ``NOT_FOUND`` (all-zero figures would pass
    for a category where nothing happened)."""
    if identifier is None:
        return None
    check_id(identifier, "serviceCategoryId", expected="ServiceCategory")
    if get_catalog().get(identifier) is None:
        raise PublicError(
            f"serviceCategoryId: no service category {identifier!r}",
            QueryErrorCode.NOT_FOUND,
            field="serviceCategoryId",
        )
    return identifier


async def expiring_on_platform(
    store: DocumentStore, market: str | None, partner_type: str | None, category: str | None
) -> int:
    """Active authorizations ending within 15 days as of now, platform-wide and filtered by
    the service's market and category and the partner's type (admins)."""
    now = utc_now()
    window: dict[str, Any] = {
        "status": AuthorizationStatus.ACTIVE,
        "endsAt": {"$gt": now, "$lte": now + EXPIRING_WITHIN},
    }
    if not (market or partner_type or category):
        return await store.count(c.AUTHORIZATIONS, window)
    counted = 0
    after: list[Any] | None = None
    sort = [("status", 1), ("endsAt", 1)]
    while True:
        page = await store.find(c.AUTHORIZATIONS, window, sort=sort, limit=_PAGE, after=after)
        services = await store.get_many(c.SERVICES, list({a["serviceId"] for a in page}))
        partners = await store.get_many(c.PARTNERS, list({a["partnerId"] for a in page}))
        counted += sum(
            1
            for a in page
            if _matches(
                services.get(a["serviceId"]),
                partners.get(a["partnerId"]),
                market,
                partner_type,
                category,
            )
        )
        if len(page) < _PAGE:
            return counted
        after = [page[-1]["status"], page[-1]["endsAt"], page[-1]["_id"]]


def _matches(
    service: Mapping[str, Any] | None,
    partner: Mapping[str, Any] | None,
    market: str | None,
    partner_type: str | None,
    category: str | None,
) -> bool:
    if service is None or partner is None:
        return False
    return (
        (market is None or service["market"] == market)
        and (partner_type is None or partner["type"] == partner_type)
        and (category is None or service["categoryId"] == category)
    )
