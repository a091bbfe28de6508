"""The ``tsp-gateway`` command line: serve the API, seed demo data, run the workers and the
sweep, issue tokens, register trusted documents and export the schema."""

from __future__ import annotations

from schema.long_lived import long_lived

# What serving imports lives as long as the process: paused for and frozen once (see
# schema.long_lived), not walked by the collector again and again while it is made.
with long_lived():
    import argparse
    import asyncio
    import contextlib
    import logging
    import os
    import sys
    import tempfile
    from collections.abc import Sequence
    from datetime import timedelta
    from pathlib import Path
    from typing import Any

    import uvicorn

    from datastore.connect import DatabaseURLError
    from datastore.store import StoreUnavailableError
    from edge.documents import DocumentRefused
    from edge.gateway_settings import Settings, SettingsError
    from edge.request_log import configure_logging
    from gateway import (
        create_app,
        export_worker,
        open_store,
        prepare_store,
        store_of,
        trusted_documents,
    )
    from resolvers import bulk_export_runs
    from resolvers.authorization_lifecycle import sweep_expired
    from resolvers.events import notice_expiring, prune
    from resolvers.identity import DEMO_TOKEN_TTL, Role, issue_token
    from resolvers.insight_rebuild import Rebuilt
    from resolvers.insight_rebuild import rebuild as rebuild_insights
    from resolvers.partner_closing import finish_pending
    from schema import contract
    from schema.error_log import excerpt

logger = logging.getLogger("tsp.gateway")

_STORE_FAILED = 1
_STARTUP_FAILED = 3  # uvicorn's own code for a failed start
_SHUTDOWN_MARGIN_SECONDS = 1.0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    options: dict[str, Any] = {
        "host": args.host or settings.host,
        "port": args.port or settings.port,
        "log_config": None,
        "access_log": False,
        "timeout_keep_alive": settings.transport.keepalive_timeout_seconds,
        "http": "edge.connections:GuardedHTTPProtocol",
        # On SIGTERM uvicorn waits for every open response; an event stream never ends by
        # itself, so one open partner page held the process for as long as it stayed open.
        # A request has its timeout to finish; streams still open then are closed, and their
        # clients resume after their last cursor elsewhere.
        "timeout_graceful_shutdown": settings.transport.request_timeout_seconds
        + _SHUTDOWN_MARGIN_SECONDS,
    }
    if args.workers > 1:
        # Workers are separate processes, each building the app from the environment; they
        # share their metrics through a directory that lives as long as this command.
        with tempfile.TemporaryDirectory(prefix="tsp-metrics-") as metrics_dir:
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
            uvicorn.run("gateway:app_from_env", factory=True, workers=args.workers, **options)
        return 0
    store = store_of(settings)
    app = create_app(settings, store=store, owns_store=True, freeze_heap_at_start=True)
    config = uvicorn.Config(app, **options)

    async def run() -> int:
        # The store is opened before the server starts, so a store that cannot be opened is
        # one clear log line and a non-zero exit, not a traceback and a process left waiting.
        await prepare_store(store)
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
