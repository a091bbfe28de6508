"""Seller contact details a partner (or, later, the seller) fills in: name, email, phone.

Shared by every input that carries a contact, so each stores the same cleaned shape. Problems
use :class:`ContactErrorCode`; a domain error enum that reports them must hold the same three
values, because ``schema.mutations.run_mutation`` translates codes by value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from enum import StrEnum

from resolvers.validation import Checks


class ContactErrorCode(StrEnum):
    INVALID_EMAIL = "INVALID_EMAIL"
    INVALID_PHONE = "INVALID_PHONE"
    TOO_LONG = "TOO_LONG"


MAX_CONTACT_NAME = 100
MAX_CONTACT_EMAIL = 254
CONTACT_KEYS = ("name", "email", "phone")

# After spaces and dashes are removed: an optional "+", then 6 to 20 ASCII digits ("\d" would
# also accept digits of other scripts, which no dialer understands).
_PHONE = re.compile(r"\+?[0-9]{6,20}")
_PHONE_SEPARATORS = re.compile(r"[ \-]")


def check_contact(
    checks: Checks, contact: Mapping[str, str | None] | None, path: Sequence[str]
) -> dict[str, str] | None:
    """The contact as it is stored: texts trimmed, blank ones dropped, the phone without its
    spaces and dashes; ``None`` when nothing is left.

    Broken rules are added to ``checks`` under ``[*path, key]``; the caller raises them (with
    its other problems) through ``checks.raise_if_any()``.
    """
    if contact is None:
        return None
    cleaned: dict[str, str] = {}
    for key in CONTACT_KEYS:
        value = contact.get(key)
        if value is not None and value.strip():
            cleaned[key] = value.strip()
    name = cleaned.get("name")
    if name is not None and len(name) > MAX_CONTACT_NAME:
        checks.add(
            [*path, "name"],
            f"name must be at most {MAX_CONTACT_NAME} characters",
            ContactErrorCode.TOO_LONG,
        )
    email = cleaned.get("email")
    if email is not None:
        # One problem per field: an overlong text is not also reported as malformed.
        if len(email) > MAX_CONTACT_EMAIL:
            checks.add(
                [*path, "email"],
                f"email must be at most {MAX_CONTACT_EMAIL} characters",
                ContactErrorCode.TOO_LONG,
            )
        else:
            checks.email([*path, "email"], email, code=ContactErrorCode.INVALID_EMAIL)
    phone = cleaned.get("phone")
    if phone is not None:
        digits = _PHONE_SEPARATORS.sub("", phone)
        if _PHONE.fullmatch(digits):
            cleaned["phone"] = digits
        else:
            checks.add(
                [*path, "phone"],
                "phone must be an optional + and 6 to 20 digits (spaces and dashes allowed)",
                ContactErrorCode.INVALID_PHONE,
            )
    return cleaned or None
