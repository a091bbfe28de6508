"""What each recorded change adds to the insight counters, and where counters are kept.

One function, :func:`change_of`, reads a history entry (every status change records one, in
its transaction) and the subject it is about, and says which figures it moves. The live
counter (:mod:`resolvers.insight_counters`) and the rebuild (:mod:`resolvers.insight_rebuild`)
both use it, so a rebuild counts exactly what was counted live.

Where. Counters are kept per *scope* and UTC day: a partner (``p:<id>``), a service
(``s:<id>``) and the platform (``x:<market>|<partner type>|<category>``, each part possibly
``*``: the eight combinations, so any filter an admin sets reads one scope). Inside a day,
each figure is counted per quarter hour (96 slots, kept sparse: see :func:`amounts_of`):
every time zone in use today is a whole number of quarter hours from UTC (India +5:30, Nepal
+5:45, Chatham +12:45), so days, weeks and months in any of them are sums of whole slots.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import product
from typing import Any

SLOT = timedelta(minutes=15)
SLOTS_PER_DAY = 96

OFFERS_CREATED = "offersCreated"
LINK_OPENS = "linkOpens"
OFFERS_ACCEPTED = "offersAccepted"
GRANTED_FROM_OFFER = "grantedFromOffer"
GRANTED_FROM_SERVICE_LINK = "grantedFromServiceLink"
GRANTED_FROM_STORE = "grantedFromStore"
RENEWED = "renewed"
CANCELED = "canceled"
EXPIRED = "expired"
CLOSED = "closed"
REQUESTS_RECEIVED = "requestsReceived"
REQUESTS_ACCEPTED = "requestsAccepted"
REQUESTS_REJECTED = "requestsRejected"
ACTIVE_CHANGE = "activeChange"
"""+1 when an authorization becomes ACTIVE, -1 when it stops being: the running gauge."""

FIGURES = (
    OFFERS_CREATED,
    LINK_OPENS,
    OFFERS_ACCEPTED,
    GRANTED_FROM_OFFER,
    GRANTED_FROM_SERVICE_LINK,
    GRANTED_FROM_STORE,
    RENEWED,
    CANCELED,
    EXPIRED,
    CLOSED,
    REQUESTS_RECEIVED,
    REQUESTS_ACCEPTED,
    REQUESTS_REJECTED,
    ACTIVE_CHANGE,
)
REQUEST_FIGURES = frozenset({REQUESTS_RECEIVED, REQUESTS_ACCEPTED, REQUESTS_REJECTED})
"""Requests name a partner, not a service: per service, market or category they are unknown."""

_GRANTED_BY_CHANNEL = {
    "SERVICE_OFFER": GRANTED_FROM_OFFER,
    "SERVICE_LINK": GRANTED_FROM_SERVICE_LINK,
    "STORE": GRANTED_FROM_STORE,
}
_ENDED = {"CANCELED": CANCELED, "EXPIRED": EXPIRED, "CLOSED": CLOSED}
_REQUEST_MOVES = {
    "CREATED": REQUESTS_RECEIVED,
    "ACCEPTED": REQUESTS_ACCEPTED,
    "REJECTED": REQUESTS_REJECTED,
    # Request moves recorded as verbs before history used the past tense.
    "ACCEPT": REQUESTS_ACCEPTED,
    "REJECT": REQUESTS_REJECTED,
}

BINS_PER_DOUBLING = 8
"""Offer-to-acceptance times are kept in log-scale bins 2^(1/8) wide (about 9%): a median over
any range is read from summed histograms, to within half a bin (about 4.4%)."""


@dataclass(frozen=True)
class Change:
    """What one recorded change adds: ``figures`` to the partner and each of ``service_ids``."""

    at: datetime
    partner_id: str
    service_ids: Sequence[str]
    figures: Mapping[str, int]
    acceptance_seconds: float | None = None


@dataclass(frozen=True)
class Dimensions:
    """What a platform scope is filtered by: the partner's type, each service's market and
    category (``services``: service id -> (market, category id))."""

    partner_type: str
    services: Mapping[str, tuple[str, str]] = field(default_factory=dict)


def change_of(entry: Mapping[str, Any], subject: Mapping[str, Any]) -> Change | None:
    """The figures a history ``entry`` about ``subject`` moves (``None`` for the others)."""
    kind = str(entry["subjectId"]).partition("_")[0]
    action = str(entry["action"])
    at: datetime = entry["createdAt"]
    partner_id = subject.get("partnerId")
    if not partner_id:
        return None
    if kind == "ofr" and action in ("CREATED", "ACCEPTED"):
        services = list(subject.get("serviceIds") or [])
        if action == "CREATED":
            return Change(at, partner_id, services, {OFFERS_CREATED: 1})
        waited = (at - subject["createdAt"]).total_seconds()
        return Change(at, partner_id, services, {OFFERS_ACCEPTED: 1}, max(waited, 0.0))
    if kind == "aut":
        services = [subject["serviceId"]]
        if action == "AUTHORIZED":
            channel = ((entry.get("changes") or {}).get("channel") or {}).get("to")
            granted = _GRANTED_BY_CHANNEL.get(str(channel), GRANTED_FROM_STORE)
            return Change(at, partner_id, services, {granted: 1, ACTIVE_CHANGE: 1})
        if action == "RENEWED":
            return Change(at, partner_id, services, {RENEWED: 1})
        if action in _ENDED:
            return Change(at, partner_id, services, {_ENDED[action]: 1, ACTIVE_CHANGE: -1})
        return None
    if kind == "req" and action in _REQUEST_MOVES:
        return Change(at, partner_id, [], {_REQUEST_MOVES[action]: 1})
    return None


def link_open(at: datetime, partner_id: str, service_ids: Sequence[str]) -> Change:
    """A visitor's first open of an offer's link page that day."""
    return Change(at, partner_id, list(service_ids), {LINK_OPENS: 1})


def partner_scope(partner_id: str) -> str:
    return f"p:{partner_id}"


def service_scope(service_id: str) -> str:
    return f"s:{service_id}"


def platform_scope(market: str | None, partner_type: str | None, category: str | None) -> str:
    return f"x:{market or '*'}|{partner_type or '*'}|{category or '*'}"


NEW_SCOPES_PER_SERVICE = 7
"""Counter scopes a change about one more service may add: the service's own, and the six
platform scopes that name its market or its category."""
SHARED_SCOPES = 3
"""Counter scopes every change of one partner shares: the partner's, and the two platform
scopes that name neither a market nor a category."""


def scopes_of(change: Change, dimensions: Dimensions) -> list[str]:
    """Every scope ``change`` counts in, each once."""
    scopes = [partner_scope(change.partner_id)]
    scopes += [service_scope(s) for s in change.service_ids]
    described = [dimensions.services[s] for s in change.service_ids if s in dimensions.services]
    pairs = described or [("", "")]
    platform: dict[str, None] = {}
    for market, category in pairs:
        for m, t, k in product((market, None), (dimensions.partner_type, None), (category, None)):
            platform[platform_scope(m, t, k)] = None
    return [*scopes, *platform]


def slot_of(at: datetime) -> tuple[str, int]:
    """The UTC day (``YYYY-MM-DD``) and quarter-hour slot (0..95) of ``at``."""
    return at.date().isoformat(), (at.hour * 60 + at.minute) // 15


def bin_of(seconds: float) -> str:
    return f"b{math.floor(BINS_PER_DOUBLING * math.log2(max(seconds, 1.0)))}"


def bin_middle(name: str) -> float:
    """The geometric middle of an acceptance-time bin, in seconds."""
    return float(2 ** ((int(name[1:]) + 0.5) / BINS_PER_DOUBLING))


def amounts_of(change: Change, slot: int) -> dict[str, int]:
    """What ``change`` adds to one counter document, as the paths it increments.

    Each figure of a day is a sparse map of the quarter hours it moved in (``q<slot>``,
    96 at most, so a busy day's document stays bounded), and so is each acceptance-time
    bin's histogram: a change is counted by incrementing paths, never by rewriting a list,
    which lets a transaction count without reading the counter documents first."""
    amounts = {f"counts.{figure}.q{slot}": amount for figure, amount in change.figures.items()}
    if change.acceptance_seconds is not None:
        amounts[f"acceptance.{bin_of(change.acceptance_seconds)}.q{slot}"] = 1
    return amounts


def add_amounts(target: dict[str, int], amounts: Mapping[str, int]) -> None:
    """Sum ``amounts`` (paths to amounts) into ``target`` (in place)."""
    for path, amount in amounts.items():
        target[path] = target.get(path, 0) + amount


def apply_amounts(document: dict[str, Any], amounts: Mapping[str, int]) -> None:
    """Add ``amounts`` to a counter document held in memory, as the store's increment does
    (the rebuild's way of counting exactly what was counted live)."""
    for path, amount in amounts.items():
        root, figure, slot = path.split(".")
        slots = document.setdefault(root, {}).setdefault(figure, {})
        slots[slot] = slots.get(slot, 0) + amount


def slot_number(name: str) -> int:
    """The quarter hour a ``q<slot>`` key names."""
    return int(name[1:])


def day_end_gauge(document: Mapping[str, Any]) -> int:
    """Active authorizations at the end of a counter document's day."""
    moves: Mapping[str, int] = document.get("counts", {}).get(ACTIVE_CHANGE) or {}
    return int(document["base"]) + sum(moves.values())


def counter_id(scope: str, day: str) -> str:
    return f"{scope}|{day}"


def services_named(changes: Iterable[Change]) -> set[str]:
    return {s for change in changes for s in change.service_ids}
