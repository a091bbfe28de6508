"""What a request's variables may hold, checked before the operation is costed or run: a bounded
number of values, each fitting the type its variable declares.

graphql-core coerces variables as execution starts, after the gateway has counted the cost: an
``Int`` beyond 32 bits was costed as sent (``first: $n`` with ``n`` = 2147483648 was refused
``MAX_COST_EXCEEDED``, the number echoed), and a value refused there cost its caller nothing.
Coerced here, a value that does not fit is answered ``BAD_USER_INPUT`` before the cost is
counted, and the request is charged as any refused document is (``edge.extension``).

The bound comes first because graphql-core words each error with the whole value holding it
(``inspect``): fifty errors in an input object of 50,000 keys took a third of a second of the
event loop, at no cost to their caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import GraphQLError, GraphQLSchema, OperationDefinitionNode
from graphql.execution.values import get_variable_values

from edge.errors import gateway_error
from schema.extensions import BAD_USER_INPUT

MAX_COERCION_ERRORS = 50
"""As many as graphql-core's execution reports before it stops coercing."""


def variables_problems(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any] | None,
    max_values: int,
    *,
    coerce: bool = True,
) -> list[GraphQLError]:
    """Why ``variables`` cannot run ``operation``: more values than ``max_values``, or (with
    ``coerce``) values that do not fit their declared types (graphql-core's errors); empty
    when they can."""
    if not variables:
        variables = {}
    found = _values_beyond(variables, max_values)
    if found > max_values:
        return [
            gateway_error(
                f"The variables hold more than {max_values} values (each number, string, "
                f"list and object counts); the limit for variable values is {max_values}.",
                "MAX_VARIABLE_VALUES_EXCEEDED",
                limit="variable values",
                maximum=max_values,
                found=found,
            )
        ]
    if not coerce:
        return []
    coerced = get_variable_values(
        schema,
        operation.variable_definitions or (),
        dict(variables),
        max_errors=MAX_COERCION_ERRORS,
    )
    if not isinstance(coerced, list):
        return []
    for error in coerced:
        # Coded where they are made: the schema logs a refused request's errors before the
        # masking extension would label them, and the log must name the code the client gets.
        error.extensions = {**(error.extensions or {}), "code": BAD_USER_INPUT}
    return coerced


def _values_beyond(variables: Mapping[str, Any], maximum: int) -> int:
    """How many values ``variables`` hold, counted until past ``maximum`` (then that count)."""
    found = 0
    pending: list[Any] = [variables]
    while pending:
        container = pending.pop()
        for value in container.values() if isinstance(container, Mapping) else container:
            found += 1
            if found > maximum:
                return found
            if isinstance(value, Mapping | list):
                pending.append(value)
    return found
