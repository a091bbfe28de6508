"""Planned execution: a query answered level by level from its plan (:mod:`edge.operation_plans`).

graphql-core executes depth first, one field at a time: a resolve-info, Strawberry's argument
conversion and ``Info``, and for every field still waiting on a loader a coroutine and a task.
A planned run walks the answer breadth first instead. For each level it reads every object's
fields (attributes read directly, resolvers called with their arguments converted once per
run), keeps what is still loading, waits for all of it at once (the level's loads went out as
one batch per loader, as before), then completes the values, which lines up the next level's
objects. Round trips stay one per loader per level.

Errors are the interpreted path's business: the first error a planned run meets (a resolver
raising, a null where the schema promises a value, a value that does not coerce) ends it, and
the operation runs again through graphql-core, which reports errors, their paths and the nulls
they propagate exactly as the GraphQL spec says. It runs on fresh loaders, as it would have
without the planned run: graphql-core records errors in the order its resolvers fail, and a
resolver whose reads the planned run left loaded fails sooner (an error moves ahead of
another's, or a null that ends the operation drops errors not yet recorded). Only queries are
planned, so the second run reads again what the first read and writes nothing.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import json
import logging
import time
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    ExperimentalIncrementalExecutionResults,
    GraphQLError,
    GraphQLResolveInfo,
    OperationType,
    Undefined,
)

from datastore.loaders import BatchLoader, Loaders
from datastore.store import uncounted
from edge import engine, operation_plans, plan_assembly
from edge.cost import actual_cost
from edge.engine import (
    AwaitableOrValue,
    EngineExecutor,
    Path,
    check_permission,
    converted_arguments,
    is_iterable,
)
from edge.executing import ExecutionGate
from edge.metrics import count_execution
from edge.operation_plans import (
    Completion,
    FieldPlan,
    ObjectPlan,
    OperationPlan,
    Shape,
    Unplanned,
    planned,
)
from edge.plan_assembly import PENDING, PLAIN, fill_of
from edge.request import GatewayRequest

_log = logging.getLogger(__name__)
_Result = ExecutionResult | ExperimentalIncrementalExecutionResults


class Fallback(StrEnum):
    """Why a planned run ended before its answer (a bounded set: the label of a metric)."""

    ERROR = "error"
    """A resolver or a read raised or answered an error (or a value graphql-core reports as
    one: not a list, not of the field's type)."""
    NULL = "null"
    """A null where the schema promises a value."""
    UNCOERCED = "uncoerced"
    """A leaf value that does not coerce to its type."""
    BUG = "bug"
    """Anything else: the plan, its generated code or the run went wrong. Never expected."""


class _Interpret(Exception):
    """The planned run ends: the interpreted run answers (and reports any error)."""

    def __init__(self, reason: Fallback, detail: str, key: str | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.key = key
        """The response key of the field it ended at, when known."""


_ENGINE_CODE = ("<plan of ", "<page plan of ")
"""Generated code's file names (``edge.plan_assembly``)."""


def _fallback_of(error: Exception, key: str | None = None) -> _Interpret:
    """What ends a run on an exception that is not one of its own signals: a resolver's or a
    read's error where the exception was raised outside the executor's own code, a bug where
    the executor or its generated code raised it."""
    if isinstance(error, _Interpret):
        return error
    traceback = error.__traceback__
    while traceback is not None and traceback.tb_next is not None:
        traceback = traceback.tb_next
    where = traceback.tb_frame.f_code.co_filename if traceback is not None else ""
    engine = where.startswith(_ENGINE_CODE) or where in _ENGINE_FILES
    reason = Fallback.BUG if engine else Fallback.ERROR
    return _Interpret(reason, f"{type(error).__name__}: {error}", key)


class PlannedExecutor(EngineExecutor):
    """Strawberry's graphql-core executor, which answers a plannable query from its plan.

    Every operation is counted by how it ran (``/metrics``, ``tsp_graphql_executions``). A
    planned run that ends on a bug (see :class:`Fallback`) is logged, once per plan, with the
    request's id, and answered interpreted."""

    def execute_operation(self, serially: bool | None = None) -> AwaitableOrValue[_Result]:
        gateway = getattr(self.context_value, "gateway", None)
        executions = getattr(gateway, "executions", None)
        if executions is not None and self.operation.operation is OperationType.QUERY:
            # Mutations never wait for a turn: a write waiting for the store's writer would
            # hold one, and reads never wait on writes.
            return self._in_turn(executions, serially)
        return self._execute(serially)

    async def _in_turn(self, executions: ExecutionGate, serially: bool | None) -> _Result:
        async with executions.turn():
            result = self._execute(serially)
            return await result if isinstance(result, Awaitable) else result

    def _execute(self, serially: bool | None) -> AwaitableOrValue[_Result]:
        plan = self._plan(serially)
        if not isinstance(plan, OperationPlan):
            self._unplanned(plan)
            return super().execute_operation(serially)
        return self._execute_planned(plan, serially)

    def _plan(self, serially: bool | None) -> OperationPlan | Unplanned:
        # Field middleware (a schema extension's ``resolve`` hook) wraps each resolver call,
        # which a plan skips: such a schema runs interpreted.
        kind = self.operation.operation
        if kind is not OperationType.QUERY:
            return Unplanned(kind.value)
        if serially:
            return Unplanned.SERIAL
        if self.abortable():
            return Unplanned.ABORTABLE
        if self.has_field_middleware():
            return Unplanned.MIDDLEWARE
        return planned(self.schema, self.operation, self.fragments, self.variable_values)

    def _unplanned(self, reason: Unplanned) -> None:
        count_execution("unplanned", reason)

    async def _execute_planned(self, plan: OperationPlan, serially: bool | None) -> _Result:
        data = await self._planned_data(plan)
        if isinstance(data, _Interpret):
            return await self._interpreted_afresh(serially)
        return self.build_response(data)

    async def _planned_data(self, plan: OperationPlan) -> dict[str, Any] | _Interpret:
        """The plan's answer, or why the run ended before it (counted, and a bug reported)."""
        try:
            data = await _PlannedRun(self, plan).data()
        except _Interpret as fallback:
            count_execution("fallen_back", fallback.reason)
            if fallback.reason is Fallback.BUG:
                self._bug(plan, fallback)
            return fallback
        count_execution("planned")
        return data

    def _bug(self, plan: OperationPlan, fallback: _Interpret) -> None:
        if plan.reported:
            return
        plan.reported = True
        request_id = getattr(self.context_value, "request_id", None)
        _log.error(
            "the planned run of %s ended on a bug (answered interpreted; logged once per plan) "
            "in request %s: %s",
            _operation_name(self),
            request_id,
            fallback,
            exc_info=fallback,
        )

    async def _interpreted(self, serially: bool | None) -> _Result:
        result = super().execute_operation(serially)
        return await result if isinstance(result, Awaitable) else result

    async def _interpreted_afresh(self, serially: bool | None) -> _Result:
        """The interpreted answer as if nothing had run before: on fresh loaders, with no
        error recorded (see the module's docstring)."""
        loaders = getattr(self.context_value, "loaders", None)
        if isinstance(loaders, Loaders):
            self.context_value.loaders = Loaders(loaders.store)
            loaders.release()
        self.forget_errors()
        return await self._interpreted(serially)


class CheckedPlannedExecutor(PlannedExecutor):
    """Runs every planned query both ways and records in :data:`mismatches` an answer of the
    planned way (the planned data, or what follows a planned run that met an error) that
    differs from a cold interpreted run's: data byte for byte, errors by message, path, code
    and order (tests fail on any). A planned run that ends on a bug is a mismatch too, and so
    is one that ends on an error where the interpreted run finds none. The planned way is the
    request's (its store reads count, as in service); the interpreted run that checks it reads
    uncounted, on fresh loaders. :data:`executions` tallies what was compared. For tests and
    for trying a resolver against the plans, not for serving."""

    def _unplanned(self, reason: Unplanned) -> None:
        super()._unplanned(reason)
        executions[("unplanned", reason)] += 1

    def _bug(self, plan: OperationPlan, fallback: _Interpret) -> None:
        super()._bug(plan, fallback)
        _mismatch(self, f"the planned run ended on a bug: {fallback}")

    async def _execute_planned(self, plan: OperationPlan, serially: bool | None) -> _Result:
        data = await self._planned_data(plan)
        if isinstance(data, _Interpret):
            planned = await self._interpreted_afresh(serially)
        else:
            planned = self.build_response(data)
        assert isinstance(planned, ExecutionResult)
        with uncounted():
            interpreted = await self._interpreted_afresh(serially)
        assert isinstance(interpreted, ExecutionResult)
        if isinstance(data, _Interpret):
            self._check_fallback(data, interpreted)
        else:
            executions[("planned", "")] += 1
        if _errors(planned) != _errors(interpreted):
            _mismatch(
                self, f"errors {_errors(planned)}\nwhere interpreted found {_errors(interpreted)}"
            )
        elif _encoded(planned.data) != _encoded(interpreted.data):
            expected = _encoded(interpreted.data)[:2000]
            _mismatch(self, f"planned {_encoded(planned.data)[:2000]}\ninterpreted {expected}")
        elif not planned.errors:
            self._check_counted_cost(interpreted.data)
        return interpreted

    def _check_fallback(self, fallback: _Interpret, interpreted: ExecutionResult) -> None:
        """A planned run that ended on an error is right if the interpreted run reports one,
        and compared if it reports one at the field where the planned run met it."""
        if fallback.reason is Fallback.BUG:
            executions[("fallen_back", fallback.reason)] += 1
        elif not interpreted.errors:
            _mismatch(self, f"the planned run ended ({fallback}) where interpreted found no error")
        elif fallback.key is not None and any(
            _field_key(error.path) == fallback.key for error in interpreted.errors
        ):
            executions[("planned", "at its error")] += 1
        else:
            executions[("fallen_back", fallback.reason)] += 1

    def _check_counted_cost(self, data: Any) -> None:
        gateway = getattr(self.context_value, "gateway", None)
        counted = gateway.counted_cost if isinstance(gateway, GatewayRequest) else None
        if counted is None:
            return
        document = DocumentNode(
            definitions=(self.operation, *(f.definition for f in self.fragments.values()))
        )
        walked = actual_cost(
            self.schema, document, self.operation, self.variable_values.coerced, data
        )
        if counted != walked:
            _mismatch(self, f"counted an actual cost of {counted}, the answer's walk {walked}")


class Execution(StrEnum):
    """How the gateway executes queries (``TSP_EXECUTION``)."""

    PLANNED = "planned"
    """From their plans when they have one (the default)."""
    INTERPRETED = "interpreted"
    """Through graphql-core, field by field."""
    CHECKED = "checked"
    """Both ways, answering the interpreted result and recording any difference."""

    @property
    def executor(self) -> type[PlannedExecutor] | None:
        """The executor class for the schema (``None``: Strawberry's own)."""
        return {
            Execution.PLANNED: PlannedExecutor,
            Execution.INTERPRETED: None,
            Execution.CHECKED: CheckedPlannedExecutor,
        }[self]


mismatches: list[str] = []
"""What :class:`CheckedPlannedExecutor` found, one line per operation that differed."""

executions: collections.Counter[tuple[str, str]] = collections.Counter()
"""What :class:`CheckedPlannedExecutor` ran, by how and why (the labels of
``tsp_graphql_executions``): ``("planned", "")`` were compared byte for byte."""


def _operation_name(executor: PlannedExecutor) -> str:
    return executor.operation.name.value if executor.operation.name else "(anonymous)"


def _mismatch(executor: PlannedExecutor, what: str) -> None:
    name = _operation_name(executor)
    mismatches.append(f"{name}: {what}")
    _log.error("planned and interpreted execution differ for %s: %s", name, what)


def _errors(result: ExecutionResult) -> list[tuple[str, Any, Any]]:
    """What a client reads of ``result``'s errors, in order: message, path and code."""
    return [
        (error.message, error.path, (error.extensions or {}).get("code"))
        for error in result.errors or ()
    ]


def _field_key(path: list[str | int] | None) -> str | None:
    """The response key of the field an error's path ends at (past any list index)."""
    for part in reversed(path or ()):
        if isinstance(part, str):
            return part
    return None


def _encoded(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


_awaitable_types: dict[type, bool] = {}
_NOTHING: dict[Any, Any] = {}


def _is_awaitable(value: Any) -> bool:
    kind = type(value)
    known = _awaitable_types.get(kind)
    if known is None:
        known = _awaitable_types[kind] = isinstance(value, Awaitable)
    return known


_Waiting = tuple[Awaitable[Any], dict[str, Any], FieldPlan, Path | None]
"""A resolver's value still to come: not started until its level is complete (see ``data``)."""
_Started = tuple["asyncio.Future[Any]", dict[str, Any], FieldPlan, Path | None]


class _FieldLoads:
    """A loads field's part of one run: its loader, its reads with the meaning of its
    arguments bound (the same for every document of the run), and its finish."""

    __slots__ = ("finish", "futures", "keys", "loader", "one", "pending", "value")

    def __init__(self, field: FieldPlan, loader: BatchLoader[Any, Any], meaning: tuple[Any, ...]):
        loads = field.loads
        # Only compiled fills load, and compiling a plan makes its fields' finishes.
        assert loads is not None and field.finish is not None
        self.finish = field.finish
        self.one = loads.one
        self.pending: list[Any] = []
        """Four items per object waiting on the level's loads: its document, key (or keys),
        map and path. Flat: a tuple each would be thousands of objects more per run for
        the collector to walk."""
        self.loader = loader
        self.futures = loader.futures
        self.keys: Callable[[Any, Any], Any] = loads.keys
        self.value: Callable[[Any, Any, Any], Any] = loads.value
        if meaning:
            keys, value = loads.keys, loads.value
            self.keys = lambda document, context: keys(document, context, *meaning)
            self.value = lambda loaded, document, context: value(
                loaded, document, context, *meaning
            )


class _PlannedRun:
    """One execution of a plan: each object's map filled by its plan's compiled assembly
    (:mod:`edge.plan_assembly`), depth first while values are at hand; what is still
    loading waits for the next round, when the round's loads are back all at once."""

    def __init__(self, executor: PlannedExecutor, plan: OperationPlan) -> None:
        self.executor = executor
        self.plan = plan
        self.context = executor.context_value
        self.arguments_by_field: dict[FieldPlan, dict[str, Any]] = {}
        self.waiting: list[_Waiting] = []
        # Loads of the level being filled: each loader's keys (in order, once) and the
        # fields waiting on them. What a batch reads goes into the loader's cache, but for a
        # key another load had under way: that value waits here, by loader and key.
        self.batches: dict[BatchLoader[Any, Any], dict[Any, None]] = {}
        self.loading: list[_FieldLoads] = []
        """The loads fields with objects waiting on the level's loads (``pending``)."""
        self.batch_results: dict[BatchLoader[Any, Any], dict[Any, Any]] = {}
        self.field_loads: dict[FieldPlan, _FieldLoads] = {}
        self.cost = 0
        """The actual cost of the objects filled so far (``edge.cost``)."""

    async def data(self) -> dict[str, Any]:
        waiting: list[_Started] = []
        batches: list[asyncio.Future[Any]] = []
        try:
            data = fill_of(self.plan.root)(self, self.executor.root_value, None)
            while self.waiting or self.loading:
                # A level's resolvers start together once it is complete: one started while
                # the run shared the loop mid-level would send its loader's batch with only
                # the keys asked so far (one round trip more).
                waiting = [(asyncio.ensure_future(v), o, f, p) for v, o, f, p in self.waiting]
                self.waiting = []
                batches = [
                    asyncio.ensure_future(self._batch(loader, list(keys)))
                    for loader, keys in self.batches.items()
                ]
                self.batches = {}
                loading, self.loading = self.loading, []
                for batch in batches:
                    await batch
                turn = LoopShare()
                for state in loading:
                    await self._complete_loaded(state, turn)
                for future, out, field, path in waiting:
                    try:
                        value = await future
                    except Exception as error:
                        raise _fallback_of(error, field.key) from error
                    self._finish(field, value, out, path)
                    await turn.share()
        except Exception as error:
            unstarted = _unstarted(self.waiting)
            await _settle([*batches, *(w[0] for w in waiting), *unstarted])
            raise _fallback_of(error) from error
        gateway = getattr(self.context, "gateway", None)
        if self.plan.counts_cost and isinstance(gateway, GatewayRequest):
            gateway.counted_cost = self.cost
        return data

    # -- what compiled assembly calls ------------------------------------------------------

    def loads_of(self, field: FieldPlan) -> _FieldLoads:
        """The run's part of a loads field (``schema.document_reads.Loads``), made the first
        time; compiled assembly reads a one-key load inline through it, and calls
        :meth:`pend` when the key is not loaded yet."""
        state = self.field_loads.get(field)
        if state is None:
            loads = field.loads
            assert loads is not None
            meaning = loads.meaning(self.arguments(field)) if field.takes_arguments else ()
            state = self.field_loads[field] = _FieldLoads(
                field, loads.loader(self.context.loaders), meaning
            )
        return state

    def pend(
        self, state: _FieldLoads, document: Any, key: Any, out: dict[str, Any], path: Path | None
    ) -> Any:
        """A one-key load whose key is not loaded: it joins the level's batch, and the field
        is completed once it is back. Answers :data:`PENDING`."""
        batch = self.batches.get(state.loader)
        if batch is None:
            batch = self.batches[state.loader] = {}
        batch[key] = None
        if not state.pending:
            self.loading.append(state)
        state.pending += (document, key, out, path)
        return PENDING

    def load(self, field: FieldPlan, document: Any, out: dict[str, Any], path: Path | None) -> Any:
        """A load of many keys: its value when every key is loaded already, else
        :data:`PENDING`, its keys joining the level's batch."""
        state = self.field_loads.get(field) or self.loads_of(field)
        keys = state.keys(document, self.context)
        futures = state.futures
        loaded = []
        for key in keys:
            future = futures.get(key)
            if future is None or not future.done() or future.cancelled():
                break
            loaded.append(future.result())
        else:
            return state.value(loaded, document, self.context)
        # The keys before ``key`` are loaded; it is not.
        batch = self.batches.get(state.loader)
        if batch is None:
            batch = self.batches[state.loader] = {}
        batch[key] = None
        if len(keys) > len(loaded) + 1:
            for key in keys[len(loaded) + 1 :]:
                future = futures.get(key)
                if future is None or not future.done() or future.cancelled():
                    batch[key] = None
        if not state.pending:
            self.loading.append(state)
        state.pending += (document, keys, out, path)
        return PENDING

    def wait(self, value: Any, out: dict[str, Any], field: FieldPlan, path: Path | None) -> None:
        self.waiting.append((value, out, field, path))

    def later(self, value: Any, out: dict[str, Any], field: FieldPlan, path: Path | None) -> bool:
        """Whether a read's ``value`` completes later: an awaitable waits for the next round
        (True), an error ends the run, anything else is completed now (False) and its class
        is known as :data:`~edge.plan_assembly.PLAIN` from then on."""
        if _is_awaitable(value):
            out[field.key] = None
            self.wait(value, out, field, path)
            return True
        if isinstance(value, Exception):
            self.failed(field, value)
        PLAIN.add(type(value))
        return False

    def read(self, field: FieldPlan, document: Any, path: Path | None) -> Any:
        """A read that takes ``Info`` and the field's arguments."""
        assert field.strawberry_field is not None and field.read is not None
        info = self._info(field, path)
        return field.read(document, info, **self._arguments(field, info))

    def arguments(self, field: FieldPlan) -> dict[str, Any]:
        """The arguments of a read that takes the context, not ``Info``: converted with an
        ``Info`` at the field's first place, as they are the same for every object."""
        arguments = self.arguments_by_field.get(field)
        if arguments is None:
            path = Path(None, field.key, field.parent_type.name)
            arguments = self._arguments(field, self._info(field, path))
        return arguments

    def call(self, field: FieldPlan, source: Any, path: Path | None) -> Any:
        """A resolver, called with the parameters it declares."""
        info = self._info(field, path)
        keywords = dict(self._arguments(field, info))
        if field.info_keyword is not None:
            keywords[field.info_keyword] = info
        for name in field.source_keywords:
            keywords[name] = source
        assert field.function is not None
        try:
            for permission in field.permissions:
                check_permission(permission, source, info, self._arguments(field, info))
            if field.passes_self:
                return field.function(source, **keywords)
            return field.function(**keywords)
        except Exception as error:
            raise _fallback_of(error, field.key) from error

    def null(self, field: FieldPlan) -> None:
        raise _Interpret(Fallback.NULL, f"{field.parent_type.name}.{field.key}", field.key)

    def failed(self, field: FieldPlan, error: Exception) -> None:
        what = f"{field.parent_type.name}.{field.key} answered {type(error).__name__}"
        raise _Interpret(Fallback.ERROR, what, field.key) from error

    def uncoerced(self, field: FieldPlan, value: Any) -> None:
        raise _Interpret(Fallback.UNCOERCED, f"{value!r} for {field.key}", field.key)

    def typed_item(
        self, completion: Completion, value: Any, field: FieldPlan, path: Path | None, weight: int
    ) -> Any:
        """An item of a list whose documents are filled inline and counted with the list
        (``weight`` each) that is a typed object: completed as graphql-core does, its fill
        counting it, so counted once."""
        self.cost -= weight
        return self.complete(completion, value, field, path)

    def leaf(self, field: FieldPlan, document: Any) -> Any:
        """A leaf an inline map leaves to the general way: read again and completed as
        graphql-core completes it (a null where none may be, or a value that does not coerce,
        ends the run)."""
        assert field.read is not None
        return self.complete(field.completion, field.read(document), field, None)

    def document(self, plan: ObjectPlan, value: Any) -> Any:
        """A document type's object as its document: a typed object holds the one it was
        built from."""
        if type(value) is not plan.document_class:
            raise _Interpret(Fallback.ERROR, f"{value!r} is not a {plan.object_type.name}")
        return value.document

    def complete(
        self, completion: Completion, value: Any, field: FieldPlan, path: Path | None
    ) -> Any:
        """A value as graphql-core completes it, for what assembly does not inline."""
        if value is None:
            if completion.non_null:
                self.null(field)
            return None
        if isinstance(value, Exception):
            self.failed(field, value)
        shape = completion.shape
        if shape is Shape.LEAF:
            assert completion.coerce is not None
            coerced = completion.coerce(value)
            if coerced is None or coerced is Undefined:
                self.uncoerced(field, value)
            return coerced
        if shape is Shape.OBJECT:
            assert completion.object_plan is not None
            return self._object(completion.object_plan, value, field, path, None)
        if shape is Shape.LIST:
            if not is_iterable(value):
                raise _Interpret(Fallback.ERROR, f"{field.key} is not a list", field.key)
            item = completion.item
            assert item is not None
            items = list(value)
            if any(_is_awaitable(one) for one in items):
                raise _Interpret(Fallback.BUG, f"{field.key}: awaitable list items")
            if item.carries_path:
                return [
                    self.complete(item, one, field, Path(path, index, None))
                    for index, one in enumerate(items)
                ]
            return [self.complete(item, one, field, None) for one in items]
        return self._abstract(completion, value, field, path)

    # -- helpers ---------------------------------------------------------------------------

    def _finish(self, field: FieldPlan, value: Any, out: dict[str, Any], path: Path | None) -> None:
        # Only compiled fills defer a value, and compiling a plan makes its fields' finishes.
        assert field.finish is not None
        field.finish(self, value, out, path)

    async def _batch(self, loader: BatchLoader[Any, Any], keys: list[Any]) -> None:
        """One call of the loader's batch function for a level's keys (one round trip, as
        the loader's own batching makes), primed into its cache for the rest of the request."""
        values = await loader.batch_load_fn(keys)
        if len(values) != len(keys):
            what = f"{type(loader).__name__} answered {len(values)} of {len(keys)}"
            raise _Interpret(Fallback.BUG, what)
        futures, done = loader.futures, asyncio.get_running_loop().create_future
        read = self.batch_results.setdefault(loader, {})
        for key, value in zip(keys, values, strict=True):
            future = futures.get(key)
            if future is None:
                # What aiodataloader's ``prime`` does, without its per-key calls.
                future = futures[key] = done()
                if isinstance(value, Exception):
                    future.set_exception(value)
                else:
                    future.set_result(value)
            else:
                # A load of the key is under way too (or was cancelled): this batch answers
                # the run.
                read[key] = value

    async def _complete_loaded(self, state: _FieldLoads, turn: LoopShare) -> None:
        """The objects waiting on a field's loads, completed now that the level's are back."""
        pending, state.pending = state.pending, []
        context, futures, value, finish = self.context, state.futures, state.value, state.finish
        read = self.batch_results.get(state.loader) or _NOTHING
        items = iter(pending)
        if state.one:
            for document, key, out, path in zip(items, items, items, items, strict=True):
                loaded = read[key] if key in read else futures[key].result()
                finish(self, value(loaded, document, context), out, path)
                await turn.share()
            return
        for document, keys, out, path in zip(items, items, items, items, strict=True):
            loaded = [read[key] if key in read else futures[key].result() for key in keys]
            finish(self, value(loaded, document, context), out, path)
            await turn.share()

    def _object(
        self, plan: ObjectPlan, value: Any, field: FieldPlan, path: Path | None, info: Any
    ) -> dict[str, Any]:
        if plan.document_class is not None:
            if not isinstance(value, dict):
                value = self.document(plan, value)
        elif plan.is_type_of is not None:
            if plan.is_type_of_reads_info and info is None:
                info = self._raw_info(field, path)
            if not plan.is_type_of(value, info):
                raise _Interpret(Fallback.ERROR, f"{value!r} is not a {plan.object_type.name}")
        return fill_of(plan)(self, value, path if plan.needs_path else None)

    def _abstract(
        self, completion: Completion, value: Any, field: FieldPlan, path: Path | None
    ) -> Any:
        abstract_type = completion.abstract_type
        assert abstract_type is not None and path is not None
        info = self._raw_info(field, path)
        runtime_type = self.executor.runtime_type(abstract_type, value, info, field.details)
        if isinstance(runtime_type, GraphQLError):
            raise _Interpret(Fallback.ERROR, runtime_type.message, field.key)
        plan = self.plan.runtime_plan(runtime_type, field.details)
        return self._object(plan, value, field, path, info)

    def _info(self, field: FieldPlan, path: Path | None) -> Any:
        assert field.strawberry_field is not None
        raw_info = self._raw_info(field, path)
        return self.plan.info_class(_raw_info=raw_info, _field=field.strawberry_field)

    def _arguments(self, field: FieldPlan, info: Any) -> dict[str, Any]:
        """The field's arguments as its resolver takes them: the same for every object, so
        converted once per run."""
        arguments = self.arguments_by_field.get(field)
        if arguments is not None:
            return arguments
        raw = (
            self.executor.argument_values(field.definition, field.nodes[0])
            if field.takes_arguments
            else {}
        )
        assert field.strawberry_field is not None
        arguments = self.arguments_by_field[field] = converted_arguments(
            raw, field.strawberry_field, self.plan.strawberry_schema, info
        )
        return arguments

    def _raw_info(self, field: FieldPlan, path: Path | None) -> GraphQLResolveInfo[Any]:
        """What graphql-core would pass the field's resolver (and ``is_type_of``)."""
        assert path is not None
        return self.executor.resolve_info(field.definition, field.nodes, field.parent_type, path)


class LoopShare:
    """The event loop shared while a level completes: one large answer (a page of 50 partners
    with 15 services each) is milliseconds of CPU, and every other request waits for the loop
    until it is done (``bench/abuse.py``'s expensive queries: a normal client's p99 3.5x
    alone). Past :data:`SLICE_SECONDS` of holding it, the run lets whatever is ready run
    first, between one object and the next, where nothing of the run is half made. Small
    answers never yield; a large one alone yields to nothing and loses an idle loop turn per
    slice (microseconds)."""

    __slots__ = ("_since",)

    def __init__(self) -> None:
        self._since = time.perf_counter()

    async def share(self) -> None:
        now = time.perf_counter()
        if now - self._since >= SLICE_SECONDS:
            await asyncio.sleep(0)
            self._since = time.perf_counter()


SLICE_SECONDS = 0.001


def _unstarted(waiting: list[_Waiting]) -> list[asyncio.Future[Any]]:
    """What a failed run's next level would have started: coroutines closed unrun, futures
    (under way already) to settle."""
    futures: list[asyncio.Future[Any]] = []
    for value, *_ in waiting:
        if inspect.iscoroutine(value):
            value.close()
        else:
            futures.append(asyncio.ensure_future(value))
    return futures


async def _settle(futures: list[asyncio.Future[Any]]) -> None:
    """Let what a failed level started finish, so nothing is left running or unretrieved."""
    if futures:
        await asyncio.gather(*futures, return_exceptions=True)


_ENGINE_FILES = frozenset(
    {__file__, operation_plans.__file__, plan_assembly.__file__, engine.__file__}
)
"""The executor's own modules: an exception raised in one of them is a bug."""
