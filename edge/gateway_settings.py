"""Everything the gateway reads from its environment, in one frozen object, refused at start-up
when it does not describe a gateway that can run.

It gathers the layer's own parts (transport and policy in :mod:`edge.settings`, live feeds in
:mod:`edge.stream_settings`, exports in :mod:`edge.export_settings`, OpenID Connect in
:mod:`edge.oidc`) with the store's and the app's. The app (``gateway.py``), the command line
(``cli.py``) and the view read it; ``web/`` is handed the few values it needs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from datastore.connect import DEFAULT_DATABASE_URL, store_for_url
from datastore.enums import ReferralLinkKind
from datastore.store import DEFAULT_TRANSACTION_BATCH
from edge.export_settings import ExportSettings
from edge.extension import GatewayPolicy
from edge.oidc import OidcSettings, OidcSettingsError
from edge.planned_execution import Execution
from edge.settings import EdgeSettingsError, TransportSettings, flag, policy_from_env
from edge.stream_settings import StreamSettings
from resolvers.context import RequestLimits

# One item of a long job, its history entry, event and insight counters, and the event counter.
MIN_TRANSACTION_BATCH = 20
# Where referral links send sellers: TikTok Shop seller onboarding for each kind (seed 004).
DEFAULT_ONBOARDING_URL_LOCAL = "https://seller-us.tiktok.com/account/register"
DEFAULT_ONBOARDING_URL_CROSS_BORDER = "https://seller.tiktokglobalshop.com/account/register"


class SettingsError(ValueError):
    """The environment does not describe a gateway that can start."""


@dataclass(frozen=True)
class Settings:
    """Everything the gateway reads from its environment."""

    jwt_secret: str
    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = 8000
    demo: bool = False
    # 0 turns the periodic sweep of expired authorizations off (reads never depend on it).
    sweep_interval_seconds: float = 0
    # How long the event log keeps events (live feeds resume, webhooks retry, within it).
    event_retention_days: int = 30
    # What one MongoDB transaction may take, retries of conflicts included (then 503).
    transaction_seconds: int = 8
    # What one MongoDB read outside a transaction may take (then 503), and setting the store
    # up at start-up (then the command exits, saying why).
    store_read_seconds: int = 5
    store_setup_seconds: int = 30
    # The most documents one transaction of a job that grows with the data writes (pruning,
    # closing a partner, the sweep): see DocumentStore.transaction_batch.
    transaction_batch: int = DEFAULT_TRANSACTION_BATCH
    request_limits: RequestLimits = field(default_factory=RequestLimits)
    onboarding_url_local: str = DEFAULT_ONBOARDING_URL_LOCAL
    onboarding_url_cross_border: str = DEFAULT_ONBOARDING_URL_CROSS_BORDER
    policy: GatewayPolicy = field(default_factory=GatewayPolicy)
    # GraphiQL at GET /graphql; ``None`` follows demo mode.
    graphiql: bool | None = None

    @property
    def serves_graphiql(self) -> bool:
        """Whether GET /graphql serves GraphiQL (TSP_GRAPHIQL, else demo mode)."""
        return self.demo if self.graphiql is None else self.graphiql

    transport: TransportSettings = field(default_factory=TransportSettings)
    # Live feeds (subscriptions) and webhook delivery.
    streams: StreamSettings = field(default_factory=StreamSettings)
    # An OpenID Connect provider whose RS256/ES256 tokens are accepted beside the HS256 ones.
    oidc: OidcSettings | None = None
    # Queries run from their plans; ``interpreted`` is the way back, ``checked`` runs both.
    execution: Execution = Execution.PLANNED
    # Bulk exports: the worker inside `serve`, leases, retention, the export's own bucket.
    exports: ExportSettings = field(default_factory=ExportSettings)

    @property
    def onboarding_urls(self) -> dict[ReferralLinkKind, str]:
        """The seller onboarding page each kind of referral link redirects to."""
        return {
            ReferralLinkKind.LOCAL: self.onboarding_url_local,
            ReferralLinkKind.CROSS_BORDER: self.onboarding_url_cross_border,
        }

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        secret = env.get("TSP_JWT_SECRET", "")
        if len(secret) < 32:
            raise SettingsError(
                "TSP_JWT_SECRET must be set to a secret of at least 32 characters "
                "(`make run` generates a local one in var/jwt-secret)"
            )
        url = env.get("TSP_DATABASE_URL") or DEFAULT_DATABASE_URL
        store_for_url(url)  # refuses a malformed URL before anything starts
        sweep_text = env.get("TSP_SWEEP_INTERVAL_SECONDS", "300")
        if not sweep_text.isdigit():
            raise SettingsError(
                f"TSP_SWEEP_INTERVAL_SECONDS must be a whole number of seconds, got {sweep_text!r}"
            )
        limits = RequestLimits(
            max_open_per_partner=_positive_int(env, "TSP_MAX_OPEN_REQUESTS_PER_PARTNER", 1),
            max_open=_positive_int(env, "TSP_MAX_OPEN_REQUESTS", 20),
        )
        try:
            demo = flag(env, "TSP_DEMO")
            transport = TransportSettings.from_env(env)
            streams = StreamSettings.from_env(env)
            policy = policy_from_env(env, demo=demo)
            graphiql = flag(env, "TSP_GRAPHIQL", default=demo)
            oidc = OidcSettings.from_env(env)
            exports = ExportSettings.from_env(env)
        except (EdgeSettingsError, OidcSettingsError) as error:
            raise SettingsError(str(error)) from None
        execution_text = env.get("TSP_EXECUTION") or Execution.PLANNED.value
        try:
            execution = Execution(execution_text)
        except ValueError:
            choices = ", ".join(e.value for e in Execution)
            raise SettingsError(
                f"TSP_EXECUTION must be one of {choices}, got {execution_text!r}"
            ) from None
        port_text = env.get("PORT", "8000")
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise SettingsError(f"PORT must be a TCP port number, got {port_text!r}")
        return cls(
            jwt_secret=secret,
            database_url=url,
            host=env.get("HOST", "127.0.0.1"),
            port=int(port_text),
            demo=demo,
            sweep_interval_seconds=int(sweep_text),
            event_retention_days=_positive_int(env, "TSP_EVENT_RETENTION_DAYS", 30),
            transaction_seconds=_positive_int(env, "TSP_TRANSACTION_SECONDS", 8),
            store_read_seconds=_positive_int(env, "TSP_STORE_READ_SECONDS", 5),
            store_setup_seconds=_positive_int(env, "TSP_STORE_SETUP_SECONDS", 30),
            transaction_batch=_transaction_batch(env),
            request_limits=limits,
            onboarding_url_local=_http_url(
                env, "TSP_ONBOARDING_URL_LOCAL", DEFAULT_ONBOARDING_URL_LOCAL
            ),
            onboarding_url_cross_border=_http_url(
                env, "TSP_ONBOARDING_URL_CROSS_BORDER", DEFAULT_ONBOARDING_URL_CROSS_BORDER
            ),
            policy=policy,
            graphiql=graphiql,
            transport=transport,
            streams=streams,
            oidc=oidc,
            execution=execution,
            exports=exports,
        )


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name) or str(default)
    if not text.isdigit() or int(text) < 1:
        raise SettingsError(f"{name} must be a whole number of at least 1, got {text!r}")
    return int(text)


def _transaction_batch(env: Mapping[str, str]) -> int:
    batch = _positive_int(env, "TSP_TRANSACTION_BATCH", DEFAULT_TRANSACTION_BATCH)
    if batch < MIN_TRANSACTION_BATCH:
        # An item ends with its history entry and its event: a batch must hold a few.
        raise SettingsError(
            f"TSP_TRANSACTION_BATCH must be at least {MIN_TRANSACTION_BATCH}, got {batch}"
        )
    return batch


def _http_url(env: Mapping[str, str], name: str, default: str) -> str:
    """The absolute http(s) URL in ``env[name]`` (``default`` when unset or empty)."""
    url = env.get(name) or default
    try:
        parts = urlsplit(url)
        valid = (
            parts.scheme in ("http", "https")
            and bool(parts.hostname)
            and (parts.port is None or parts.port > 0)
            and not any(ch.isspace() or not ch.isprintable() for ch in url)
        )
    except ValueError:  # e.g. a malformed IPv6 host or a non-numeric port
        valid = False
    if not valid:
        raise SettingsError(f"{name} must be an absolute http(s) URL, got {url!r}")
    return url
