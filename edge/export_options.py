"""Bulk export options (the gateway's checks, download link lifetime) handed to resolvers.

The view builds each request's context and knows nothing of bulk exports; the options travel
with the gateway's schema instead, as an extension that puts them in the context when an
operation starts, whichever transport (HTTP, SSE, WebSocket) built the context.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

from strawberry.extensions import SchemaExtension

from edge.bulk_query_gate import LimitsGate
from edge.export_settings import ExportSettings
from edge.limits import Limits
from resolvers.context import Context, ExportOptions


class _ExportOptions(SchemaExtension):
    def __init__(self, options: ExportOptions) -> None:
        self.options = options

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        if isinstance(context, Context):
            context.exports = self.options
        yield


def export_options(limits: Limits, settings: ExportSettings) -> Callable[[], SchemaExtension]:
    """The extension factory giving every operation the gateway's ``limits`` and the link
    lifetime of ``settings``."""
    options = ExportOptions(LimitsGate(limits), timedelta(seconds=settings.link_seconds))
    return lambda: _ExportOptions(options)
