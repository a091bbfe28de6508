"""Settings of live feeds (subscriptions over WebSocket and SSE) and webhook delivery."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from edge.settings import EdgeSettingsError, _seconds, _whole, flag
from resolvers.webhook_targets import AllowedTargets


@dataclass(frozen=True)
class StreamSettings:
    """Limits of live feeds, how this process follows the event log, and webhook delivery."""

    subscriptions_per_connection: int = 10
    connections_per_caller: int = 10
    # A graphql-transport-ws ping every this many seconds (0: none); uvicorn pings too.
    ping_seconds: float = 15.0
    connection_init_seconds: float = 10.0
    # How often the event log is polled for events committed by any process.
    poll_seconds: float = 0.05
    # Events a subscriber may fall behind before it is cut off (it resumes with its cursor).
    queue_size: int = 1000
    # Webhooks: attempt timeout, first retry delay (doubling), how long before giving up.
    webhook_timeout_seconds: float = 10.0
    webhook_backoff_seconds: float = 5.0
    webhook_give_up_seconds: float = 24 * 3600.0
    webhook_poll_seconds: float = 1.0
    # Run the webhook delivery worker inside `serve` (off: run `tsp-gateway deliver`).
    webhook_worker: bool = True
    # Receivers off the public internet that webhooks may reach (local ones for development).
    webhook_allowed_hosts: AllowedTargets = field(default_factory=AllowedTargets)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> StreamSettings:
        return cls(
            subscriptions_per_connection=_whole(
                env, "TSP_WS_SUBSCRIPTIONS_PER_CONNECTION", cls.subscriptions_per_connection
            ),
            connections_per_caller=_whole(
                env, "TSP_WS_CONNECTIONS_PER_CALLER", cls.connections_per_caller
            ),
            ping_seconds=_seconds(env, "TSP_WS_PING_SECONDS", cls.ping_seconds),
            connection_init_seconds=_seconds(
                env, "TSP_WS_CONNECTION_INIT_SECONDS", cls.connection_init_seconds
            ),
            poll_seconds=_seconds(env, "TSP_EVENTS_POLL_SECONDS", cls.poll_seconds),
            queue_size=_whole(env, "TSP_EVENTS_QUEUE_SIZE", cls.queue_size, minimum=2),
            webhook_timeout_seconds=_seconds(
                env, "TSP_WEBHOOK_TIMEOUT_SECONDS", cls.webhook_timeout_seconds
            ),
            webhook_backoff_seconds=_seconds(
                env, "TSP_WEBHOOK_BACKOFF_SECONDS", cls.webhook_backoff_seconds
            ),
            webhook_give_up_seconds=_seconds(
                env, "TSP_WEBHOOK_GIVE_UP_SECONDS", cls.webhook_give_up_seconds
            ),
            webhook_poll_seconds=_seconds(
                env, "TSP_WEBHOOK_POLL_SECONDS", cls.webhook_poll_seconds
            ),
            webhook_worker=flag(env, "TSP_WEBHOOK_WORKER", default=True),
            webhook_allowed_hosts=_allowed_hosts(env, "TSP_WEBHOOK_ALLOWED_HOSTS"),
        )


def _allowed_hosts(env: Mapping[str, str], name: str) -> AllowedTargets:
    try:
        return AllowedTargets.parse(env.get(name, ""))
    except ValueError as error:
        raise EdgeSettingsError(
            f"{name} must be comma-separated host names, addresses or CIDRs: {error}"
        ) from None
