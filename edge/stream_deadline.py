"""Only subscriptions stream without the request timeout.

Whether an operation is a subscription is known only once its document is parsed, inside
execution, after the response to an SSE request has started; a streamed query or mutation
keeps the timeout every request starts with (``edge.transport.RequestTimeoutMiddleware``).
"""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType


class SubscriptionsOutliveTheRequestTimeout(SchemaExtension):
    """Lifts the request timeout of an SSE stream when it runs a subscription: a feed of
    events lasts as long as its client stays (the stream limits bound it instead)."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        deadline = getattr(getattr(context.context, "gateway", None), "deadline", None)
        if deadline is not None and context.operation_type is OperationType.SUBSCRIPTION:
            deadline.reschedule(None)
        yield
