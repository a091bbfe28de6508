"""Prometheus metrics of the gateway and ``GET /metrics``.

Under ``serve --workers N`` every worker writes its samples to ``PROMETHEUS_MULTIPROC_DIR``
(set by the serve command before the workers start) and ``/metrics`` aggregates all of them, so
one scrape covers the whole server whichever worker answers it.
"""

from __future__ import annotations

import functools
import os
import re
import threading

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from starlette.requests import Request
from starlette.responses import Response

# The *_created series (a timestamp per label set) double the output and no dashboard uses them.
disable_created_metrics()  # type: ignore[no-untyped-call]

OPERATIONS = Counter(
    "tsp_graphql_operations",
    "GraphQL operations by operation name and outcome (ok, or the first error's code).",
    ["operation", "outcome"],
)
REQUEST_DURATION = Histogram(
    "tsp_http_request_duration_seconds",
    "Time from request start to the end of the response, by route.",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
QUERY_COST = Histogram(
    "tsp_graphql_query_cost",
    "Query cost of executed operations: requested (before execution) and actual.",
    ["kind"],
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000),
)
REFUSALS = Counter(
    "tsp_requests_refused",
    "Requests refused by the gateway's limits, by code (THROTTLED, TIMEOUT, ...).",
    ["code"],
)
STORE_ROUND_TRIPS = Histogram(
    "tsp_store_round_trips_per_request",
    "Store round trips made while serving one request, by route.",
    ["route"],
    buckets=(0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144),
)
IN_FLIGHT = Gauge(
    "tsp_http_requests_in_flight",
    "Requests being served: HTTP requests (an SSE stream while it lasts) and operations "
    "running on WebSockets.",
    multiprocess_mode="livesum",
)
EXECUTIONS = Counter(
    "tsp_graphql_executions",
    "GraphQL operations by how they were executed: planned, fallen_back (a planned run that "
    "met an error or a bug, answered interpreted) or unplanned, and why.",
    ["execution", "reason"],
)
OPEN_CONNECTIONS = Gauge(
    "tsp_http_connections_open",
    "Open client connections (counted when served by `tsp-gateway serve`).",
    multiprocess_mode="livesum",
)

# Operation names are chosen by clients: a bounded set keeps a client from growing the metrics
# without limit (every distinct label value is a time series kept for the process's life).
MAX_OPERATION_NAMES = 200
_NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]{0,63}$")
_CODE = re.compile(r"^[A-Z][A-Z0-9_]{0,47}$")
_seen_names: set[str] = set()
_names_lock = threading.Lock()


# Every request updates several labelled series: the series are looked up once and kept, since
# ``labels()`` takes a lock and builds a key on each call (about 2 us, as much as the update).
_REQUESTED_COST = QUERY_COST.labels(kind="requested")
_ACTUAL_COST = QUERY_COST.labels(kind="actual")


@functools.cache
def route_series(route: str) -> tuple[Histogram, Histogram]:
    """The latency and store round-trip histograms of one route (a path template, so a bounded
    set)."""
    return REQUEST_DURATION.labels(route=route), STORE_ROUND_TRIPS.labels(route=route)


@functools.cache
def _operation_series(operation: str, outcome: str) -> Counter:
    # Bounded like the labels themselves: MAX_OPERATION_NAMES names, the gateway's error codes.
    return OPERATIONS.labels(operation=operation, outcome=outcome)


@functools.cache
def _execution_series(execution: str, reason: str) -> Counter:
    # Bounded: the executor's outcomes and their reasons are enums of edge.planned_execution.
    return EXECUTIONS.labels(execution=execution, reason=reason)


def count_execution(execution: str, reason: str = "") -> None:
    """Count one operation by how it was executed (``planned``, ``fallen_back``, ``unplanned``)
    and why it was not planned or fell back."""
    _execution_series(execution, reason).inc()


def observe_cost(requested: int, actual: int) -> None:
    """Record the requested (computed before execution) and actual cost of one operation."""
    _REQUESTED_COST.observe(requested)
    _ACTUAL_COST.observe(actual)


def count_refusal(code: str) -> None:
    """Count one request refused by a limit, under its error code (e.g. ``THROTTLED``)."""
    REFUSALS.labels(code=code if _CODE.match(code) else "OTHER").inc()


def count_operation(name: str | None, outcome: str) -> None:
    """Count one GraphQL operation; ``outcome`` is ``ok`` or an error code."""
    _operation_series(
        operation_label(name), outcome if outcome == "ok" or _CODE.match(outcome) else "ERROR"
    ).inc()


def operation_label(name: str | None) -> str:
    """The label for an operation name: ``anonymous``, the name, or ``other`` once
    :data:`MAX_OPERATION_NAMES` distinct names have been seen (or for a name that is not one)."""
    if not name:
        return "anonymous"
    if not _NAME.match(name):
        return "other"
    with _names_lock:
        if name in _seen_names:
            return name
        if len(_seen_names) >= MAX_OPERATION_NAMES:
            return "other"
        _seen_names.add(name)
        return name


def multiprocess_dir() -> str | None:
    """The directory worker processes share their samples through, when there is one."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


async def metrics_endpoint(request: Request) -> Response:
    """``GET /metrics``: every metric in the Prometheus text format."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
