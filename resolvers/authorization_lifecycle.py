"""What ends authorizations besides the seller: time, an unlinked TikTok account, a removed
partner."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from datastore import collections as c
from datastore.documents import AuthorizationDocument, TikTokAccountDocument
from datastore.enums import (
    AuthorizationReason,
    AuthorizationStatus,
    HistoryReasonCode,
    LinkedStatus,
)
from datastore.store import ASCENDING, DocumentStore
from resolvers import bulk_export_runs, events, history, partner_closing
from resolvers.authorization_rules import Code
from resolvers.authorizations import end, expire
from resolvers.context import Context, Info
from resolvers.identity import Viewer
from resolvers.round_failures import RoundFailures
from resolvers.validation import fail
from resolvers.visibility import can_see_seller_item
from resolvers.writes import atomically, items_per_transaction

logger = logging.getLogger("tsp.sweep")


async def sweep_expired(store: DocumentStore, *, batch: int | None = None) -> int:
    """Persist COMPLETED for active authorizations past their end; returns how many.

    Reads never wait for this (they derive COMPLETED from the end date); the sweep makes the
    stored status agree, ``batch`` authorizations per transaction (by default as many as
    ``store.transaction_batch`` writes allow), so one run never holds a long transaction."""
    batch = batch or items_per_transaction(store)
    total = 0
    while True:
        done = await _sweep_batch(Context(store=store, viewer=Viewer(), request_id="sweep"), batch)
        total += done
        if done < batch:
            return total


async def _sweep_batch(context: Context, batch: int) -> int:
    store = context.store

    async def work() -> int:
        due = await store.find(
            c.AUTHORIZATIONS,
            {"status": AuthorizationStatus.ACTIVE, "endsAt": {"$lte": context.now}},
            sort=[("endsAt", 1)],
            limit=batch,
        )
        journal: list[dict[str, Any]] = []
        for authorization in due:
            await expire(context, authorization, journal)
        if journal:
            await history.record_many(store, journal)
        return len(due)

    return await atomically(store, work)


async def unlink_tiktok_account(
    info: Info, account_id: str
) -> tuple[TikTokAccountDocument, list[AuthorizationDocument]]:
    """Mark the account UNLINKED; every active authorization that covered it ends from this
    moment (reason ACCOUNT_UNLINKED). Returns the account and what ended."""
    store, now = info.context.store, info.context.now

    async def work() -> tuple[TikTokAccountDocument, list[AuthorizationDocument]]:
        account = (await store.get_many(c.TIKTOK_ACCOUNTS, [account_id])).get(account_id)
        if account is None or not can_see_seller_item(info.context.viewer, account):
            raise fail(["id"], "no TikTok account with this id", Code.NOT_FOUND)
        if account["linkedStatus"] == LinkedStatus.UNLINKED:
            raise fail(["id"], "this account is already unlinked", Code.ALREADY_UNLINKED)
        unlinked = await store.update(
            c.TIKTOK_ACCOUNTS,
            account_id,
            expected_version=account["version"],
            # Dropping linkedHandle frees the account to be linked again (by anyone).
            changes={
                "linkedStatus": LinkedStatus.UNLINKED,
                "unlinkedAt": now,
                "linkedHandle": None,
            },
        )
        await history.record(
            store,
            subject_id=account_id,
            action="UNLINKED",
            actor=info.context.viewer,
            from_status=LinkedStatus.LINKED,
            to_status=LinkedStatus.UNLINKED,
            reason_code=HistoryReasonCode.UNLINKED_BY_SELLER,
        )
        # Among its seller's (an account is linked to one seller, and a new link is a new
        # account): no index serves "the array holds this id" on SQLite, and the status alone
        # would read every active authorization of the platform.
        covering = await store.find(
            c.AUTHORIZATIONS,
            {
                "sellerId": account["sellerId"],
                "tiktokAccountIds": {"$contains": account_id},
                "status": AuthorizationStatus.ACTIVE,
            },
            sort=[("createdAt", ASCENDING)],
        )
        # SPEC §5: unlinking invalidates every authorization that covered the account, those
        # that also cover shops or other accounts included (the seller authorizes again what
        # should go on).
        ended = [
            await end(
                info.context,
                authorization,
                AuthorizationStatus.CANCELED,
                AuthorizationReason.ACCOUNT_UNLINKED,
            )
            for authorization in covering
            if authorization["endsAt"] > now
        ]
        return unlinked, ended

    return await atomically(store, work)


async def sweep_periodically(
    store: DocumentStore,
    interval_seconds: float,
    *,
    event_retention: timedelta = events.DEFAULT_RETENTION,
) -> None:
    """Run :func:`sweep_expired` now and then every ``interval_seconds`` until cancelled (with
    interrupted partner closes finished, and the event log's expiring notices and pruning); a
    failed sweep is logged and retried on the next tick, never fatal to the gateway."""
    failures = RoundFailures(logger, "authorization sweep")
    while True:
        try:
            swept = await sweep_expired(store)
            if swept:
                logger.info("completed %d expired authorizations", swept)
            finished = await partner_closing.finish_pending(store)
            if finished:
                logger.info("finished %d interrupted partner closes", finished)
            noticed = await events.notice_expiring(store)
            pruned = await events.prune(store, event_retention)
            if noticed or pruned:
                logger.info("events: %d expiring notices, %d pruned", noticed, pruned)
            exports = await bulk_export_runs.sweep(store)
            if exports:
                logger.info("bulk exports: %d files past retention removed", exports)
            failures.succeeded()
        except Exception:
            failures.failed()
        await asyncio.sleep(interval_seconds)
