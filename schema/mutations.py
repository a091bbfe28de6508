"""The one place where broken rules become ``userErrors``.

Every mutation returns its own payload holding the changed object and ``userErrors``; a
:class:`~resolvers.validation.ValidationError` raised by the rules becomes those errors, with
the code translated into the payload's domain enum.
"""

from collections.abc import Awaitable, Callable, Mapping, Sequence
from enum import StrEnum
from typing import Any, ClassVar, Protocol, TypeVar

import strawberry
from graphql import GraphQLArgument, GraphQLInputObjectType, get_named_type

from resolvers.context import Info
from resolvers.validation import Problem, ValidationError


@strawberry.interface(description="A broken rule in a mutation's input; nothing was changed.")
class UserError:
    field: list[str] | None = strawberry.field(
        description="Path of the input field at fault, e.g. ['input', 'contactEmail']."
    )
    message: str = strawberry.field(description="What is wrong, for people.")

    code_enum: ClassVar[type[StrEnum]]

    @classmethod
    def from_problem(cls, problem: Problem, arguments: Mapping[str, GraphQLArgument]) -> Any:
        return cls(  # type: ignore[call-arg]
            field=argument_path(problem.field, arguments),
            message=problem.message,
            code=cls.code_enum(problem.code.value),
        )


CODE_DESCRIPTIONS: dict[str, str] = {}
"""What each userError code means, in whichever payload it appears: one meaning per code."""


def describe_codes(descriptions: Mapping[str, str]) -> None:
    """Say what userError codes mean (``schema.enum_values`` holds most; a mutation's module
    describes the codes it brings). A code already described otherwise is refused."""
    for code, text in descriptions.items():
        if CODE_DESCRIPTIONS.setdefault(code, text) != text:
            raise ValueError(f"userError code {code} already means: {CODE_DESCRIPTIONS[code]}")


def code_enums() -> set[type[StrEnum]]:
    """The code enum of every userError type defined so far."""
    found: set[type[StrEnum]] = set()
    types = list(UserError.__subclasses__())
    while types:
        error_type = types.pop()
        types.extend(error_type.__subclasses__())
        if "code_enum" in vars(error_type):
            found.add(error_type.code_enum)
    return found


def argument_path(
    field: Sequence[str], arguments: Mapping[str, GraphQLArgument]
) -> list[str] | None:
    """The path of a problem's field among the mutation's real arguments.

    Rules name fields as the client knows them: an argument (``id``, ``token``) or a field of
    the ``input`` argument (``startDate``). A problem about no argument at all (the caller's
    own account, say) has no path rather than an invented one: a form maps the path to one of
    its controls, and a path naming no field of the input would name none.
    """
    if not field:
        return None
    if field[0] in arguments:
        return list(field)
    given = arguments.get("input")
    if given is not None:
        input_type = get_named_type(given.type)
        if isinstance(input_type, GraphQLInputObjectType) and field[0] in input_type.fields:
            return ["input", *field]
    return None


class _Payload(Protocol):
    def __init__(self, **fields: Any) -> None: ...


PayloadT = TypeVar("PayloadT", bound=_Payload)


async def run_mutation(
    info: Info,
    payload: type[PayloadT],
    error_type: type[UserError],
    work: Callable[[], Awaitable[dict[str, Any]]],
) -> PayloadT:
    """``payload(**await work(), user_errors=[])``, or ``payload(user_errors=...)`` when the
    rules refused the input."""
    try:
        fields = await work()
    except ValidationError as refused:
        # The arguments as the client spells them (the schema's camelCase names).
        raw = info._raw_info
        arguments = raw.parent_type.fields[raw.field_name].args
        errors = [error_type.from_problem(p, arguments) for p in refused.problems]
        return payload(user_errors=errors)
    return payload(user_errors=[], **fields)
