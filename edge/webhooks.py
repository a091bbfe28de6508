"""Webhook delivery: each partner endpoint receives the events it subscribed to, POSTed as JSON
and signed, in log order, at least once.

Each endpoint keeps a cursor (the last position it acknowledged with a 2xx). A worker leases an
endpoint (a version-guarded write of ``leaseUntil``, so two workers in two processes never send
to one endpoint at once), sends the next events one at a time, and moves the cursor after each
success. A failure or timeout stops that endpoint's delivery until ``nextAttemptAt`` (exponential
backoff from the configured first delay); once it has failed for the give-up period (24 h by
default) it is DISABLED with the reason. Every attempt is recorded as a delivery the partner can
read (status code or error).

Each endpoint's host is resolved once per round and every event of the round goes to the
address checked (``edge.webhook_destination``); redirects are not followed (a 3xx is a failure).

Signature: ``X-TSP-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``;
receivers recompute it over the raw body and reject stale timestamps. ``X-TSP-Event-Id`` (also
``id`` in the body) is the key to deduplicate redeliveries.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import ssl
import time
from datetime import datetime, timedelta
from typing import Any

import httpx

from datastore import collections as c
from datastore.codec import utc_now
from datastore.documents import EventDocument, WebhookDocument
from datastore.ids import new_id
from datastore.store import ASCENDING, DocumentStore, VersionConflictError
from edge.stream_settings import StreamSettings
from edge.webhook_destination import Destination, Resolver, system_resolver
from resolvers.round_failures import RoundFailures
from resolvers.webhooks import WebhookStatus

logger = logging.getLogger("tsp.webhooks")

_BATCH = 50
_ERROR_LENGTH = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-TSP-Signature`` header value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def payload_of(event: EventDocument) -> dict[str, Any]:
    """The JSON body of one event."""
    return {
        "id": event["_id"],
        "type": event["type"],
        "position": event["position"],
        "occurredAt": event["createdAt"].isoformat(),
        "subjectId": event["subjectId"],
        "partnerId": event.get("partnerId"),
        "sellerId": event.get("sellerId"),
        "changes": event.get("changes"),
    }


class WebhookWorker:
    """Delivers due events to every active endpoint of ``store``; ``resolve`` looks host names
    up (the system resolver unless given), ``tls`` verifies receivers' certificates (httpx's
    trusted authorities unless given)."""

    def __init__(
        self,
        store: DocumentStore,
        settings: StreamSettings,
        *,
        resolve: Resolver = system_resolver,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.resolve = resolve
        # Built once: loading the trusted authorities for every endpoint and round would cost
        # more than the deliveries (SSL_CERT_FILE/SSL_CERT_DIR name an operator's own bundle).
        self.tls = tls or httpx.create_ssl_context()
        self.owner = new_id("dlv")  # this worker's lease name

    async def run_forever(self) -> None:
        """Deliver until cancelled; a failing round is logged, never fatal."""
        failures = RoundFailures(logger, "webhook delivery")
        while True:
            try:
                await self.run_once()
                failures.succeeded()
            except Exception:
                failures.failed()
            await asyncio.sleep(self.settings.webhook_poll_seconds)

    async def run_once(self) -> int:
        """One round: every due endpoint gets what it can take now; returns events delivered."""
        now = utc_now()
        hooks = await self.store.find(c.WEBHOOKS, {"status": WebhookStatus.ACTIVE})
        due = [
            h
            for h in hooks
            if (h.get("nextAttemptAt") is None or h["nextAttemptAt"] <= now)
            and (h.get("leaseUntil") is None or h["leaseUntil"] <= now)
        ]
        done = await asyncio.gather(*(self._drain(h) for h in due))
        return sum(done)

    async def _drain(self, hook: WebhookDocument) -> int:
        lease = timedelta(seconds=self.settings.webhook_timeout_seconds * 2 + 5)
        try:
            hook = await self.store.update(
                c.WEBHOOKS,
                hook["_id"],
                expected_version=hook["version"],
                changes={"leaseUntil": utc_now() + lease, "leaseOwner": self.owner},
            )
        except VersionConflictError:
            return 0  # another worker has it (or it changed): next round
        delivered = 0
        destination = Destination(hook["url"], self.settings.webhook_allowed_hosts, self.resolve)
        # A client of its own: its connections are to this endpoint's address under this
        # endpoint's name (a shared pool could reuse one across names served at one address);
        # no proxy from the environment, which would connect to the name itself.
        client = httpx.AsyncClient(follow_redirects=False, trust_env=False, verify=self.tls)
        try:
            while True:
                events = await self.store.find(
                    c.EVENTS,
                    {
                        "partnerId": hook["partnerId"],
                        "position": {"$gt": hook["cursor"]},
                        "type": {"$in": hook["types"]},
                    },
                    sort=[("position", ASCENDING)],
                    limit=_BATCH,
                    # The cursor moves past what is delivered: never past an event a
                    # failover may still undo (its position would be taken again).
                    durable=True,
                )
                for event in events:
                    ok, hook = await self._deliver(client, destination, hook, event, lease)
                    if not ok:
                        return delivered
                    delivered += 1
                if len(events) < _BATCH:
                    return delivered
        except VersionConflictError:
            return delivered  # deleted or changed meanwhile: the next round sees it afresh
        finally:
            await client.aclose()
            with contextlib.suppress(VersionConflictError):
                await self.store.update(
                    c.WEBHOOKS,
                    hook["_id"],
                    expected_version=hook["version"],
                    changes={"leaseUntil": None, "leaseOwner": None},
                )

    async def _deliver(
        self,
        client: httpx.AsyncClient,
        destination: Destination,
        hook: WebhookDocument,
        event: EventDocument,
        lease: timedelta,
    ) -> tuple[bool, WebhookDocument]:
        body = json.dumps(payload_of(event), separators=(",", ":")).encode()
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "tsp-gateway-webhooks",
            "X-TSP-Event-Id": event["_id"],
            "X-TSP-Event-Type": event["type"],
            "X-TSP-Signature": signature(hook["secret"], timestamp, body),
        }
        attempt = int(hook.get("attempts") or 0) + 1
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            route = await destination.route()
            response = await client.post(
                route.url,
                content=body,
                headers={**headers, "Host": route.host_header},
                extensions=route.extensions,
                timeout=self.settings.webhook_timeout_seconds,
            )
            status = response.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except httpx.TimeoutException:
            error = f"timed out after {self.settings.webhook_timeout_seconds:g} s"
        except (httpx.HTTPError, OSError, ValueError) as failure:
            error = (str(failure) or type(failure).__name__)[:_ERROR_LENGTH]
        now = utc_now()
        await self.store.insert(
            c.WEBHOOK_DELIVERIES,
            {
                "_id": new_id("dlv"),
                "webhookId": hook["_id"],
                "eventId": event["_id"],
                "eventType": event["type"],
                "position": event["position"],
                "attempt": attempt,
                "statusCode": status,
                "error": error,
                "succeeded": error is None,
                "durationMs": round((time.perf_counter() - started) * 1000),
                "createdAt": now,
            },
        )
        if error is None:
            changes: dict[str, Any] = {
                "cursor": event["position"],
                "attempts": 0,
                "failingSince": None,
                "nextAttemptAt": None,
                "lastDeliveredAt": now,
                "leaseUntil": now + lease,
            }
            return True, await self._save(hook, changes)
        failing_since: datetime = hook.get("failingSince") or now
        if (now - failing_since).total_seconds() >= self.settings.webhook_give_up_seconds:
            reason = (
                f"disabled after failing since {failing_since.isoformat()}: last attempt {error}"
            )
            changes = {"status": WebhookStatus.DISABLED, "disabledReason": reason}
            logger.warning("webhook %s disabled: %s", hook["_id"], reason)
        else:
            delay = self.settings.webhook_backoff_seconds * 2 ** min(attempt - 1, 16)
            changes = {"nextAttemptAt": now + timedelta(seconds=delay)}
        changes.update({"attempts": attempt, "failingSince": failing_since})
        return False, await self._save(hook, changes)

    async def _save(self, hook: WebhookDocument, changes: dict[str, Any]) -> WebhookDocument:
        return await self.store.update(
            c.WEBHOOKS,
            hook["_id"],
            expected_version=hook["version"],
            changes={**changes, "updatedAt": utc_now()},
        )
