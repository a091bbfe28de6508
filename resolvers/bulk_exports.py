"""Bulk exports as a caller sees them: start one, follow it, cancel it.

An export belongs to the caller who started it (role and account) and runs with that caller's
viewer, so its file holds what the caller's own paging would see. Rules, each held under
snapshot isolation:

- **one running export per caller**: a CREATED or RUNNING export carries ``runningKey`` (the
  owner), under a unique index, so of two racing starts one insert commits;
- **one start per minute**: the caller's guard document (``bulk_export_owners``) holds when it
  last started one, and every start writes it, so two racing starts conflict on it;
- a retried start with the same ``idempotencyKey`` returns the first export.

The worker's side (claiming, leases, finishing) is ``resolvers.bulk_export_runs``.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from graphql import GraphQLSchema

from datastore import collections as c
from datastore.codec import utc_now
from datastore.documents import BulkExportDocument
from datastore.enums import HistoryReasonCode
from datastore.ids import new_id
from datastore.store import DESCENDING, DocumentStore, DuplicateKeyError
from resolvers import idempotency
from resolvers.bulk_export_query import QueryRefused, plan_export
from resolvers.category_applications import held_active_partner
from resolvers.context import Info
from resolvers.errors import unknown_account
from resolvers.events import EventType, append
from resolvers.identity import Role, Viewer
from resolvers.validation import Checks, fail
from resolvers.writes import atomically

START_INTERVAL = timedelta(minutes=1)
DEFAULT_RETENTION = timedelta(days=7)


class BulkExportStatus(StrEnum):
    CREATED = "CREATED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"


RUNNING = (BulkExportStatus.CREATED, BulkExportStatus.RUNNING)
# Why an export ended, by how (each status :func:`finish` ends one in).
_FINISHED_BECAUSE = {
    BulkExportStatus.COMPLETED: HistoryReasonCode.EXPORT_COMPLETED,
    BulkExportStatus.FAILED: HistoryReasonCode.EXPORT_FAILED,
    BulkExportStatus.CANCELED: HistoryReasonCode.CANCELED_BY_OWNER,
}


class BulkExportErrorCode(StrEnum):
    """Why a bulk export change was refused: the query's problems (``BulkQueryErrorCode``)
    and the rules above."""

    INVALID_SYNTAX = "INVALID_SYNTAX"
    INVALID_QUERY = "INVALID_QUERY"
    NOT_A_QUERY = "NOT_A_QUERY"
    VARIABLES_NOT_SUPPORTED = "VARIABLES_NOT_SUPPORTED"
    NO_CONNECTION = "NO_CONNECTION"
    MULTIPLE_TOP_LEVEL_FIELDS = "MULTIPLE_TOP_LEVEL_FIELDS"
    NESTING_TOO_DEEP = "NESTING_TOO_DEEP"
    PAGINATION_ARGUMENT = "PAGINATION_ARGUMENT"
    CONNECTION_FIELD = "CONNECTION_FIELD"
    CONNECTION_IN_LIST = "CONNECTION_IN_LIST"
    EXPORT_IN_PROGRESS = "EXPORT_IN_PROGRESS"
    TOO_MANY_STARTS = "TOO_MANY_STARTS"
    NOT_FOUND = "NOT_FOUND"
    NOT_CANCELABLE = "NOT_CANCELABLE"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    TOO_LONG = "TOO_LONG"
    PARTNER_CLOSED = "PARTNER_CLOSED"
    # The gateway's structural limits, held against the query as written and as run.
    MAX_DOCUMENT_LENGTH_EXCEEDED = "MAX_DOCUMENT_LENGTH_EXCEEDED"
    MAX_TOKENS_EXCEEDED = "MAX_TOKENS_EXCEEDED"
    MAX_DEPTH_EXCEEDED = "MAX_DEPTH_EXCEEDED"
    MAX_ALIASES_EXCEEDED = "MAX_ALIASES_EXCEEDED"
    MAX_SELECTIONS_EXCEEDED = "MAX_SELECTIONS_EXCEEDED"
    MAX_DIRECTIVES_EXCEEDED = "MAX_DIRECTIVES_EXCEEDED"
    MAX_ROOT_FIELDS_EXCEEDED = "MAX_ROOT_FIELDS_EXCEEDED"
    MAX_OPERATIONS_EXCEEDED = "MAX_OPERATIONS_EXCEEDED"
    INTROSPECTION_DISABLED = "INTROSPECTION_DISABLED"


Code = BulkExportErrorCode


def owner_of(viewer: Viewer) -> str:
    """The key an export belongs to: the caller's role and account."""
    assert viewer.role is not None  # IsAuthenticated
    return f"{viewer.role.value}:{viewer.subject_id}"


def viewer_of(document: BulkExportDocument) -> Viewer:
    """The viewer the export runs as: its owner."""
    role, _, subject = document["ownerId"].partition(":")
    return Viewer(Role(role), subject)


