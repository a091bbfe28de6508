"""The bulk export worker: runs claimed exports page by page into a JSONL file in the store.

Each page is the caller's own query (rewritten by ``resolvers.bulk_export_query``) executed
through the gateway's schema with the caller's viewer and a fresh context (clock and loaders),
so the file holds exactly what the caller's paging sees, and memory stays one page plus one
file chunk whatever the export's size. Lines go to the file as each page is read, with a
running SHA-256 and size; the export is COMPLETED only after the file's last chunk was written.

It runs inside ``serve`` and as ``tsp-gateway export-worker``; any number of workers share the
work through leases (``resolvers.bulk_export_runs``).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import orjson
import strawberry
from graphql import parse

from datastore.documents import BulkExportDocument
from datastore.store import DocumentStore
from edge.bulk_query_gate import LimitsGate
from edge.cost import actual_cost, select_operation
from edge.export_pacing import InFlight, Pacing, no_requests
from edge.export_settings import ExportSettings
from edge.limits import Limits
from edge.request import GatewayContext, GatewayRequest
from edge.throttle import Throttle, ThrottlePolicy
from resolvers import bulk_export_runs as runs
from resolvers.bulk_export_lines import connection_at, emit_page, next_cursor
from resolvers.bulk_export_query import (
    AFTER,
    FIRST,
    PAGE_SIZE,
    PARENT,
    Connection,
    QueryRefused,
    plan_export,
)
from resolvers.bulk_exports import owner_of, viewer_of
from resolvers.round_failures import RoundFailures

logger = logging.getLogger("tsp.exports")
_RENEW_SECONDS = 1.0


class _Stop(Exception):
    """The export is no longer this worker's to run (canceled or taken over)."""


