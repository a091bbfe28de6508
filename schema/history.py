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
from schema.document_reads import document_read_with_info, document_type, from_document
from schema.enums import Role
from schema.pagination import (
    EMPTY_PAGE,
    After,
    Before,
    Connection,
    First,
    Last,
    document_connection,
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


def _status(value: str | None) -> HistoryStatus | None:
    return None if value is None else HistoryStatus(value)


@document_type(
    {
        "id": lambda d: strawberry.ID(d["_id"]),
        "action": lambda d: LEGACY_ACTIONS.get(d["action"]) or HistoryAction(d["action"]),
        "actor_role": lambda d: Role(d["actorRole"]) if "actorRole" in d else None,
        "actor_id": lambda d: d.get("actorId"),
        "from_status": lambda d: _status(d.get("fromStatus")),
        "to_status": lambda d: _status(d.get("toStatus")),
        "reason_code": lambda d: (
            HistoryReasonCode(d["reasonCode"]) if d.get("reasonCode") else None
        ),
        "reason": lambda d: d.get("reason"),
        "created_at": lambda d: d["createdAt"],
    }
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
    document: strawberry.Private[HistoryDocument]

    @strawberry.field(
        description="The fields the change touched, with their values before and after."
    )
    def changes(self) -> list[FieldChange]:
        # Read into FieldChanges only when a client asks for them: most lists of history do not.
        return field_changes(self.document.get("changes"))

    @classmethod
    def from_document(cls, document: HistoryDocument) -> HistoryEntry:
        return from_document(cls, document)


class _Subject(Protocol):
    """A type whose changes are recorded: it keeps the document it was read from."""

    @property
    def document(self) -> Mapping[str, Any]: ...


async def history_documents(
    document: Mapping[str, Any],
    info: Info,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> Connection[HistoryDocument]:
    """:func:`history` in documents."""
    if not sees_history(info.context.viewer, document):
        return Connection(edges=[], page_info=EMPTY_PAGE)
    page = page_from_args(NEWEST_FIRST, first, after, last, before)
    result = await info.context.loaders.history_by_subject.load(
        (document["_id"], ListSpec(page=page))
    )
    return document_connection(result, page, NEWEST_FIRST)


@document_read_with_info(history_documents)
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
    documents = await history_documents(root.document, info, first, after, last, before)
    return documents.map(HistoryEntry.from_document)
