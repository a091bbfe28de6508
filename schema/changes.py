"""Changed values as types a code generator can use, instead of the JSON scalar: what a seller
changed from an offer, and what a history entry changed."""

from collections.abc import Mapping
from typing import Any

import strawberry

from datastore.ids import type_of


@strawberry.type(
    description="A value before or after a change, in the one field that fits its kind (the "
    "others are null): a text (also enum values, dates and moments, in ISO 8601), a flag, a "
    "number, a list of ids or a list of texts."
)
class ChangedValue:
    text: str | None = strawberry.field(default=None, description="A text, enum value or date.")
    flag: bool | None = strawberry.field(default=None, description="A yes/no setting.")
    number: float | None = strawberry.field(default=None, description="A number.")
    ids: list[strawberry.ID] | None = strawberry.field(default=None, description="Object ids.")
    texts: list[str] | None = strawberry.field(default=None, description="A list of texts.")


@strawberry.type(description="One field a change touched: its value before and after.")
class FieldChange:
    field: str = strawberry.field(description="The field, e.g. endsAt or settings.tspAccess.")
    before: ChangedValue | None = strawberry.field(description="The value before (null: none).")
    after: ChangedValue | None = strawberry.field(description="The value after (null: none).")


def changed_value(value: Any) -> ChangedValue | None:
    """``value`` (as stored in a change record) in the field of its kind."""
    if value is None:
        return None
    if isinstance(value, bool):
        return ChangedValue(flag=value)
    if isinstance(value, int | float):
        return ChangedValue(number=float(value))
    if isinstance(value, list):
        items = [str(item) for item in value]
        if items and all(type_of(item) for item in items):
            return ChangedValue(ids=[strawberry.ID(item) for item in items])
        return ChangedValue(texts=items)
    if isinstance(value, Mapping):
        # Not written by any rule today; shown as sorted "key=value" texts rather than lost.
        return ChangedValue(texts=[f"{key}={value[key]}" for key in sorted(value)])
    return ChangedValue(text=str(value))


def field_changes(changes: Mapping[str, Any] | None) -> list[FieldChange]:
    """A history entry's ``{field: {from, to}}`` record, with an accepted offer's
    ``changesFromOffer`` ({field: {offered, consented}}) flattened under that prefix."""
    found: list[FieldChange] = []
    for name, change in (changes or {}).items():
        if name == "changesFromOffer" and isinstance(change, Mapping):
            found += [
                FieldChange(
                    field=f"changesFromOffer.{field}",
                    before=changed_value(pair.get("offered")),
                    after=changed_value(pair.get("consented")),
                )
                for field, pair in change.items()
            ]
        elif isinstance(change, Mapping):
            found.append(
                FieldChange(
                    field=name,
                    before=changed_value(change.get("from")),
                    after=changed_value(change.get("to")),
                )
            )
        else:
            found.append(FieldChange(field=name, before=None, after=changed_value(change)))
    return found
