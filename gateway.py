"""TSP Gateway: the Starlette app, assembled from its layers (see docs/developing.md).

The settings live in :mod:`edge.gateway_settings`, the ``tsp-gateway`` command line in
:mod:`cli`; this module puts the schema, the gateway layer, the pages and the background work
together into one app and opens its store.
"""

from __future__ import annotations

from schema.long_lived import long_lived

# What serving imports lives as long as the process: paused for and frozen once (see
# schema.long_lived), not walked by the collector again and again while it is made.
with long_lived():
    import asyncio
    import contextlib
    import importlib
    import logging
    from collections.abc import AsyncIterator, Coroutine, Sequence
    from datetime import timedelta
    from typing import Any

    import strawberry
    from starlette.applications import Starlette
    from starlette.routing import Route, WebSocketRoute

    from datastore.connect import store_for_url
    from datastore.store import DocumentStore, StoreUnavailableError
    from edge.deferred_writes import DeferredWrites
    from edge.documents import TrustedDocuments
    from edge.export_download import export_routes
    from edge.export_options import export_options
    from edge.export_pacing import InFlight, no_requests, requests_in_flight
    from edge.export_worker import ExportWorker
    from edge.extension import gateway_extensions
    from edge.gateway_settings import Settings
    from edge.metrics import metrics_endpoint
    from edge.operation_metrics import OperationMetrics
    from edge.readiness import Readiness, health_routes, store_unavailable_page
    from edge.request_log import configure_logging
    from edge.stack import add_edge_middleware
    from edge.startup_heap import freeze_startup_heap
    from edge.stream_deadline import SubscriptionsOutliveTheRequestTimeout
    from edge.throttle import Throttle
    from edge.tracing import tracing_extensions
    from edge.validation import validate
    from edge.validation_lane import ValidationLane
    from edge.view import GatewayGraphQL
    from resolvers.authorization_lifecycle import sweep_periodically
    from resolvers.event_hub import EventHub, install, uninstall
    from resolvers.identity import demo_tokens
    from resolvers.store_setup import set_up_store
    from schema.api import ExtensionFactory, build_schema, plain_schema
    from web.graphiql import graphiql_response, static_routes
    from web.referrals import referral_routes
    from web.spa import spa_routes

logger = logging.getLogger("tsp.gateway")

WARM_UP_AFTER_SECONDS = 1.0


def store_of(settings: Settings) -> DocumentStore:
    """The store ``settings`` name, sized as they say (not yet connected)."""
    return store_for_url(
        settings.database_url,
        transaction_seconds=settings.transaction_seconds,
        transaction_batch=settings.transaction_batch,
        read_seconds=settings.store_read_seconds,
        setup_seconds=settings.store_setup_seconds,
    )


async def open_store(settings: Settings) -> DocumentStore:
    """The connected store of ``settings`` with its indexes in place."""
    store = store_of(settings)
    await prepare_store(store)
    return store


async def prepare_store(store: DocumentStore) -> None:
    """Connect ``store`` and :func:`set_up_store`; on failure nothing of it stays open (no
    connection thread keeps the process alive)."""
    try:
        await store.connect()
        await set_up_store(store)
    except BaseException:
        await store.close()
        raise


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
        state = app.state
        state.store = await open_store(settings) if store is None else store
        state.throttle = Throttle(state.store, settings.policy.throttle)
        state.validation_lane = ValidationLane()
        state.readiness = Readiness(state.store)
        state.deferred_writes = DeferredWrites()
        state.documents = trusted_documents(state.store, settings, gateway_schema)
        state.event_hub = EventHub(
            state.store,
            poll_seconds=settings.streams.poll_seconds,
            queue_size=settings.streams.queue_size,
        )
        install(state.event_hub)
        warm_up = asyncio.get_running_loop().call_later(WARM_UP_AFTER_SECONDS, _warm_up)
        tasks: list[asyncio.Task[None]] = []
        try:
            secret = settings.jwt_secret
            state.demo_tokens = await demo_tokens(state.store, secret) if settings.demo else {}
            tasks = _start_background_work(app, settings)
            if freeze_heap_at_start:
                freeze_startup_heap()
            logger.info("gateway ready", extra={"path": settings.database_url.split("@")[-1]})
            yield
        finally:
            warm_up.cancel()
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await uninstall(state.event_hub)
            await state.throttle.close()
            await state.deferred_writes.close()
            state.validation_lane.close()
            await state.readiness.close()
            if owned:
                await state.store.close()
            logger.info("gateway stopped")

    graphql = GatewayGraphQL(settings, gateway_schema, ide_page=graphiql_response)
    routes = [
        # Every method reaches the view, which answers the unserved ones as GraphQL errors.
        Route("/graphql", graphql),
        WebSocketRoute("/graphql", graphql),
        *health_routes(),
        Route("/metrics", metrics_endpoint),
        *referral_routes(settings.onboarding_urls, throttled=settings.policy.throttle.enabled),
        *export_routes(),
        *static_routes(),
        *spa_routes(demo=settings.demo, jwt_secret=settings.jwt_secret),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={StoreUnavailableError: store_unavailable_page},
    )
    add_edge_middleware(app, settings.transport)
    return app


def _start_background_work(app: Starlette, settings: Settings) -> list[asyncio.Task[None]]:
    """What ``settings`` have this process run beside serving: the sweep of expired
    authorizations, webhook delivery and bulk exports."""
    store = app.state.store
    work: list[Coroutine[Any, Any, None]] = []
    if settings.sweep_interval_seconds > 0:
        retention = timedelta(days=settings.event_retention_days)
        work.append(
            sweep_periodically(store, settings.sweep_interval_seconds, event_retention=retention)
        )
    if settings.streams.webhook_worker:
        work.append(_deliver_webhooks(store, settings))
    if settings.exports.worker:
        # Behind the requests this process serves (see edge.export_pacing).
        work.append(export_worker(store, settings, requests_in_flight(app)).run_forever())
    return [asyncio.create_task(one) for one in work]


def export_worker(
    store: DocumentStore, settings: Settings, in_flight: InFlight = no_requests
) -> ExportWorker:
    """A bulk export worker on ``store``: pages run through the gateway's schema (its limits
    and execution, without the interactive cost maximum and bucket: the export has its own),
    yielding to the ``in_flight`` requests of the process it runs in."""
    return ExportWorker(
        store,
        lambda: build_schema(
            gateway_extensions(settings.policy, cost=False), executor=settings.execution.executor
        ),
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


def app_from_env() -> Starlette:
    """The app of a ``serve --workers N`` worker, configured from its environment."""
    configure_logging()
    return create_app(Settings.from_env(), freeze_heap_at_start=True)
