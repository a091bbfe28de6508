"""TSP Gateway: the Starlette app, its settings, and the ``tsp-gateway`` command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib
import json
import logging
import os
import re
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import strawberry
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from datastore.collections import INDEXES
from datastore.connect import DEFAULT_DATABASE_URL, DatabaseURLError, store_for_url
from datastore.enums import ReferralLinkKind
from datastore.store import (
    DEFAULT_TRANSACTION_BATCH,
    DocumentStore,
    StoreUnavailableError,
)
from edge.documents import DocumentRefused, TrustedDocuments
from edge.event_hub import EventHub, install, uninstall
from edge.export_options import export_options
from edge.export_pacing import InFlight, no_requests, requests_in_flight
from edge.export_settings import ExportSettings
from edge.export_worker import ExportWorker
from edge.extension import GatewayPolicy, gateway_extensions
from edge.metrics import metrics_endpoint
from edge.oidc import OidcSettings, OidcSettingsError
from edge.operation_metrics import OperationMetrics
from edge.planned_execution import Execution
from edge.readiness import Readiness
from edge.request import request_id_var
from edge.settings import EdgeSettingsError, TransportSettings, flag, policy_from_env
from edge.stack import add_edge_middleware
from edge.stream_deadline import SubscriptionsOutliveTheRequestTimeout
from edge.stream_settings import StreamSettings
from edge.throttle import Throttle
from edge.tracing import tracing_extensions
from edge.validation import validate
from edge.validation_lane import ValidationLane
from edge.view import GatewayGraphQL
from resolvers import bulk_export_runs
from resolvers.authorization_lifecycle import sweep_expired, sweep_periodically
from resolvers.context import RequestLimits
from resolvers.events import ensure_sequence, notice_expiring, prune
from resolvers.identity import Role, issue_token
from resolvers.insight_rebuild import Rebuilt
from resolvers.insight_rebuild import rebuild as rebuild_insights
from resolvers.partner_closing import finish_pending
from schema import ExtensionFactory, build_schema, contract, plain_schema
from schema.error_log import excerpt
from schema.extensions import RETRY_AFTER_SECONDS
from web.exports import export_routes
from web.graphiql import static_routes
from web.referrals import referral_routes
from web.spa import spa_routes

logger = logging.getLogger("tsp.gateway")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
DEMO_TOKEN_TTL = timedelta(days=30)
WARM_UP_AFTER_SECONDS = 1.0
_STORE_FAILED = 1
_STARTUP_FAILED = 3  # uvicorn's own code for a failed start
# One item of a long job, its history entry, event and insight counters, and the event counter.
MIN_TRANSACTION_BATCH = 20
# Where referral links send sellers: TikTok Shop seller onboarding for each kind (seed 004).
DEFAULT_ONBOARDING_URL_LOCAL = "https://seller-us.tiktok.com/account/register"
DEFAULT_ONBOARDING_URL_CROSS_BORDER = "https://seller.tiktokglobalshop.com/account/register"


# --- settings -------------------------------------------------------------------------------


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


# --- logging --------------------------------------------------------------------------------


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line, with the request id of the request being served."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
        }
        for key in ("method", "path", "status", "duration_ms"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


class RequestIdMiddleware:
    """Gives every request an id (the caller's ``X-Request-ID`` if sane), echoes it in the
    response and logs one access line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = offered if _REQUEST_ID.match(offered) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            logger.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": excerpt(scope["path"]),
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
            request_id_var.reset(token)


# --- app --------------------------------------------------------------------------------------


def _store_of(settings: Settings) -> DocumentStore:
    """The store ``settings`` name, sized as they say (not yet connected)."""
    return store_for_url(
        settings.database_url,
        transaction_seconds=settings.transaction_seconds,
        transaction_batch=settings.transaction_batch,
    )


async def open_store(settings: Settings) -> DocumentStore:
    """The connected store of ``settings`` with its indexes in place."""
    store = _store_of(settings)
    await _prepare(store)
    return store


async def _prepare(store: DocumentStore) -> None:
    """Connect ``store`` and create its indexes; on failure nothing of it stays open (no
    connection thread keeps the process alive)."""
    try:
        await store.connect()
        await store.ensure_indexes(INDEXES)
        await ensure_sequence(store)
    except BaseException:
        await store.close()
        raise


async def _healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def _readyz(request: Request) -> Response:
    """Ready when the store can commit a write now (see :mod:`edge.readiness`)."""
    error = await request.app.state.readiness.problem()
    if error is not None:
        logger.warning("not ready: %s", error)
        return JSONResponse(
            {"status": "unavailable", "reason": str(error)},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    return JSONResponse({"status": "ready"})


def freeze_startup_heap() -> None:
    """Keep what start-up built (modules, schema, caches: about 100k objects, alive as long
    as the process) out of the garbage collector's full collections. Each one otherwise walks
    all of it while holding the event loop: 55 ms in a run of 20 expensive queries, every
    other request waiting (``bench/abuse.py``'s p99).

    Only the young generations are collected first: a full collection walks all 100k objects
    (0.15 s of start-up) and finds nothing, import-time garbage having been collected as it
    was made."""
    gc.collect(1)
    gc.freeze()


def create_app(
    settings: Settings,
    store: DocumentStore | None = None,
    extensions: Sequence[ExtensionFactory] | None = None,
    *,
    owns_store: bool = False,
    freeze_heap_at_start: bool = False,
) -> Starlette:
    """The gateway app. Its lifespan opens the store (or uses ``store``) and, when it opened it
    or ``owns_store`` is set, closes it on shutdown or on a failed start. ``extensions``
    replaces the gateway layer's schema extensions (for benchmarks that compare it with less
    of itself). ``freeze_heap_at_start`` is for the one app of a serving process: see
    :func:`freeze_startup_heap`."""

    gateway_layer = gateway_extensions(settings.policy) if extensions is None else extensions
    gateway_schema = build_schema(
        [
            *gateway_layer,
            OperationMetrics,
            SubscriptionsOutliveTheRequestTimeout,
            *tracing_extensions(),
            export_options(settings.policy.limits, settings.exports),
        ],
        executor=settings.execution.executor,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owned = store is None or owns_store
        app.state.store = await open_store(settings) if store is None else store
        app.state.throttle = Throttle(app.state.store, settings.policy.throttle)
        app.state.validation_lane = ValidationLane()
        app.state.readiness = Readiness(app.state.store)
        app.state.documents = trusted_documents(app.state.store, settings, gateway_schema)
        sweeper: asyncio.Task[None] | None = None
        deliverer: asyncio.Task[None] | None = None
        exporter: asyncio.Task[None] | None = None
        app.state.event_hub = EventHub(
            app.state.store,
            poll_seconds=settings.streams.poll_seconds,
            queue_size=settings.streams.queue_size,
        )
        install(app.state.event_hub)
        warm_up = asyncio.get_running_loop().call_later(WARM_UP_AFTER_SECONDS, _warm_up)
        try:
            app.state.demo_tokens = (
                await demo_tokens(app.state.store, settings) if settings.demo else {}
            )
            if settings.sweep_interval_seconds > 0:
                sweeper = asyncio.create_task(
                    sweep_periodically(
                        app.state.store,
                        settings.sweep_interval_seconds,
                        event_retention=timedelta(days=settings.event_retention_days),
                    )
                )
            if settings.streams.webhook_worker:
                deliverer = asyncio.create_task(_deliver_webhooks(app.state.store, settings))
            if settings.exports.worker:
                # Behind the requests this process serves (see edge.export_pacing).
                in_flight = requests_in_flight(app)
                exporter = asyncio.create_task(
                    export_worker(app.state.store, settings, in_flight).run_forever()
                )
            if freeze_heap_at_start:
                freeze_startup_heap()
            logger.info("gateway ready", extra={"path": settings.database_url.split("@")[-1]})
            yield
        finally:
            warm_up.cancel()
            if sweeper is not None:
                sweeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeper
            for task in (deliverer, exporter):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            await uninstall(app.state.event_hub)
            await app.state.throttle.close()
            app.state.validation_lane.close()
            await app.state.readiness.close()
            if owned:
                await app.state.store.close()
            logger.info("gateway stopped")

    graphql = GatewayGraphQL(settings, gateway_schema)
    routes = [
        # Every method reaches the view, which answers the unserved ones as GraphQL errors.
        Route("/graphql", graphql),
        WebSocketRoute("/graphql", graphql),
        Route("/healthz", _healthz),
        Route("/readyz", _readyz),
        Route("/metrics", metrics_endpoint),
        *referral_routes(settings),
        *export_routes(),
        *static_routes(),
        *spa_routes(settings),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={StoreUnavailableError: _store_unavailable},
    )
    add_edge_middleware(app, settings.transport)
    app.add_middleware(RequestIdMiddleware)
    return app


def export_worker(
    store: DocumentStore, settings: Settings, in_flight: InFlight = no_requests
) -> ExportWorker:
    """A bulk export worker on ``store``: pages run through the gateway's schema (its limits
    and execution, without the interactive cost maximum and bucket: the export has its own),
    yielding to the ``in_flight`` requests of the process it runs in."""
    export_schema = build_schema(
        gateway_extensions(settings.policy, cost=False), executor=settings.execution.executor
    )
    return ExportWorker(
        store,
        export_schema,
        settings.exports,
        limits=settings.policy.limits,
        throttled=settings.policy.throttle.enabled,
        in_flight=in_flight,
    )


def _warm_up() -> None:
    """Loads what start-up leaves out but a caller's first token needs: PyJWT and the
    cryptography it brings (0.1 s), once the gateway has been answering for a while."""
    importlib.import_module("jwt")


async def _deliver_webhooks(store: DocumentStore, settings: Settings) -> None:
    """The webhook worker, from one poll interval after start-up on: the first answers come
    first, and httpx, which only deliveries need, is loaded then."""
    await asyncio.sleep(settings.streams.webhook_poll_seconds)
    from edge.webhooks import WebhookWorker

    await WebhookWorker(store, settings.streams).run_forever()


def trusted_documents(
    store: DocumentStore, settings: Settings, against: strawberry.Schema | None = None
) -> TrustedDocuments:
    """The trusted document registry, validating against the schema (``against``, or the one
    without the gateway layer: the types are the same) and ``settings``' limits."""
    limits = settings.policy.limits
    graphql_schema = (against or plain_schema())._schema
    return TrustedDocuments(
        store, lambda document: validate(graphql_schema, document, limits), limits
    )


async def _store_unavailable(request: Request, error: Exception) -> Response:
    """Any page (a referral redirect, say) that needed the store while it was unavailable:
    503 with ``Retry-After``, never a 500."""
    logger.warning("store unavailable: %s", error)
    return Response(
        "The service is temporarily unavailable; retry shortly.\n",
        status_code=503,
        media_type="text/plain",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def demo_tokens(store: DocumentStore, settings: Settings) -> dict[str, str]:
    """Tokens for the first demo partner and seller and an admin, for GraphiQL's banner."""
    from datastore.demo import demo_subjects

    subjects = await demo_subjects(store)
    return {
        role: issue_token(settings.jwt_secret, Role(role.upper()), subject, DEMO_TOKEN_TTL)
        for role, subject in subjects.items()
    }


# --- command line -----------------------------------------------------------------------------


def app_from_env() -> Starlette:
    """The app of a ``serve --workers N`` worker, configured from its environment."""
    configure_logging()
    return create_app(Settings.from_env(), freeze_heap_at_start=True)


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    options: dict[str, Any] = {
        "host": args.host or settings.host,
        "port": args.port or settings.port,
        "log_config": None,
        "access_log": False,
        "timeout_keep_alive": settings.transport.keepalive_timeout_seconds,
        "http": "edge.connections:GuardedHTTPProtocol",
    }
    if args.workers > 1:
        # Workers are separate processes, each building the app from the environment; they
        # share their metrics through a directory that lives as long as this command.
        with tempfile.TemporaryDirectory(prefix="tsp-metrics-") as metrics_dir:
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
            uvicorn.run("gateway:app_from_env", factory=True, workers=args.workers, **options)
        return 0
    store = _store_of(settings)
    app = create_app(settings, store=store, owns_store=True, freeze_heap_at_start=True)
    config = uvicorn.Config(app, **options)

    async def run() -> int:
        # The store is opened before the server starts, so a store that cannot be opened is
        # one clear log line and a non-zero exit, not a traceback and a process left waiting.
        await _prepare(store)
        server = uvicorn.Server(config)
        try:
            await server.serve()
        finally:
            await store.close()  # already closed by the lifespan unless the start failed
        return 0 if server.started else _STARTUP_FAILED

    # The event loop uvicorn.run would use (uvloop when installed).
    with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
        return runner.run(run())


def _workers(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}")
    return int(text)


def _seed(args: argparse.Namespace, settings: Settings) -> int:
    from resolvers.demo_seed import DemoSeed, seed_demo

    async def run() -> DemoSeed | None:
        store = await open_store(settings)
        try:
            return await seed_demo(store, only_if_empty=args.if_empty)
        finally:
            await store.close()

    seeded = asyncio.run(run())
    if seeded is None:
        print("The store already holds data; nothing seeded (drop --if-empty to add more).")
        return 0
    print("Demo data seeded. Tokens (valid 30 days), send as 'Authorization: Bearer <token>':")
    for role, subject in seeded.subjects.items():
        token = issue_token(settings.jwt_secret, Role(role.upper()), subject, DEMO_TOKEN_TTL)
        print(f"  {role:8} {subject}\n           {token}")
    print(
        "The demo seller's open service offer (served by `make run`): "
        f"http://{settings.host}:{settings.port}/authorize/{seeded.offer_link_token}"
    )
    return 0


def _sweep(args: argparse.Namespace, settings: Settings) -> int:
    async def run() -> tuple[int, int, int, int, int]:
        store = await open_store(settings)
        try:
            completed = await sweep_expired(store)
            finished = await finish_pending(store)
            noticed = await notice_expiring(store)
            pruned = await prune(store, timedelta(days=settings.event_retention_days))
            exports = await bulk_export_runs.sweep(store)
            return completed, finished, noticed, pruned, exports
        finally:
            await store.close()

    completed, finished, noticed, pruned, exports = asyncio.run(run())
    print(f"Completed {completed} expired authorizations.")
    if finished:
        print(f"Finished {finished} partner closes that were interrupted.")
    print(f"Events: {noticed} AUTHORIZATION_EXPIRING written, {pruned} past retention pruned.")
    print(f"Bulk exports: {exports} files past retention or of ended exports deleted.")
    return 0


def _insights(args: argparse.Namespace, settings: Settings) -> int:
    async def run() -> Rebuilt:
        store = await open_store(settings)
        try:
            return await rebuild_insights(store)
        finally:
            await store.close()

    rebuilt = asyncio.run(run())
    print(
        f"Insight counters rebuilt: {rebuilt.counters} documents from {rebuilt.history_entries} "
        f"history entries and {rebuilt.link_opens} link opens."
    )
    return 0


def _deliver(args: argparse.Namespace, settings: Settings) -> int:
    """Deliver webhooks from this process (beside or instead of the workers in `serve`)."""
    from edge.webhooks import WebhookWorker

    async def run() -> None:
        store = await open_store(settings)
        try:
            await WebhookWorker(store, settings.streams).run_forever()
        finally:
            await store.close()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0


def _export_worker(args: argparse.Namespace, settings: Settings) -> int:
    """Run bulk exports from this process (beside or instead of the worker in `serve`)."""

    async def run() -> None:
        store = await open_store(settings)
        try:
            await export_worker(store, settings).run_forever()
        finally:
            await store.close()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0


def _token(args: argparse.Namespace, settings: Settings) -> int:
    role = Role(args.role.upper())
    if role is not Role.ADMIN and not args.id:
        print(f"--id is required for role {role.value.lower()}", file=sys.stderr)
        return 2
    subject = args.id or "admin"
    print(issue_token(settings.jwt_secret, role, subject, timedelta(hours=args.hours)))
    return 0


def _documents(args: argparse.Namespace, settings: Settings) -> int:
    async def run() -> int:
        store = await open_store(settings)
        try:
            registry = trusted_documents(store, settings)
            if args.action == "list":
                for identifier, text in await registry.list():
                    first_line = text.strip().splitlines()[0] if text.strip() else ""
                    print(f"{identifier}  {excerpt(first_line, 60)}")
                return 0
            status = 0
            for path in args.files:
                try:
                    text = Path(path).read_text(encoding="utf-8")  # noqa: ASYNC240
                    print(f"{await registry.add(text)}  {path}")
                except (OSError, UnicodeDecodeError, DocumentRefused) as error:
                    print(f"tsp-gateway: {path}: {error}", file=sys.stderr)
                    status = 1
            return status
        finally:
            await store.close()

    return asyncio.run(run())


def _export_schema(args: argparse.Namespace, settings: Settings | None) -> int:
    if args.check is not None:
        path = Path(args.check)
        if not path.is_file():
            print(f"tsp-gateway: {path} does not exist: run make schema", file=sys.stderr)
            return 2
        comparison = contract.compare(path.read_text(encoding="utf-8"))
        print(contract.report(comparison, path), file=sys.stdout if comparison.same else sys.stderr)
        return 0 if comparison.same else 1
    text = contract.exported_sdl()
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tsp-gateway", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the GraphQL API and GraphiQL")
    serve.add_argument("--host", help="interface to bind (default: $HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (default: $PORT or 8000)")
    serve.add_argument("--workers", type=_workers, default=1, help="worker processes (default: 1)")
    seed = commands.add_parser("seed", help="load demo data into the store")
    seed.add_argument("--demo", action="store_true", required=True, help="the demo data set")
    seed.add_argument("--if-empty", action="store_true", help="only when the store is empty")
    token = commands.add_parser("token", help="print a signed bearer token")
    token.add_argument("--role", required=True, choices=["partner", "seller", "admin"])
    token.add_argument("--id", help="the partner or seller id the token acts as")
    token.add_argument("--hours", type=float, default=24, help="lifetime (default 24)")
    commands.add_parser("sweep", help="persist COMPLETED for expired authorizations, once")
    commands.add_parser("deliver", help="deliver webhooks until stopped (a separate worker)")
    commands.add_parser("export-worker", help="run bulk exports until stopped (a separate worker)")
    insights = commands.add_parser("insights", help="maintain the partner insight counters")
    insight_actions = insights.add_subparsers(dest="action", required=True)
    insight_actions.add_parser(
        "rebuild", help="recompute every insight counter from history and link opens"
    )
    documents = commands.add_parser(
        "documents", help="register trusted documents (persisted operations) or list them"
    )
    document_actions = documents.add_subparsers(dest="action", required=True)
    add = document_actions.add_parser("add", help="register .graphql files, printing their ids")
    add.add_argument("files", nargs="+", metavar="FILE.graphql")
    document_actions.add_parser("list", help="list the registered documents")
    export = commands.add_parser("export-schema", help="print the schema in SDL")
    export.add_argument("--output", "-o", help="write to this file instead of stdout")
    export.add_argument(
        "--check",
        nargs="?",
        const=str(contract.COMMITTED),
        metavar="FILE",
        help="compare with the committed SDL (default schema.graphql) and list breaking "
        "changes; exit 1 when it differs",
    )
    return parser


DEVELOPMENT_SECRET_FILE = Path("var/jwt-secret")
"""Where ``make run`` keeps the local development JWT secret (relative to the working folder)."""


def _use_development_secret() -> None:
    """Without ``TSP_JWT_SECRET``, the secret ``make run`` generated, as the README's examples
    assume; said on stderr so nobody mistakes it for a configured one. Put in the environment
    so ``serve --workers N`` workers inherit it."""
    if os.environ.get("TSP_JWT_SECRET") or not DEVELOPMENT_SECRET_FILE.is_file():
        return
    os.environ["TSP_JWT_SECRET"] = DEVELOPMENT_SECRET_FILE.read_text(encoding="utf-8").strip()
    print(
        f"tsp-gateway: TSP_JWT_SECRET is unset; using the development secret in "
        f"{DEVELOPMENT_SECRET_FILE}",
        file=sys.stderr,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tsp-gateway`` command."""
    args = _parser().parse_args(argv)
    configure_logging()
    if args.command == "export-schema":
        return _export_schema(args, None)
    _use_development_secret()
    if args.command == "serve" and args.workers > 1:
        # Each worker's fair share of a throttle bucket while the store cannot be reached;
        # an operator running replicas sets the total across them.
        os.environ.setdefault("TSP_THROTTLE_PROCESSES", str(args.workers))
    try:
        settings = Settings.from_env()
    except (SettingsError, DatabaseURLError) as error:
        print(f"tsp-gateway: {error}", file=sys.stderr)
        return 2
    handlers = {
        "serve": _serve,
        "seed": _seed,
        "token": _token,
        "sweep": _sweep,
        "deliver": _deliver,
        "export-worker": _export_worker,
        "documents": _documents,
        "insights": _insights,
    }
    try:
        return handlers[args.command](args, settings)
    except StoreUnavailableError as error:
        # Expected trouble (unreachable server, uncreatable path): say so in one line.
        logger.error("cannot use the store: %s", error)
        return _STORE_FAILED


if __name__ == "__main__":
    raise SystemExit(main())