async def start(
    info: Info, schema: GraphQLSchema, query: str, key: str | None
) -> BulkExportDocument:
    """Create a CREATED export of ``query`` for the caller (a worker picks it up)."""
    context = info.context
    viewer, store = context.viewer, context.store
    owner = owner_of(viewer)
    checks = Checks()
    claim = idempotency.claim(checks, owner, "startBulkExport", key, {"query": query})
    checks.raise_if_any()
    try:
        plan_export(schema, query, context.exports.gate)
    except QueryRefused as refused:
        raise fail(["input", "query"], refused.message, Code(refused.code.value)) from None

    async def work() -> BulkExportDocument:
        if viewer.partner_id:
            await held_active_partner(info, Code.PARTNER_CLOSED)
        elif viewer.seller_id and not await store.get_many(c.SELLERS, [viewer.seller_id]):
            raise unknown_account("seller")
        now = utc_now()
        running = await store.find(c.BULK_EXPORTS, {"runningKey": owner}, limit=1)
        if running:
            raise _in_progress(running[0]["_id"])
        guard = (await store.get_many(c.BULK_EXPORT_OWNERS, [owner])).get(owner)
        if guard is not None:
            wait = guard["lastStartedAt"] + START_INTERVAL - now
            if wait > timedelta(0):
                raise _too_many_starts(wait)
            await store.update(
                c.BULK_EXPORT_OWNERS,
                owner,
                expected_version=guard["version"],
                changes={"lastStartedAt": now},
            )
        else:
            await store.insert(c.BULK_EXPORT_OWNERS, {"_id": owner, "lastStartedAt": now})
        return await store.insert(
            c.BULK_EXPORTS,
            {
                "_id": new_id("bex"),
                "ownerId": owner,
                "role": viewer.role,
                "partnerId": viewer.partner_id,
                "sellerId": viewer.seller_id,
                "query": query,
                "status": BulkExportStatus.CREATED,
                "runningKey": owner,
                "objectCount": 0,
                "rootObjectCount": 0,
                "fileSize": 0,
                "attempts": 0,
                "downloadSecret": secrets.token_urlsafe(32),
                "createdAt": now,
                "updatedAt": now,
            },
        )

    async def replay(ids: list[str]) -> BulkExportDocument:
        return (await store.get_many(c.BULK_EXPORTS, ids))[ids[0]]

    try:
        return await idempotency.once(
            store, claim, work, ids_of=lambda d: [d["_id"]], replay=replay
        )
    except DuplicateKeyError as error:
        # A racing start committed first: its running export or its guard won.
        if error.collection == c.BULK_EXPORTS:
            raise _in_progress(None) from error
        if error.collection == c.BULK_EXPORT_OWNERS:
            raise _too_many_starts(START_INTERVAL) from error
        raise


def _in_progress(running_id: str | None) -> Exception:
    which = f" ({running_id})" if running_id else ""
    return fail(
        ["input", "query"],
        f"you already have a bulk export running{which}: wait for it to finish or cancel it",
        Code.EXPORT_IN_PROGRESS,
    )


def _too_many_starts(wait: timedelta) -> Exception:
    seconds = max(1, int(wait.total_seconds() + 0.999))
    return fail(
        ["input", "query"],
        f"a caller may start one bulk export per minute: retry in {seconds} s",
        Code.TOO_MANY_STARTS,
    )


async def of_caller(info: Info, export_id: str) -> BulkExportDocument | None:
    """The caller's export with this id (another caller's reads as missing)."""
    found = (await info.context.store.get_many(c.BULK_EXPORTS, [export_id])).get(export_id)
    if found is None or found["ownerId"] != owner_of(info.context.viewer):
        return None
    return found


async def latest(info: Info) -> BulkExportDocument | None:
    """The caller's newest export."""
    newest = await info.context.store.find(
        c.BULK_EXPORTS,
        {"ownerId": owner_of(info.context.viewer)},
        sort=[("createdAt", DESCENDING)],
        limit=1,
    )
    return newest[0] if newest else None


async def cancel(info: Info, export_id: str) -> BulkExportDocument:
    """Stop one of the caller's CREATED or RUNNING exports (its worker stops at its next
    page and removes what it wrote)."""
    store = info.context.store
    owner = owner_of(info.context.viewer)

    async def work() -> BulkExportDocument:
        found = (await store.get_many(c.BULK_EXPORTS, [export_id])).get(export_id)
        if found is None or found["ownerId"] != owner:
            raise fail(["id"], "no bulk export of yours has this id", Code.NOT_FOUND)
        if found["status"] not in RUNNING:
            raise fail(
                ["id"],
                f"the export is {found['status']}; only a CREATED or RUNNING one can be canceled",
                Code.NOT_CANCELABLE,
            )
        return await finish(store, found, BulkExportStatus.CANCELED, utc_now())

    return await atomically(store, work)


async def finish(
    store: DocumentStore,
    export: BulkExportDocument,
    status: BulkExportStatus,
    now: datetime,
    **changes: Any,
) -> BulkExportDocument:
    """End an export (in the caller's transaction): its final status, no longer running, and
    ``BULK_EXPORT_FINISHED`` in the event log."""
    finished = await store.update(
        c.BULK_EXPORTS,
        export["_id"],
        expected_version=export["version"],
        changes={
            "status": status,
            "runningKey": None,
            "leaseOwner": None,
            "leaseUntil": None,
            "completedAt": now,
            "updatedAt": now,
            **changes,
        },
    )
    event: dict[str, Any] = {
        "status": {"from": export["status"], "to": status.value},
        "reasonCode": _FINISHED_BECAUSE[status],
        "objectCount": finished["objectCount"],
    }
    if finished.get("errorCode"):
        event["errorCode"] = finished["errorCode"]
    await append(store, EventType.BULK_EXPORT_FINISHED, finished, event, at=now)
    return finished
