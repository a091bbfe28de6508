"""How a broken rule's message names the field at fault."""

from __future__ import annotations

from enum import StrEnum

from resolvers.validation import Checks


def test_a_message_names_a_list_item_by_its_list_and_place() -> None:
    checks = Checks()
    checks.text(["highlights", "0"], "x" * 201, max_length=200, too_long=_Code.TOO_LONG)
    checks.text(
        ["contact", "email"], " ", max_length=9, too_long=_Code.TOO_LONG, missing=_Code.REQUIRED
    )
    assert [p.message for p in checks.problems] == [
        "highlights[0] must be at most 200 characters",
        "email is required",
    ]


class _Code(StrEnum):
    TOO_LONG = "TOO_LONG"
    REQUIRED = "REQUIRED"
