"""History entries: one per status change or edit, kept in their own collection."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

import strawberry

from datastore.documents import HistoryDocument
from datastore.loaders import NEWEST_FIRST, ListSpec
from resolvers.category_applications import ApplicationStatus
from resolvers.context import Info
from resolvers.history import LEGACY_ACTIONS, STATUS_ENUMS, HistoryAction, HistoryReasonCode
from resolvers.pagination import page_from_args
from resolvers.visibility import sees_history
from schema.changes import FieldChange, field_changes
from schema.enums import Role
from schema.pagination import (
    EMPTY_PAGE,
    After,
    Before,
    Connection,
    First,
    Last,
    connection_from,
)

strawberry.enum(HistoryAction, description="What happened to an object.")
strawberry.enum(HistoryReasonCode, description="Why a change happened, as a code.")

_STATUS_SOURCES: tuple[type[StrEnum], ...] = (*STATUS_ENUMS, ApplicationStatus)
HistoryStatus = StrEnum(  # type: ignore[misc]
    "HistoryStatus",
    {value: value for source in _STATUS_SOURCES for value in source},
)
"""Every status an object of any type can have: history's from/to statuses."""
strawberry.enum(
    HistoryStatus,
    description="A status before or after a change: the values of the subject type's own "
    "status enum (ServiceStatus, OfferStatus, AuthorizationStatus, RequestStatus, "
    "ApplicationStatus, PartnerStatus, LinkedStatus).",
)


@strawberry.type(description="One change of an object: what, who, when and why.")
class HistoryEntry:
    id: strawberry.ID = strawberry.field(description="The entry's id.")
    action: HistoryAction = strawberry.field(description="What happened.")
    actor_role: Role | None = strawberry.field(description="The role of whoever did it.")
    actor_id: str | None = strawberry.field(description="The partner, seller or admin id.")
    from_status: HistoryStatus | None = strawberry.field(description="The status before.")
    to_status: HistoryStatus | None = strawberry.field(description="The status after.")
    reason_code: HistoryReasonCode | None = strawberry.field(description="Why, as a code.")
    reason: str | None = strawberry.field(description="Why, in words.")
    created_at: datetime = strawberry.field(description="When it happened.")
    # Read into FieldChanges only when a client asks for them: most lists of history do not.
    stored_changes: strawberry.Private[Mapping[str, Any] | None]

    @strawberry.field(
        description="The fields the change touched, with their values before and after."
    )
    def changes(self) -> list[FieldChange]:
        return field_changes(self.stored_changes)

    @classmethod
    def from_document(cls, document: HistoryDocument) -> HistoryEntry:
        return cls(
            id=strawberry.ID(document["_id"]),
            action=LEGACY_ACTIONS.get(document["action"]) or HistoryAction(document["action"]),
            actor_role=Role(document["actorRole"]) if "actorRole" in document else None,
            actor_id=document.get("actorId"),
            from_status=_status(document.get("fromStatus")),
            to_status=_status(document.get("toStatus")),
            reason_code=HistoryReasonCode(document["reasonCode"])
            if document.get("reasonCode")
            else None,
            reason=document.get("reason"),
            created_at=document["createdAt"],
            stored_changes=document.get("changes"),
        )


def _status(value: str | None) -> HistoryStatus | None:
    return None if value is None else HistoryStatus(value)


class _Subject(Protocol):
    """A type whose changes are recorded: it keeps the document it was read from."""

    @property
    def document(self) -> Mapping[str, Any]: ...


async def history(
    root: _Subject,
    info: Info,
    first: First = None,
    after: After = None,
    last: Last = None,
    before: Before = None,
) -> Connection[HistoryEntry]:
    """The one ``history`` field of every type that has one (attached with
    ``strawberry.field(resolver=history)``): newest first, empty for non-parties."""
    if not sees_history(info.context.viewer, root.document):
        return Connection(edges=[], page_info=EMPTY_PAGE)
    return await history_connection(info, root.document["_id"], first, after, last, before)


async def history_connection(
    info: Info,
    subject_id: str,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> Connection[HistoryEntry]:
    """The history of ``subject_id``, newest first (callers check who may see it)."""
    page = page_from_args(NEWEST_FIRST, first, after, last, before)
    result = await info.context.loaders.history_by_subject.load((subject_id, ListSpec(page=page)))
    return connection_from(result, page, NEWEST_FIRST, HistoryEntry.from_document)
