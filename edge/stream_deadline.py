"""Only subscriptions stream without the request timeout.

A client that prefers a stream has queries and mutations streamed too, their documents parsed
inside execution, after the response has started (one that merely accepts a stream gets one
for a subscription only: ``edge.view``). The timeout every request starts with
(``edge.transport.RequestTimeoutMiddleware``) is lifted as a subscription starts executing,
its document parsed, validated and paid for within it; a streamed query or mutation keeps it.
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
