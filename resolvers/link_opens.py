"""Counting an offer's link page opened: once per visitor, offer and UTC day.

The page calls a mutation for it (a query never writes). "Once" is a unique key, not a
read-then-write: the open is stored under ``offer|visitor|day``, so of two opens racing (or a
page reloaded) one insert commits and the other is a duplicate key that counts nothing. The
visitor is the signed-in seller, or else the random id the page keeps for its browser; only a
hash of it is stored. The offer's own partner and admins previewing the link are no visitors.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum

from datastore import collections as c
from datastore.codec import utc_now
from datastore.store import DuplicateKeyError
from resolvers import insight_counters, offers
from resolvers import insight_figures as f
from resolvers.context import Info
from resolvers.validation import fail
from resolvers.visibility import sees_partner_privately

MIN_VISITOR, MAX_VISITOR = 8, 100


class LinkOpenErrorCode(StrEnum):
    """Why an open was not recorded."""

    NOT_FOUND = "NOT_FOUND"
    INVALID_VISITOR = "INVALID_VISITOR"


async def record(info: Info, token: str, visitor_id: str | None) -> bool:
    """Count the caller's open of the offer behind ``token``; ``False`` when it was already
    counted today (or the caller is the offer's partner or an admin)."""
    viewer = info.context.viewer
    offer = await offers.by_link(info, token)
    if offer is None:
        raise fail(["token"], "no offer behind this link", LinkOpenErrorCode.NOT_FOUND)
    if viewer.seller_id:
        who = f"seller:{viewer.seller_id}"
    elif visitor_id is not None and MIN_VISITOR <= len(visitor_id.strip()) <= MAX_VISITOR:
        who = f"visitor:{visitor_id.strip()}"
    elif viewer.role is None:
        raise fail(
            ["visitorId"],
            f"an anonymous visitor sends the page's random id ({MIN_VISITOR} to {MAX_VISITOR} "
            "characters)",
            LinkOpenErrorCode.INVALID_VISITOR,
        )
    else:
        return False
    if sees_partner_privately(viewer, offer["partnerId"]):
        return False
    store, now = info.context.store, utc_now()
    visitor = hashlib.sha256(who.encode()).hexdigest()[:32]

    async def work() -> None:
        await store.insert(
            c.OFFER_LINK_OPENS,
            {
                "_id": f"{offer['_id']}|{visitor}|{now.date().isoformat()}",
                "offerId": offer["_id"],
                "partnerId": offer["partnerId"],
                "at": now,
            },
        )
        await insight_counters.add(store, f.link_open(now, offer["partnerId"], offer["serviceIds"]))

    try:
        await store.transaction(work)
    except DuplicateKeyError as error:
        if error.collection != c.OFFER_LINK_OPENS:
            raise
        return False
    return True