class _QueryFailed(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ExportWorker:
    """Claims exports from the store and runs them, one at a time, through the schema that
    ``build_schema`` builds when the first export is claimed: a serving process that never
    runs one never spends its start-up (or any time) on a second schema."""

    def __init__(
        self,
        store: DocumentStore,
        build_schema: Callable[[], strawberry.Schema],
        settings: ExportSettings,
        *,
        limits: Limits | None = None,
        throttled: bool = True,
        in_flight: InFlight = no_requests,
    ) -> None:
        self.store = store
        # The gateway's structural limits, which the schema's pages run under too.
        self.limits = limits or Limits()
        # The interactive requests of the process it runs in, which go first.
        self.in_flight = in_flight
        # Off with the gateway's throttling (TSP_THROTTLE=0): then exports do not wait either.
        self.throttled = throttled
        self._build_schema = build_schema
        self.settings = settings
        self.worker_id = f"exw_{uuid.uuid4().hex[:16]}"
        self.lease = timedelta(seconds=settings.lease_seconds)
        self.retention = timedelta(days=settings.retention_days)
        policy = ThrottlePolicy(
            capacity=settings.throttle_capacity,
            restore_rate=settings.throttle_restore_rate,
            admin_capacity=settings.throttle_capacity,
            admin_restore_rate=settings.throttle_restore_rate,
        )
        self.throttle = Throttle(store, policy)

    @functools.cached_property
    def schema(self) -> strawberry.Schema:
        return self._build_schema()

    async def run_forever(self) -> None:
        """Run exports until cancelled; store trouble is logged and retried after a pause."""
        failures = RoundFailures(logger, "export worker")
        while True:
            try:
                worked = await self.run_once()
                failures.succeeded()
            except Exception:
                failures.failed()
                worked = False
            if not worked:
                await asyncio.sleep(self.settings.poll_seconds)

    async def run_once(self) -> bool:
        """Claim one export and run it to its end; ``False`` when there was none to run."""
        export, stale = await runs.claim_next(self.store, self.worker_id, self.lease)
        for file_id in stale:
            await self.store.files.delete(file_id)
        if export is None:
            return False
        await _Run(self, export).run()
        return True


class _Run:
    """One attempt at one export."""

    def __init__(self, worker: ExportWorker, export: BulkExportDocument) -> None:
        self.worker = worker
        self.store = worker.store
        self.export = export
        self.owner = owner_of(viewer_of(export))
        self.file_id = export["fileId"]
        self.writer = self.store.files.open_writer(self.file_id)
        self.buffer = bytearray()
        self.digest = hashlib.sha256()
        self.size = 0
        self.lines = 0
        self.roots = 0
        self.renewed_at = time.monotonic()
        self.pacing = Pacing(worker.in_flight, PAGE_SIZE)
        self._parsed: dict[str, Any] = {}

    async def run(self) -> None:
        try:
            plan = plan_export(
                self.worker.schema._schema, self.export["query"], LimitsGate(self.worker.limits)
            )
            await self._read_all(plan.page_document, plan.top)
            await self._flush()
            await self.writer.close()
        except _Stop:
            await self._discard()
            return
        except QueryRefused as refused:
            await self._fail(refused.code.value, refused.message)
            return
        except _QueryFailed as failed:
            await self._fail(failed.code, str(failed))
            return
        except BaseException:
            # Store trouble or a crash of this process: the lease runs out and another
            # attempt starts over; what was written is deleted then.
            raise
        done = await runs.complete(
            self.store,
            self.export,
            self.worker.retention,
            objectCount=self.lines,
            rootObjectCount=self.roots,
            fileSize=self.size,
            sha256=self.digest.hexdigest(),
            fileId=self.file_id,
        )
        if done is None:
            await self.store.files.delete(self.file_id)
        else:
            logger.info("export %s completed: %d lines", done["_id"], done["objectCount"])

    async def _read_all(self, page_document: str, top: Connection) -> None:
        after: str | None = None
        while True:
            first = await self.pacing.next_page()
            data = await self._execute(page_document, {FIRST: first, AFTER: after})
            connection = connection_at(data, top.path)
            if not isinstance(connection, Mapping):
                return
            edges = connection.get("edges") if top.via_edges else connection.get("nodes")
            self.roots += len(edges or ())
            self.lines += await emit_page(top, connection, None, self._emit, self._more)
            await self._flush()
            await self._renew()
            after = next_cursor(connection)
            if after is None:
                return

    async def _more(self, plan: Connection, parent_id: str, after: str) -> Mapping[str, Any] | None:
        await self._flush()
        await self.pacing.next_page()  # its turn; nested pages keep their size
        data = await self._execute(plan.follow_up, {PARENT: parent_id, AFTER: after})
        found = connection_at((data or {}).get("node"), plan.path)
        return found if isinstance(found, Mapping) else None

    def _emit(self, line: dict[str, Any]) -> None:
        self.buffer += orjson.dumps(line)
        self.buffer += b"\n"

    async def _flush(self) -> None:
        if not self.buffer:
            return
        data = bytes(self.buffer)
        self.buffer.clear()
        self.digest.update(data)
        self.size += len(data)
        await self.writer.write(data)

    async def _execute(self, document: str, variables: dict[str, Any]) -> dict[str, Any] | None:
        """One page, as the owner's own request would read it."""
        viewer = viewer_of(self.export)
        gate = GatewayRequest(caller=f"export:{self.owner}", admin=viewer.is_admin)
        context = GatewayContext(
            store=self.store,
            viewer=viewer,
            request_id=f"export-{self.export['_id']}",
            gateway=gate,
        )
        result = await self.worker.schema.execute(
            document, variable_values=variables, context_value=context
        )
        if result.errors:
            error = result.errors[0]
            code = str((error.extensions or {}).get("code") or "QUERY_ERROR")
            raise _QueryFailed(code, f"the query failed on a page: {error.message}")
        cost = gate.counted_cost
        if cost is None:
            cost = self._cost(document, variables, result.data)
        await self._spend(cost)
        return result.data

    def _cost(self, text: str, variables: dict[str, Any], data: Any) -> int:
        parsed = self._parsed.get(text)
        if parsed is None:
            parsed = self._parsed[text] = parse(text)
        operation = select_operation(parsed, None)
        assert operation is not None
        return actual_cost(self.worker.schema._schema, parsed, operation, variables, data)

    async def _spend(self, cost: int) -> None:
        """Take a page's cost from the export's own bucket, waiting while it is empty."""
        if not self.worker.throttled:
            return
        throttle = self.worker.throttle
        amount = min(float(cost), throttle.policy.capacity)
        while True:
            decision = await throttle.spend(f"export:{self.owner}", amount)
            if decision.granted:
                return
            await self._renew(force=True)
            await asyncio.sleep(decision.retry_after_seconds)

    async def _renew(self, *, force: bool = False) -> None:
        if not force and time.monotonic() - self.renewed_at < _RENEW_SECONDS:
            return
        renewed = await runs.renew(
            self.store,
            self.export,
            self.worker.lease,
            objectCount=self.lines,
            rootObjectCount=self.roots,
            fileSize=self.size,
        )
        if renewed is None:
            raise _Stop
        self.export = renewed
        self.renewed_at = time.monotonic()

    async def _fail(self, code: str, message: str) -> None:
        await self._discard()
        await runs.fail(self.store, self.export, code, message)

    async def _discard(self) -> None:
        await self.writer.abort()
        await self.store.files.delete(self.file_id)
