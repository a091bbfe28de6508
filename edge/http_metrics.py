"""Per-request HTTP metrics: requests in flight, latency by route and store round trips."""

from __future__ import annotations

import time

from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from datastore.store import StoreStats, request_stats
from edge.metrics import IN_FLIGHT, route_series


class HTTPMetricsMiddleware:
    """Measures every HTTP request; the route label is the matched route's path template
    (``/r/{code}``, not each code) so clients cannot multiply the series."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tally = StoreStats()
        token = request_stats.set(tally)
        started = time.perf_counter()
        IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            IN_FLIGHT.dec()
            duration, round_trips = route_series(_route_label(scope))
            duration.observe(time.perf_counter() - started)
            round_trips.observe(tally.round_trips)
            request_stats.reset(token)


def _route_label(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None) if isinstance(route, BaseRoute) else None
    return path if isinstance(path, str) and path else "unmatched"
