"""Bad input as data: rules raise :class:`ValidationError`; one wrapper in ``schema.mutations``
turns it into ``userErrors`` and nothing is written."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlsplit

_EMAIL = re.compile(
    r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})+$"
)


@dataclass(frozen=True)
class Problem:
    """One broken rule: the input path it concerns, what is wrong, and its code."""

    field: tuple[str, ...]
    message: str
    code: StrEnum


class ValidationError(Exception):
    """One or more broken rules; the mutation writes nothing."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = list(problems)


def fail(field: Sequence[str], message: str, code: StrEnum) -> ValidationError:
    """A :class:`ValidationError` with a single problem, to ``raise``."""
    return ValidationError([Problem(tuple(field), message, code)])


@dataclass
class Checks:
    """Collects problems so a client learns every broken rule of an input at once."""

    problems: list[Problem] = field(default_factory=list)

    def add(self, field: Sequence[str], message: str, code: StrEnum) -> None:
        self.problems.append(Problem(tuple(field), message, code))

    def text(
        self,
        field: Sequence[str],
        value: str | None,
        *,
        max_length: int,
        too_long: StrEnum,
        missing: StrEnum | None = None,
    ) -> None:
        """A text within ``max_length`` characters; when ``missing`` is given it is required,
        and a blank text counts as missing."""
        if value is None or not value.strip():
            if missing is not None:
                self.add(field, f"{_named(field)} is required", missing)
            return
        if len(value) > max_length:
            self.add(field, f"{_named(field)} must be at most {max_length} characters", too_long)

    def email(self, field: Sequence[str], value: str | None, *, code: StrEnum) -> None:
        if value is not None and not _EMAIL.match(value.strip()):
            self.add(field, f"{_named(field)} must be an email address", code)

    def url(self, field: Sequence[str], value: str | None, *, code: StrEnum) -> None:
        if value is None:
            return
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            self.add(field, f"{_named(field)} must be an absolute http(s) URL", code)

    def raise_if_any(self) -> None:
        if self.problems:
            raise ValidationError(self.problems)


def _named(field: Sequence[str]) -> str:
    """How a message names ``field``: its last name, with the list places after it
    (``highlights[0]``, not ``0``)."""
    places = ""
    for part in reversed(field):
        if not part.isdigit():
            return part + places
        places = f"[{part}]" + places
    return places
