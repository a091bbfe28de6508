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
from urllib.parse import SplitResult, urlsplit, urlunsplit

from datastore import collections as c
from datastore.codec import utc_now
from datastore.documents import WebhookDeliveryDocument, WebhookDocument
from datastore.ids import new_id
from datastore.store import DESCENDING, DuplicateKeyError
from resolvers.category_applications import held_active_partner
from resolvers.context import Info
from resolvers.events import EventType, last_position
from resolvers.validation import Checks, fail
from resolvers.webhook_targets import Address, AllowedTargets, canonical_host, host_refusal
from resolvers.writes import atomically

MAX_PER_PARTNER = 10
MAX_URL_LENGTH = 2000
DELIVERIES_SHOWN = 20


class WebhookErrorCode(StrEnum):
    NOT_FOUND = "NOT_FOUND"
    INVALID_URL = "INVALID_URL"
    URL_NOT_HTTPS = "URL_NOT_HTTPS"
    WEBHOOK_URL_NOT_ALLOWED = "WEBHOOK_URL_NOT_ALLOWED"
    TOO_MANY_WEBHOOKS = "TOO_MANY_WEBHOOKS"
    NO_EVENT_TYPES = "NO_EVENT_TYPES"
    PARTNER_CLOSED = "PARTNER_CLOSED"


class WebhookStatus(StrEnum):
    ACTIVE = "ACTIVE"
    DISABLED = "DISABLED"


def check_url(checks: Checks, url: str, allowed: AllowedTargets) -> str:
    """A webhook URL: absolute http(s), its host read as a resolver reads it and on the public
    internet unless ``allowed`` (the local receivers of TSP_WEBHOOK_ALLOWED_HOSTS), https unless
    allowed. Returns the URL as stored, its host in canonical form (the worker resolves it again
    at each delivery and connects to the address it checked)."""
    field = ["url"]
    text = url.strip()
    try:
        parts = urlsplit(text)
        host = canonical_host(parts.hostname or "")
        port = parts.port  # a non-numeric or out-of-range port raises here
    except ValueError:
        host, parts, port = None, None, None
    if (
        len(url) > MAX_URL_LENGTH
        or parts is None
        or host is None
        or parts.scheme not in ("http", "https")
        or any(ch.isspace() or not ch.isprintable() or ch == "\\" for ch in text)
    ):
        checks.add(
            field,
            f"url must be an absolute http(s) URL of at most {MAX_URL_LENGTH} characters",
            WebhookErrorCode.INVALID_URL,
        )
        return text
    if "@" in parts.netloc:
        # A password in the URL would be stored, and shown to everyone who lists the
        # partner's subscriptions; a receiver authenticates deliveries by their signature.
        checks.add(
            field,
            "url must not hold a user name or password: verify each delivery's signature",
            WebhookErrorCode.INVALID_URL,
        )
        return text
    refused = host_refusal(host, allowed)
    if refused is not None:
        checks.add(
            field,
            f"url must not point at {refused}: {host} (a local receiver must be listed in "
            "TSP_WEBHOOK_ALLOWED_HOSTS)",
            WebhookErrorCode.WEBHOOK_URL_NOT_ALLOWED,
        )
    elif parts.scheme != "https" and not allowed.allows(host):
        checks.add(field, "url must use https", WebhookErrorCode.URL_NOT_HTTPS)
    return _with_host(parts, host, port)


def _with_host(parts: SplitResult, host: str | Address, port: int | None) -> str:
    shown = f"[{host}]" if isinstance(host, ipaddress.IPv6Address) else str(host)
    netloc = shown + (f":{port}" if port is not None else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


async def create(info: Info, url: str, types: Sequence[EventType]) -> tuple[WebhookDocument, str]:
    """Register an endpoint for the caller's partner; returns it and its signing secret (shown
    this once). Events committed from now on are delivered."""
    context = info.context
    partner_id = context.viewer.partner_id
    assert partner_id is not None  # IsPartner
    checks = Checks()
    stored_url = check_url(checks, url, context.webhook_targets)
    if not types:
        checks.add(["types"], "name at least one event type", WebhookErrorCode.NO_EVENT_TYPES)
    checks.raise_if_any()
    secret = "whsec_" + secrets.token_urlsafe(32)
    store = context.store

    async def work() -> WebhookDocument:
        await held_active_partner(info, WebhookErrorCode.PARTNER_CLOSED)
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
                "url": stored_url,
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
