"""Content negotiation on the ``Accept`` header (RFC 9110, section 12.5.1): which of the media
types the server offers the client prefers; and on ``Accept-Encoding`` (12.5.3), whether a
content coding is acceptable at all.

Written here rather than taken from python-mimeparse, whose ties go to the server's order: a
client listing ``text/event-stream`` first, at the same weight as JSON, means it wants a stream.
"""

from __future__ import annotations

from collections.abc import Sequence

_Range = tuple[str, str, float]  # type, subtype, weight


def preferred_media_type(accept: str, offered: Sequence[str]) -> str | None:
    """The type of ``offered`` the client ranks highest: by weight (``q``), then by where the
    range that matched it stands in the header, then by ``offered``'s own order (so ``*/*``,
    which matches every type alike, picks the first offered). ``None`` when the client accepts
    none of them; the first offered when it sent no ``Accept`` at all."""
    if not accept.strip():
        return offered[0] if offered else None
    ranges = _media_ranges(accept)
    best: tuple[float, int, int] | None = None
    chosen: str | None = None
    for order, media_type in enumerate(offered):
        match = _match(ranges, media_type)
        if match is None:
            continue
        weight, position = match
        rank = (weight, -position, -order)
        if weight > 0 and (best is None or rank > best):
            best, chosen = rank, media_type
    return chosen


def _match(ranges: Sequence[_Range], media_type: str) -> tuple[float, int] | None:
    """The weight and position of the most specific range matching ``media_type``: an exact
    ``type/subtype`` over ``type/*`` over ``*/*``."""
    kind, _, subtype = media_type.partition("/")
    found: tuple[int, float, int] | None = None  # specificity, weight, position
    for position, (range_kind, range_subtype, weight) in enumerate(ranges):
        if range_kind == kind and range_subtype == subtype:
            specificity = 2
        elif range_kind == kind and range_subtype == "*":
            specificity = 1
        elif range_kind == "*" and range_subtype == "*":
            specificity = 0
        else:
            continue
        if found is None or specificity > found[0]:
            found = (specificity, weight, position)
    return None if found is None else (found[1], found[2])


def _media_ranges(accept: str) -> list[_Range]:
    ranges: list[_Range] = []
    for part in accept.split(","):
        media, *parameters = (piece.strip() for piece in part.split(";"))
        kind, slash, subtype = media.lower().partition("/")
        if not slash or not kind or not subtype:
            continue  # not a media range; RFC 9110 lets a server ignore it
        weight = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                weight = _weight(value.strip())
        ranges.append((kind, subtype, weight))
    return ranges


def accepts_coding(accept_encoding: str, coding: str) -> bool:
    """Whether ``Accept-Encoding`` names ``coding`` (any case) with a weight above 0: ``gzip;q=0``
    means "not gzip", not a weak preference for it. A coding the header does not name is not
    offered, ``*`` included (a client asking for ``*`` gets the identity it always accepts)."""
    for part in accept_encoding.split(","):
        name, *parameters = (piece.strip() for piece in part.split(";"))
        if name.lower() != coding:
            continue
        weight = 1.0
        for parameter in parameters:
            key, _, value = parameter.partition("=")
            if key.strip().lower() == "q":
                weight = _weight(value.strip())
        return weight > 0
    return False


def _weight(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        return 0.0
    return min(max(value, 0.0), 1.0) if value == value else 0.0  # NaN counts as 0
