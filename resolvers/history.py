"""The append-only history of every status change, in its own collection."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any

from datastore import collections as c
from datastore import enums
from datastore.codec import utc_now
from datastore.documents import HistoryDocument
from datastore.ids import new_id
from datastore.store import DocumentStore
from resolvers import events, insight_counters
from resolvers.held import Held
from resolvers.identity import Viewer


class HistoryAction(StrEnum):
    """What happened to a subject; :func:`record` refuses anything else."""

    CREATED = "CREATED"
    UPDATED = "UPDATED"
    APPLIED = "APPLIED"
    SUBMITTED = "SUBMITTED"
    PUBLISHED = "PUBLISHED"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    DEACTIVATED = "DEACTIVATED"
    WITHDRAWN = "WITHDRAWN"
    ACCEPTED = "ACCEPTED"
    AUTHORIZED = "AUTHORIZED"
    RENEWED = "RENEWED"
    EXPIRED = "EXPIRED"
    CANCELED = "CANCELED"
    CLOSED = "CLOSED"
    REOPENED = "REOPENED"
    UNLINKED = "UNLINKED"
    CONNECTED = "CONNECTED"


# Request moves were recorded as verbs before they joined the past tense of the rest; entries
# stored then read as the action they meant.
LEGACY_ACTIONS = {
    "ACCEPT": HistoryAction.ACCEPTED,
    "REJECT": HistoryAction.REJECTED,
    "CLOSE": HistoryAction.CLOSED,
}


STATUS_ENUMS: tuple[type[StrEnum], ...] = (
    enums.PartnerStatus,
    enums.ServiceStatus,
    enums.OfferStatus,
    enums.AuthorizationStatus,
    enums.RequestStatus,
    enums.LinkedStatus,
)
"""Status enums whose values history records (category applications' own status lives with
their resolver, which imports this module; the schema adds it)."""


def entry(
    *,
    subject_id: str,
    action: str,
    actor: Viewer,
    from_status: str | None = None,
    to_status: str | None = None,
    reason_code: str | None = None,
    reason: str | None = None,
    changes: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One entry about ``subject_id``, checked, for :func:`record_many` to store. A change of
    status names its reason code (SPEC.md §7); a new subject's first status needs none."""
    if from_status is not None and from_status != to_status and not reason_code:
        raise ValueError(f"{action} moves {subject_id} from {from_status}: name a reason code")
    return {
        "_id": new_id("hst"),
        "subjectId": subject_id,
        # Checked at write time: the API reads these back as enums.
        "action": HistoryAction(action).value,
        "actorRole": actor.role.value if actor.role else None,
        "actorId": actor.subject_id,
        "fromStatus": from_status,
        "toStatus": to_status,
        "reasonCode": enums.HistoryReasonCode(reason_code).value if reason_code else None,
        "reason": reason,
        "changes": dict(changes) if changes else None,
        "createdAt": utc_now(),
    }


async def record_many(
    store: DocumentStore,
    entries: Sequence[Mapping[str, Any]],
    held: Iterable[Mapping[str, Any]] = (),
) -> list[HistoryDocument]:
    """Append entries made by :func:`entry`, in order, with the events they mean, in one
    insert each: call it inside the transaction of the changes, once they are written (each
    event reads its subject as changed). ``held``: documents as this transaction last wrote
    or read them (the changed subjects, their partner and services), which the events and
    the insight counters then need not read back."""
    stored = await store.insert_many(c.HISTORY, entries)
    # The subjects as changed, read once (if not held) for the events and the counters both.
    subjects: Held = {document["_id"]: document for document in held}
    await events.from_history(store, stored, subjects)
    await insight_counters.count(store, stored, subjects)
    return stored


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
) -> HistoryDocument:
    """Append one entry about ``subject_id``; call it inside the transaction of the change.

    The change's event (if it means one) is appended to the event log, and the insight
    counters it moves are counted, in the same transaction.
    """
    made = entry(
        subject_id=subject_id,
        action=action,
        actor=actor,
        from_status=from_status,
        to_status=to_status,
        reason_code=reason_code,
        reason=reason,
        changes=changes,
    )
    return (await record_many(store, [made]))[0]
