"""A bulk export's run, as workers see it: claimed under a lease, renewed, finished.

Exactly one worker runs an export at a time: a worker claims it with a version-guarded write
(status RUNNING, ``leaseOwner``, ``leaseUntil``), so of two workers claiming the same export one
write wins; the winner renews the lease while it reads pages. A worker that dies stops
renewing: once ``leaseUntil`` has passed, another claims the export and runs it again from the
start into a new file (``<id>.<attempt>``), deleting the previous attempt's chunks. After
:data:`MAX_ATTEMPTS` attempts an export whose workers keep dying is FAILED with
``INTERRUPTED``. A file is marked complete (COMPLETED, ``fileId``) only after its last chunk
was written, so a half file is never served.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from datastore import collections as c
from datastore.codec import utc_now
from datastore.documents import BulkExportDocument
from datastore.store import ASCENDING, DocumentStore, VersionConflictError
from resolvers.bulk_exports import BulkExportStatus, finish
from resolvers.writes import atomically

MAX_ATTEMPTS = 3
INTERRUPTED = "INTERRUPTED"
_CANDIDATES = 5
logger = logging.getLogger("tsp.exports")


async def claim_next(
    store: DocumentStore, worker: str, lease: timedelta
) -> tuple[BulkExportDocument | None, list[str]]:
    """The export this worker now runs (CREATED ones first, oldest first; then RUNNING ones
    whose lease ran out), and the files of earlier attempts to delete."""
    now = utc_now()
    waiting = await store.find(
        c.BULK_EXPORTS,
        {"status": BulkExportStatus.CREATED},
        sort=[("createdAt", ASCENDING)],
        limit=_CANDIDATES,
    )
    abandoned = await store.find(
        c.BULK_EXPORTS,
        {"status": BulkExportStatus.RUNNING, "leaseUntil": {"$lt": now}},
        sort=[("createdAt", ASCENDING)],
        limit=_CANDIDATES,
    )
    stale: list[str] = []
    for candidate in [*waiting, *abandoned]:
        claimed, old_file = await _claim(store, candidate["_id"], worker, lease)
        if old_file:
            stale.append(old_file)
        if claimed is not None:
            return claimed, stale
    return None, stale


async def _claim(
    store: DocumentStore, export_id: str, worker: str, lease: timedelta
) -> tuple[BulkExportDocument | None, str | None]:
    async def work() -> tuple[BulkExportDocument | None, str | None]:
        now = utc_now()
        found = (await store.get_many(c.BULK_EXPORTS, [export_id])).get(export_id)
        if found is None or not _claimable(found, now):
            return None, None
        old_file = found.get("fileId")
        if found["attempts"] >= MAX_ATTEMPTS:
            await finish(
                store,
                found,
                BulkExportStatus.FAILED,
                now,
                errorCode=INTERRUPTED,
                errorMessage=f"the export was interrupted {found['attempts']} times "
                "(its worker stopped); start it again",
                fileId=None,
            )
            return None, old_file
        attempt = found["attempts"] + 1
        claimed = await store.update(
            c.BULK_EXPORTS,
            export_id,
            expected_version=found["version"],
            changes={
                "status": BulkExportStatus.RUNNING,
                "leaseOwner": worker,
                "leaseUntil": now + lease,
                "attempts": attempt,
                "startedAt": found.get("startedAt") or now,
                "objectCount": 0,
                "rootObjectCount": 0,
                "fileSize": 0,
                "fileId": f"{export_id}.{attempt}",
                "updatedAt": now,
            },
        )
        return claimed, old_file

    try:
        return await store.transaction(work)
    except VersionConflictError:
        return None, None  # another worker claimed it first


def _claimable(export: BulkExportDocument, now: datetime) -> bool:
    if export["status"] == BulkExportStatus.CREATED:
        return True
    lease_until = export.get("leaseUntil")
    return export["status"] == BulkExportStatus.RUNNING and (
        lease_until is None or lease_until < now
    )


async def renew(
    store: DocumentStore, export: BulkExportDocument, lease: timedelta, **progress: Any
) -> BulkExportDocument | None:
    """Extend this worker's lease and record progress; ``None`` when the export is no longer
    this worker's to run (canceled, or claimed by another after the lease ran out)."""
    now = utc_now()
    try:
        return await store.update(
            c.BULK_EXPORTS,
            export["_id"],
            expected_version=export["version"],
            changes={"leaseUntil": now + lease, "updatedAt": now, **progress},
        )
    except VersionConflictError:
        return None


async def complete(
    store: DocumentStore, export: BulkExportDocument, retention: timedelta, **result: Any
) -> BulkExportDocument | None:
    """COMPLETED, with the file's size and checksum, kept for ``retention``; ``None`` when the
    export stopped being this worker's meanwhile (its file is then to be deleted)."""

    async def work() -> BulkExportDocument:
        now = utc_now()
        return await finish(
            store, export, BulkExportStatus.COMPLETED, now, expiresAt=now + retention, **result
        )

    try:
        return await store.transaction(work)
    except VersionConflictError:
        return None


async def fail(
    store: DocumentStore, export: BulkExportDocument, code: str, message: str
) -> BulkExportDocument | None:
    """FAILED with a code and a message (its partial file to be deleted by the caller)."""

    async def work() -> BulkExportDocument:
        return await finish(
            store,
            export,
            BulkExportStatus.FAILED,
            utc_now(),
            errorCode=code,
            errorMessage=message[:500],
            fileId=None,
        )

    try:
        return await store.transaction(work)
    except VersionConflictError:
        return None


async def sweep(store: DocumentStore, *, batch: int = 100) -> int:
    """EXPIRED for completed exports past their retention, their files deleted; the leftover
    files of canceled exports removed too. Returns how many exports changed."""
    now = utc_now()
    changed = 0
    due = await store.find(
        c.BULK_EXPORTS,
        {"status": BulkExportStatus.COMPLETED, "expiresAt": {"$lte": now}},
        sort=[("expiresAt", ASCENDING)],
        limit=batch,
    )
    ended = await store.find(
        c.BULK_EXPORTS,
        {
            "status": {"$in": [BulkExportStatus.CANCELED, BulkExportStatus.FAILED]},
            "fileId": {"$ne": None},
        },
        limit=batch,
    )
    for export in [*due, *ended]:
        file_id = export.get("fileId")
        expired = export["status"] == BulkExportStatus.COMPLETED

        async def work(export: BulkExportDocument = export, expired: bool = expired) -> None:
            current = (await store.get_many(c.BULK_EXPORTS, [export["_id"]]))[export["_id"]]
            changes: dict[str, Any] = {"fileId": None, "updatedAt": now}
            if expired:
                changes["status"] = BulkExportStatus.EXPIRED
            await store.update(
                c.BULK_EXPORTS, export["_id"], expected_version=current["version"], changes=changes
            )

        try:
            await atomically(store, work)
        except VersionConflictError:
            continue
        if file_id:
            # After the status changed: a download never finds a COMPLETED export without its
            # file (one already streaming may end short; its checksum says so).
            await store.files.delete(file_id)
        changed += 1
    return changed
