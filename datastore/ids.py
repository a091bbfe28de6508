"""Document ids and link tokens.

An id is ``<prefix>_<26 characters>``: the prefix names the type (it doubles as the GraphQL
global id, so ``node(id:)`` knows what to load), the rest is time-ordered then random, so ids
sort by creation time and cannot be guessed.
"""

from __future__ import annotations

import re
import secrets
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case
# Two characters (ten bits) per look-up: a write makes a dozen ids, and one character at a
# time was most of what making one cost.
_PAIRS = [first + second for first in _ALPHABET for second in _ALPHABET]
_PAIR_SHIFTS = tuple(range(120, -1, -10))  # 13 pairs: the body's 26 characters, 130 bits

PREFIXES: dict[str, str] = {
    "ptn": "Partner",
    "slr": "Seller",
    "shp": "Shop",
    "tta": "TikTokAccount",
    "svc": "Service",
    "scat": "ServiceCategory",
    "cap": "CategoryApplication",
    "hst": "HistoryEntry",
    "ofr": "ServiceOffer",
    "acc": "OfferAcceptance",
    "aut": "Authorization",
    "req": "SellerRequest",
    "ref": "ReferralLink",
    "rcl": "ReferralClick",
    "idk": "IdempotencyClaim",
    "evt": "Event",
    "whk": "WebhookSubscription",
    "dlv": "WebhookDelivery",
    "bex": "BulkExport",
}

_ID = re.compile(r"^(?P<prefix>[a-z]{2,5})_(?P<body>[0-9a-z]{6,40})$")


def new_id(prefix: str) -> str:
    """A fresh id of the type named by ``prefix``."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    pairs = _PAIRS
    return prefix + "_" + "".join([pairs[(value >> shift) & 1023] for shift in _PAIR_SHIFTS])


def type_of(identifier: str) -> str | None:
    """The GraphQL type an id belongs to, or ``None`` when it is malformed or unknown."""
    match = _ID.match(identifier)
    if match is None:
        return None
    return PREFIXES.get(match.group("prefix"))


def new_token() -> str:
    """An unguessable, URL-safe token (192 random bits) for links."""
    return secrets.token_urlsafe(24)
