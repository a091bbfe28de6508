"""The gateway layer's settings, read from the environment and refused when they do not describe
a gateway that can run: transport (body, header, time, connection and concurrency limits, CORS
origins, keep-alive) and policy (structural limits, query cost, throttling, trusted documents)."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from edge.extension import GatewayPolicy
from edge.limits import Limits
from edge.throttle import ThrottlePolicy

MIB = 1024 * 1024
# Below these no browser's request fits: its headers alone take some 500 bytes and 10 fields.
MIN_HEADER_BYTES = 1024
MIN_HEADERS = 16


class EdgeSettingsError(ValueError):
    """A setting of the gateway layer is not a value the gateway can run with."""


@dataclass(frozen=True)
class TransportSettings:
    """Limits every HTTP request meets before the GraphQL layer sees it."""

    max_body_bytes: int = MIB
    # How long the body may stall (nothing arriving) before it is cut off; the request timeout
    # bounds the whole request, so a body trickling in is cut off by that one.
    body_timeout_seconds: float = 5.0
    request_timeout_seconds: float = 10.0
    max_in_flight: int = 256
    # GraphQL operations of HTTP requests executing at once, the others waiting their turn in
    # arrival order (see edge.executing).
    max_executing: int = 4
    cors_origins: tuple[str, ...] = ()
    # Longer than the idle timeout of common client pools and load balancers (60 s on AWS ALB,
    # 5 s in httpx), so the client, not the gateway, is the side that closes an idle connection.
    keepalive_timeout_seconds: float = 75.0
    # How long a request's headers may take to arrive (from the connection's opening, or from
    # the next request's first byte), like nginx's client_header_timeout: a client sending them
    # a byte at a time would otherwise hold its connection for good.
    header_timeout_seconds: float = 10.0
    # Open connections one client address may hold (0: no limit). Browsers open 6 per host;
    # behind a reverse proxy every client shares the proxy's address (see the README).
    max_connections_per_client: int = 128
    # A request's head (request line and header fields) in bytes, and its header fields: the
    # parser would hold any amount until the header timeout. 32 KiB is what nginx's default
    # buffers take (a line of 8 KiB, 4 of them); 100 fields is Apache's LimitRequestFields.
    max_header_bytes: int = 32 * 1024
    max_headers: int = 100

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> TransportSettings:
        return cls(
            max_body_bytes=_whole(env, "TSP_MAX_BODY_BYTES", cls.max_body_bytes),
            body_timeout_seconds=_seconds(
                env, "TSP_BODY_TIMEOUT_SECONDS", cls.body_timeout_seconds
            ),
            request_timeout_seconds=_seconds(
                env, "TSP_REQUEST_TIMEOUT_SECONDS", cls.request_timeout_seconds
            ),
            max_in_flight=_whole(env, "TSP_MAX_IN_FLIGHT", cls.max_in_flight),
            max_executing=_whole(env, "TSP_MAX_EXECUTING", cls.max_executing),
            cors_origins=_origins(env, "TSP_CORS_ORIGINS"),
            keepalive_timeout_seconds=_seconds(
                env, "TSP_KEEPALIVE_TIMEOUT_SECONDS", cls.keepalive_timeout_seconds
            ),
            header_timeout_seconds=_seconds(
                env, "TSP_HEADER_TIMEOUT_SECONDS", cls.header_timeout_seconds
            ),
            max_connections_per_client=_whole(
                env,
                "TSP_MAX_CONNECTIONS_PER_CLIENT",
                cls.max_connections_per_client,
                minimum=0,
            ),
            max_header_bytes=_whole(
                env, "TSP_MAX_HEADER_BYTES", cls.max_header_bytes, minimum=MIN_HEADER_BYTES
            ),
            max_headers=_whole(env, "TSP_MAX_HEADERS", cls.max_headers, minimum=MIN_HEADERS),
        )


def policy_from_env(env: Mapping[str, str], *, demo: bool) -> GatewayPolicy:
    """The gateway policy ``env`` describes; introspection follows demo mode unless set."""
    return GatewayPolicy(
        limits=Limits(
            max_depth=_whole(env, "TSP_MAX_DEPTH", 12),
            max_aliases=_whole(env, "TSP_MAX_ALIASES", 30, minimum=0),
            max_tokens=_whole(env, "TSP_MAX_TOKENS", Limits.max_tokens),
            max_document_length=_whole(env, "TSP_MAX_DOCUMENT_LENGTH", Limits.max_document_length),
            max_root_fields=_whole(env, "TSP_MAX_ROOT_FIELDS", 20),
            max_operations=_whole(env, "TSP_MAX_OPERATIONS", 10),
            max_directives_per_field=_whole(env, "TSP_MAX_DIRECTIVES_PER_FIELD", 3, minimum=0),
            max_selections=_whole(env, "TSP_MAX_SELECTIONS", Limits.max_selections),
            max_variable_values=_whole(env, "TSP_MAX_VARIABLE_VALUES", Limits.max_variable_values),
            introspection=flag(env, "TSP_INTROSPECTION", default=demo),
        ),
        max_query_cost=_whole(env, "TSP_MAX_QUERY_COST", 1_000),
        throttle=ThrottlePolicy(
            enabled=flag(env, "TSP_THROTTLE", default=True),
            capacity=_number(env, "TSP_THROTTLE_CAPACITY", 2_000),
            restore_rate=_number(env, "TSP_THROTTLE_RESTORE_RATE", 100),
            admin_capacity=_number(env, "TSP_THROTTLE_ADMIN_CAPACITY", 20_000),
            admin_restore_rate=_number(env, "TSP_THROTTLE_ADMIN_RESTORE_RATE", 1_000),
            processes=_whole(env, "TSP_THROTTLE_PROCESSES", 1),
        ),
        trusted_documents_only=flag(env, "TSP_TRUSTED_DOCUMENTS_ONLY"),
    )


def flag(env: Mapping[str, str], name: str, *, default: bool = False) -> bool:
    """A yes/no setting: 1/true/yes/on or 0/false/no/off (``default`` when unset)."""
    text = env.get(name, "").strip().lower()
    if not text:
        return default
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise EdgeSettingsError(f"{name} must be 1/true/yes/on or 0/false/no/off, got {text[:200]!r}")


def _whole(env: Mapping[str, str], name: str, default: int, *, minimum: int = 1) -> int:
    text = env.get(name) or str(default)
    if not text.isdigit() or int(text) < minimum:
        raise EdgeSettingsError(
            f"{name} must be a whole number of at least {minimum}, got {text[:200]!r}"
        )
    return int(text)


def _number(env: Mapping[str, str], name: str, default: float, unit: str = "") -> float:
    text = env.get(name) or str(default)
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        what = f"a number of {unit}" if unit else "a number"
        raise EdgeSettingsError(f"{name} must be {what} greater than 0, got {text[:200]!r}")
    return value


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    return _number(env, name, default, "seconds")


def _origins(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """Comma-separated origins such as ``https://app.example.com`` (no path); ``*`` allows any."""
    origins = tuple(part.strip() for part in env.get(name, "").split(",") if part.strip())
    for origin in origins:
        if origin != "*" and not _is_origin(origin):
            raise EdgeSettingsError(
                f"{name} must list origins like https://app.example.com or http://localhost:5173"
                f" (scheme, host and optional port, no path), got {origin[:200]!r}"
            )
    return origins


def _is_origin(text: str) -> bool:
    try:
        parts = urlsplit(text)
        _ = parts.port  # raises on a non-numeric port
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and not parts.path
        and not parts.query
        and not parts.fragment
        and not parts.username
        and text == f"{parts.scheme}://{parts.netloc}"
    )
