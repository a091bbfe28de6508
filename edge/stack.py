"""The gateway layer around the app, in one place so its order is deliberate."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

from edge.compression import NegotiatedGZipMiddleware
from edge.graphql_http import GraphQLOverHTTPMiddleware, HeadAsGetMiddleware
from edge.http_metrics import HTTPMetricsMiddleware
from edge.request_log import RequestIdMiddleware
from edge.settings import TransportSettings
from edge.tracing import install_tracing
from edge.transport import AdmissionMiddleware, BodyLimitMiddleware, RequestTimeoutMiddleware

GZIP_MINIMUM_BYTES = 1024


def add_edge_middleware(app: Starlette, settings: TransportSettings) -> None:
    """Wraps ``app``'s routes, from the innermost layer out: body limit, request timeout,
    admission, GraphQL over HTTP, gzip, HEAD answered as GET on the endpoint, CORS, metrics,
    (when on) tracing, and the request id outermost. Refusals are thus answered with CORS
    headers, counted, traced, bounded by the request timeout, and logged with their request's
    id."""
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        timeout_seconds=settings.body_timeout_seconds,
    )
    app.add_middleware(RequestTimeoutMiddleware, seconds=settings.request_timeout_seconds)
    app.add_middleware(AdmissionMiddleware, max_in_flight=settings.max_in_flight)
    app.add_middleware(GraphQLOverHTTPMiddleware)
    app.add_middleware(NegotiatedGZipMiddleware, minimum_size=GZIP_MINIMUM_BYTES)
    app.add_middleware(HeadAsGetMiddleware)
    app.add_middleware(CORSMiddleware, **_cors_options(settings))
    app.add_middleware(HTTPMetricsMiddleware)
    tracing = install_tracing()
    if tracing is not None:
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

        app.add_middleware(OpenTelemetryMiddleware, **tracing.middleware_options())
    app.add_middleware(RequestIdMiddleware)


def around_early_answers(app: ASGIApp, settings: TransportSettings) -> ASGIApp:
    """``app`` (the answer to a request refused before it reached the app: its connection
    over the limit, its head too large, malformed or late, see ``edge.connections``) in the
    layers every answer meets here, so it says what any other does: CORS, then the request id
    (echoed, logged) outermost, as in :func:`add_edge_middleware`."""
    return RequestIdMiddleware(CORSMiddleware(app, **_cors_options(settings)))


def _cors_options(settings: TransportSettings) -> dict[str, Any]:
    return {
        "allow_origins": list(settings.cors_origins),
        "allow_methods": ["GET", "POST"],
        "allow_headers": ["Authorization", "Content-Type", "X-Request-ID", "traceparent"],
        "expose_headers": ["X-Request-ID", "Retry-After"],
        "allow_credentials": False,
        "max_age": 600,
    }
