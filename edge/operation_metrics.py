"""Counts every GraphQL operation by name and outcome."""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from edge.metrics import count_operation


class OperationMetrics(SchemaExtension):
    """Counts the operation once it has finished: ``ok``, or the code of its first error
    (``GRAPHQL_PARSE_FAILED``/``GRAPHQL_VALIDATION_FAILED`` when it never ran, ``ERROR`` when the
    error has no code)."""

    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context
        errors = context.pre_execution_errors or (
            context.result.errors if context.result is not None else None
        )
        if not errors:
            outcome = "ok"
        elif context.pre_execution_errors and context.graphql_document is None:
            outcome = "GRAPHQL_PARSE_FAILED"
        else:
            code = (errors[0].extensions or {}).get("code")
            if isinstance(code, str):
                outcome = code
            elif context.pre_execution_errors:
                outcome = "GRAPHQL_VALIDATION_FAILED"
            else:
                outcome = "ERROR"
        count_operation(context.operation_name, outcome)
