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
_BODY = 26

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
    body = "".join(_ALPHABET[(value >> shift) & 31] for shift in range(125, -1, -5))
    return f"{prefix}_{body[-_BODY:]}"


def type_of(identifier: str) -> str | None:
    """The GraphQL type an id belongs to, or ``None`` when it is malformed or unknown."""
    match = _ID.match(identifier)
    if match is None:
        return None
    return PREFIXES.get(match.group("prefix"))


def new_token() -> str:
    """An unguessable, URL-safe token (192 random bits) for links."""
    return secrets.token_urlsafe(24)
