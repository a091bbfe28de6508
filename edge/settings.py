"""Transport settings: body, time and concurrency limits, CORS origins and keep-alive, read from
the environment and refused when they do not describe a gateway that can run."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

MIB = 1024 * 1024


class TransportSettingsError(ValueError):
    """A transport setting is not a value the gateway can run with."""


@dataclass(frozen=True)
class TransportSettings:
    """Limits every HTTP request meets before the GraphQL layer sees it."""

    max_body_bytes: int = MIB
    # How long the body may stall (nothing arriving) before it is cut off; the request timeout
    # bounds the whole request, so a body trickling in is cut off by that one.
    body_timeout_seconds: float = 5.0
    request_timeout_seconds: float = 10.0
    max_in_flight: int = 256
    cors_origins: tuple[str, ...] = ()
    # Longer than the idle timeout of common client pools and load balancers (60 s on AWS ALB,
    # 5 s in httpx), so the client, not the gateway, is the side that closes an idle connection.
    keepalive_timeout_seconds: float = 75.0

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
            cors_origins=_origins(env, "TSP_CORS_ORIGINS"),
            keepalive_timeout_seconds=_seconds(
                env, "TSP_KEEPALIVE_TIMEOUT_SECONDS", cls.keepalive_timeout_seconds
            ),
        )


def _whole(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name) or str(default)
    if not text.isdigit() or int(text) < 1:
        raise TransportSettingsError(f"{name} must be a whole number of at least 1, got {text!r}")
    return int(text)


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name) or str(default)
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise TransportSettingsError(
            f"{name} must be a number of seconds greater than 0, got {text!r}"
        )
    return value


def _origins(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """Comma-separated origins such as ``https://app.example.com`` (no path); ``*`` allows any."""
    origins = tuple(part.strip() for part in env.get(name, "").split(",") if part.strip())
    for origin in origins:
        if origin != "*" and not _is_origin(origin):
            raise TransportSettingsError(
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
