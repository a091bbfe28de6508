"""OpenTelemetry tracing, on only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set: a server span per HTTP request carrying the
request id, continuing the caller's W3C ``traceparent``, and Strawberry's spans for the operation
and each resolver, exported over OTLP/HTTP. The exporter reads the standard ``OTEL_*`` variables.

When the variable is unset nothing is installed: no tracer provider, no middleware, no
extension."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from starlette.types import Scope
from strawberry.extensions import SchemaExtension

# Client input recorded on spans (the query text, resolver arguments) is cut to this length.
MAX_ATTRIBUTE_LENGTH = 1024
REQUEST_ID_ATTRIBUTE = "tsp.request_id"


def tracing_enabled(env: Mapping[str, str] = os.environ) -> bool:
    return bool(
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def tracing_extensions() -> list[type[SchemaExtension]]:
    """The schema extensions that trace operations and resolvers, when tracing is on."""
    if not tracing_enabled():
        return []
    from strawberry.extensions.tracing import OpenTelemetryExtension

    class ResolverTracing(OpenTelemetryExtension):
        # Argument values are client input and may be secrets (offer link tokens): names only.
        def __init__(self, *, execution_context: Any = None) -> None:
            super().__init__(execution_context=execution_context, arg_filter=_names_only)

    return [ResolverTracing]


def _names_only(args: dict[str, Any], info: Any) -> dict[str, Any]:
    return dict.fromkeys(args, "<redacted>")


class Tracing:
    """The process's tracer provider (its batch exporter flushes when the process exits)."""

    def __init__(self) -> None:
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import SpanLimits, TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        resource = Resource.create(
            {SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME") or "tsp-gateway"}
        )
        self.provider = TracerProvider(
            resource=resource, span_limits=SpanLimits(max_attribute_length=MAX_ATTRIBUTE_LENGTH)
        )
        self.provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(self.provider)

    def middleware_options(self) -> dict[str, Any]:
        return {
            # Probes and scrapes every few seconds would bury the traces worth reading.
            "excluded_urls": "/healthz,/readyz,/metrics",
            "server_request_hook": _tag_request_id,
            "tracer_provider": self.provider,
            "exclude_spans": ["receive", "send"],
        }


def _tag_request_id(span: Any, scope: Scope) -> None:
    request_id = scope.get("state", {}).get("request_id")
    if request_id and span is not None and span.is_recording():
        span.set_attribute(REQUEST_ID_ATTRIBUTE, request_id)


_installed: Tracing | None = None


def install_tracing() -> Tracing | None:
    """The process's tracing, set up on first use; ``None`` when tracing is off."""
    global _installed
    if _installed is None and tracing_enabled():
        _installed = Tracing()
    return _installed
