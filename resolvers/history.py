"""The append-only history of every status change, in its own collection."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from datastore import collections as c
from datastore.codec import Document, utc_now
from datastore.ids import new_id
from datastore.store import DocumentStore
from resolvers.identity import Viewer


async def record(
    store: DocumentStore,
    *,
    subject_id: str,
    action: str,
    actor: Viewer,
    from_status: str | None = None,
    to_status: str | None = None,
    reason_code: str | None = None,
    reason: str | None = None,
    changes: Mapping[str, Any] | None = None,
) -> Document:
    """Append one entry about ``subject_id``; call it inside the transaction of the change."""
    return await store.insert(
        c.HISTORY,
        {
            "_id": new_id("hst"),
            "subjectId": subject_id,
            "action": action,
            "actorRole": actor.role.value if actor.role else None,
            "actorId": actor.subject_id,
            "fromStatus": from_status,
            "toStatus": to_status,
            "reasonCode": reason_code,
            "reason": reason,
            "changes": dict(changes) if changes else None,
            "createdAt": utc_now(),
        },
    )
