"""History entries: one per status change or edit, kept in their own collection."""

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any

import strawberry

from datastore import collections as c
from datastore.documents import HistoryDocument
from datastore.enums import HistoryReasonCode
from datastore.loaders import NEWEST_FIRST, ListSpec
from datastore.paging import PageResult
from resolvers.category_applications import ApplicationStatus
from resolvers.context import Context
from resolvers.history import LEGACY_ACTIONS, STATUS_ENUMS, HistoryAction
from resolvers.pagination import page_from_args
from resolvers.visibility import sees_history
from schema.changes import FieldChange, field_changes
from schema.document_reads import (
    Loads,
    document_type,
    from_document,
    key,
    lookup,
    members_by_value,
    optional,
    stored_resolver,
)
from schema.enums import Role
from schema.pagination import (
    After,
    Before,
    Connection,
    DocumentPage,
    First,
    Last,
    document_page,
    empty_document_page,
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


# Stored values to members by dict lookups: history is the longest list a page can hold.
_ACTIONS = {**members_by_value(HistoryAction), **LEGACY_ACTIONS}
# An entry (or an event) without a code holds none, or None.
REASON_CODES: dict[str | None, HistoryReasonCode | None] = {
    **members_by_value(HistoryReasonCode),
    None: None,
}


def _status(value: str | None) -> HistoryStatus | None:
    return None if value is None else HistoryStatus(value)


@document_type(
    {
        "id": key("_id"),
        "action": lookup(_ACTIONS, "action"),
        "actor_role": lambda d: Role(d["actorRole"]) if "actorRole" in d else None,
        "actor_id": optional("actorId"),
        "from_status": lambda d: _status(d.get("fromStatus")),
        "to_status": lambda d: _status(d.get("toStatus")),
        "reason_code": lookup(REASON_CODES, "reasonCode", optional=True),
        "reason": optional("reason"),
        "created_at": key("createdAt"),
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
    def from_document(cls, document: HistoryDocument) -> "HistoryEntry":
        return from_document(cls, document)


@lru_cache(maxsize=256)
def _history_spec(
    first: First = None, after: After = None, last: Last = None, before: Before = None
) -> ListSpec:
    # Resolvers ask for every subject of a level, with the same arguments: worked out once.
    return ListSpec(page=page_from_args(NEWEST_FIRST, first, after, last, before, of=c.HISTORY))


def _history_key(
    document: Mapping[str, Any], context: Context, spec: ListSpec
) -> tuple[str, ListSpec] | None:
    if not sees_history(context.viewer, document):
        return None
    return (document["_id"], spec)


def _history_page(
    loaded: PageResult[HistoryDocument] | None,
    document: Mapping[str, Any],
    context: Context,
    spec: ListSpec,
) -> DocumentPage[HistoryDocument]:
    if loaded is None:  # not a party: no history read
        return empty_document_page()
    return document_page(loaded, spec.page, NEWEST_FIRST)


_HISTORY = Loads(
    lambda loaders: loaders.history_by_subject,
    _history_key,
    _history_page,
    _history_spec,
    one=True,
)
"""``history`` in documents: newest first, empty for non-parties."""


history = stored_resolver(
    "history",
    _HISTORY,
    returns=Connection[HistoryEntry],
    typed=lambda page: page.map(HistoryEntry.from_document),
)
"""The one ``history`` field of every type that has one (attached with
``strawberry.field(resolver=history)``): newest first, empty for non-parties."""
