"""The one place where broken rules become ``userErrors``.

Every mutation returns its own payload holding the changed object and ``userErrors``; a
:class:`~resolvers.validation.ValidationError` raised by the rules becomes those errors, with
the code translated into the payload's domain enum.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any, ClassVar, Protocol, TypeVar

import strawberry

from resolvers.validation import Problem, ValidationError


@strawberry.interface(description="A broken rule in a mutation's input; nothing was changed.")
class UserError:
    field: list[str] | None = strawberry.field(
        description="Path of the input field at fault, e.g. ['input', 'contactEmail']."
    )
    message: str = strawberry.field(description="What is wrong, for people.")

    code_enum: ClassVar[type[StrEnum]]

    @classmethod
    def from_problem(cls, problem: Problem) -> Any:
        return cls(  # type: ignore[call-arg]
            field=["input", *problem.field] if problem.field else None,
            message=problem.message,
            code=cls.code_enum(problem.code.value),
        )


class _Payload(Protocol):
    def __init__(self, **fields: Any) -> None: ...


PayloadT = TypeVar("PayloadT", bound=_Payload)


async def run_mutation(
    payload: type[PayloadT],
    error_type: type[UserError],
    work: Callable[[], Awaitable[dict[str, Any]]],
) -> PayloadT:
    """``payload(**await work(), user_errors=[])``, or ``payload(user_errors=...)`` when the
    rules refused the input."""
    try:
        fields = await work()
    except ValidationError as refused:
        errors = [error_type.from_problem(problem) for problem in refused.problems]
        return payload(user_errors=errors)
    return payload(user_errors=[], **fields)
