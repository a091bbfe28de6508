"""Webhook endpoints of a partner: the rules of registering, listing and deleting them.

At most :data:`MAX_PER_PARTNER` per partner, held by a unique index on (partner, slot): of two
racing creations for the last free slot, one insert commits and the other is refused, on every
adapter, without a count that snapshot isolation could let both pass.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Sequence
from enum import StrEnum
from urllib.parse import urlsplit

from datastore import collections as c
from datastore.codec import utc_now
from datastore.documents import WebhookDeliveryDocument, WebhookDocument
from datastore.ids import new_id
from datastore.store import DESCENDING, DuplicateKeyError
from resolvers.context import Info
from resolvers.events import EventType, last_position
from resolvers.validation import Checks, fail
from resolvers.writes import atomically

MAX_PER_PARTNER = 10
MAX_URL_LENGTH = 2000
DELIVERIES_SHOWN = 20
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain")


class WebhookErrorCode(StrEnum):
    NOT_FOUND = "NOT_FOUND"
    INVALID_URL = "INVALID_URL"
    URL_NOT_HTTPS = "URL_NOT_HTTPS"
    PRIVATE_ADDRESS = "PRIVATE_ADDRESS"
    TOO_MANY_WEBHOOKS = "TOO_MANY_WEBHOOKS"
    NO_EVENT_TYPES = "NO_EVENT_TYPES"


class WebhookStatus(StrEnum):
    ACTIVE = "ACTIVE"
    DISABLED = "DISABLED"


def is_private_host(host: str) -> bool:
    """Whether ``host`` names this machine or a private network (by name or address)."""
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(_LOCAL_SUFFIXES):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    return not address.is_global


def check_url(checks: Checks, url: str, *, demo: bool) -> None:
    """A webhook URL: absolute, https outside demo mode, and not a private address outside
    demo mode (the worker checks the resolved address again before each delivery)."""
    field = ["url"]
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        _ = parts.port  # a non-numeric port raises here
    except ValueError:
        host = None
    if (
        len(url) > MAX_URL_LENGTH
        or not host
        or parts.scheme not in ("http", "https")
        or any(ch.isspace() or not ch.isprintable() for ch in url.strip())
    ):
        checks.add(
            field,
            f"url must be an absolute http(s) URL of at most {MAX_URL_LENGTH} characters",
            WebhookErrorCode.INVALID_URL,
        )
        return
    if demo:
        return
    if parts.scheme != "https":
        checks.add(field, "url must use https", WebhookErrorCode.URL_NOT_HTTPS)
    if is_private_host(host):
        checks.add(
            field,
            "url must not point at this machine or a private network",
            WebhookErrorCode.PRIVATE_ADDRESS,
        )


async def create(info: Info, url: str, types: Sequence[EventType]) -> tuple[WebhookDocument, str]:
    """Register an endpoint for the caller's partner; returns it and its signing secret (shown
    this once). Events committed from now on are delivered."""
    context = info.context
    partner_id = context.viewer.partner_id
    assert partner_id is not None  # IsPartner
    checks = Checks()
    check_url(checks, url, demo=context.demo_mode)
    if not types:
        checks.add(["types"], "name at least one event type", WebhookErrorCode.NO_EVENT_TYPES)
    checks.raise_if_any()
    secret = "whsec_" + secrets.token_urlsafe(32)
    store = context.store

    async def work() -> WebhookDocument:
        taken = {
            d["slot"]
            for d in await store.find(c.WEBHOOKS, {"partnerId": partner_id})
            if "slot" in d
        }
        free = [slot for slot in range(MAX_PER_PARTNER) if slot not in taken]
        if not free:
            raise _too_many()
        now = utc_now()
        return await store.insert(
            c.WEBHOOKS,
            {
                "_id": new_id("whk"),
                "partnerId": partner_id,
                "slot": free[0],
                "url": url.strip(),
                "types": sorted({EventType(t).value for t in types}),
                "secret": secret,
                "status": WebhookStatus.ACTIVE,
                # Deliver what happens from now on.
                "cursor": await last_position(store),
                "attempts": 0,
                "createdAt": now,
                "updatedAt": now,
            },
        )

    try:
        return await atomically(store, work), secret
    except DuplicateKeyError as error:
        if error.collection != c.WEBHOOKS:
            raise
        raise _too_many() from error


def _too_many() -> Exception:
    return fail(
        ["url"],
        f"a partner may register at most {MAX_PER_PARTNER} webhook endpoints",
        WebhookErrorCode.TOO_MANY_WEBHOOKS,
    )


async def delete(info: Info, webhook_id: str) -> str:
    """Remove one of the caller's endpoints (its delivery log goes with it)."""
    store, partner_id = info.context.store, info.context.viewer.partner_id
    found = (await store.get_many(c.WEBHOOKS, [webhook_id])).get(webhook_id)
    if found is None or found["partnerId"] != partner_id:
        raise fail(["id"], "no webhook subscription with this id", WebhookErrorCode.NOT_FOUND)

    async def work() -> None:
        await store.delete_many(c.WEBHOOKS, {"_id": webhook_id})
        await store.delete_many(c.WEBHOOK_DELIVERIES, {"webhookId": webhook_id})

    await store.transaction(work)
    return webhook_id


async def of_partner(
    info: Info,
) -> tuple[list[WebhookDocument], dict[str, list[WebhookDeliveryDocument]]]:
    """The caller's endpoints, oldest first, with their latest deliveries (two round trips)."""
    store, partner_id = info.context.store, info.context.viewer.partner_id
    hooks = await store.find(c.WEBHOOKS, {"partnerId": partner_id}, sort=[("createdAt", 1)])
    deliveries = await store.find_grouped(
        c.WEBHOOK_DELIVERIES,
        "webhookId",
        [h["_id"] for h in hooks],
        sort=[("createdAt", DESCENDING)],
        limit_per_group=DELIVERIES_SHOWN,
    )
    return hooks, deliveries
