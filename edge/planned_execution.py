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
import json
import logging
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    ExperimentalIncrementalExecutionResults,
    GraphQLError,
    GraphQLResolveInfo,
)
from graphql.execution.executor import CollectedErrors
from graphql.execution.values import get_argument_values
from graphql.pyutils import AwaitableOrValue, Path, Undefined, is_iterable
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.arguments import convert_arguments

from datastore.loaders import BatchLoader, Loaders
from datastore.store import uncounted
from edge.cost import actual_cost
from edge.operation_plans import (
    Completion,
    FieldPlan,
    ObjectPlan,
    OperationPlan,
    Shape,
    plan_of,
)
from edge.plan_assembly import PENDING, PLAIN, fill_of
from edge.request import GatewayRequest

_log = logging.getLogger(__name__)
_Result = ExecutionResult | ExperimentalIncrementalExecutionResults


class _Interpret(Exception):
    """The planned run met an error: the interpreted run reports it."""


class PlannedExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's graphql-core executor, which answers a plannable query from its plan."""

    def execute_operation(self, serially: bool | None = None) -> AwaitableOrValue[_Result]:
        plan = self._plan(serially)
        if plan is None:
            return super().execute_operation(serially)
        return self._execute_planned(plan, serially)

    def _plan(self, serially: bool | None) -> OperationPlan | None:
        # Field middleware (a schema extension's ``resolve`` hook) wraps each resolver call,
        # which a plan skips: such a schema runs interpreted.
        middleware = self.middleware_manager
        if serially or self.abort_signal is not None or (middleware and middleware.middlewares):
            return None
        return plan_of(self.schema, self.operation, self.fragments, self.variable_values)

    async def _execute_planned(self, plan: OperationPlan, serially: bool | None) -> _Result:
        try:
            data = await _PlannedRun(self, plan).data()
        except _Interpret:
            return await self._interpreted_afresh(serially)
        return self.build_response(data)

    async def _interpreted(self, serially: bool | None) -> _Result:
        result = super().execute_operation(serially)
        return await result if isinstance(result, Awaitable) else result

    async def _interpreted_afresh(self, serially: bool | None) -> _Result:
        """The interpreted answer as if nothing had run before: on fresh loaders, with no
        error recorded (see the module's docstring)."""
        loaders = getattr(self.context_value, "loaders", None)
        if isinstance(loaders, Loaders):
            self.context_value.loaders = Loaders(loaders.store)
        self.collected_errors = CollectedErrors()
        return await self._interpreted(serially)


class CheckedPlannedExecutor(PlannedExecutor):
    """Runs every planned query both ways and records in :data:`mismatches` an answer of the
    planned way (the planned data, or what follows a planned run that met an error) that
    differs from a cold interpreted run's: data byte for byte, errors by message, path, code
    and order (tests fail on any). The planned way is the request's (its store reads count,
    as in service); the interpreted run that checks it reads uncounted, on fresh loaders. For
    tests and for trying a resolver against the plans, not for serving."""

    async def _execute_planned(self, plan: OperationPlan, serially: bool | None) -> _Result:
        try:
            planned = self.build_response(await _PlannedRun(self, plan).data())
        except _Interpret:
            planned = await self._interpreted_afresh(serially)
        assert isinstance(planned, ExecutionResult)
        with uncounted():
            interpreted = await self._interpreted_afresh(serially)
        assert isinstance(interpreted, ExecutionResult)
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


def _mismatch(executor: PlannedExecutor, what: str) -> None:
    name = executor.operation.name.value if executor.operation.name else "(anonymous)"
    mismatches.append(f"{name}: {what}")
    _log.error("planned and interpreted execution differ for %s: %s", name, what)


def _errors(result: ExecutionResult) -> list[tuple[str, Any, Any]]:
    """What a client reads of ``result``'s errors, in order: message, path and code."""
    return [
        (error.message, error.path, (error.extensions or {}).get("code"))
        for error in result.errors or ()
    ]


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


_Waiting = tuple["asyncio.Future[Any]", dict[str, Any], FieldPlan, Path | None]


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
        waiting: list[_Waiting] = []
        batches: list[asyncio.Future[Any]] = []
        try:
            data = fill_of(self.plan.root)(self, self.executor.root_value, None)
            while self.waiting or self.loading:
                batches = [
                    asyncio.ensure_future(self._batch(loader, list(keys)))
                    for loader, keys in self.batches.items()
                ]
                self.batches = {}
                loading, self.loading = self.loading, []
                waiting, self.waiting = self.waiting, []
                for batch in batches:
                    await batch
                for state in loading:
                    self._complete_loaded(state)
                for future, out, field, path in waiting:
                    self._finish(field, await future, out, path)
        except Exception as error:
            await _settle([*batches, *(w[0] for w in waiting), *(w[0] for w in self.waiting)])
            raise _Interpret from error
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
        self.waiting.append((asyncio.ensure_future(value), out, field, path))

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
        if field.passes_self:
            return field.function(source, **keywords)
        return field.function(**keywords)

    def null(self, field: FieldPlan) -> None:
        raise _Interpret(f"null for non-null {field.parent_type.name}.{field.key}")

    def failed(self, field: FieldPlan, error: Exception) -> None:
        raise _Interpret(f"{field.parent_type.name}.{field.key} answered an error") from error

    def uncoerced(self, field: FieldPlan, value: Any) -> None:
        raise _Interpret(f"{value!r} does not coerce for {field.key}")

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
            raise _Interpret(f"{value!r} is not a {plan.object_type.name}")
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
                raise _Interpret(f"{field.key} is not a list")
            item = completion.item
            assert item is not None
            items = list(value)
            if any(_is_awaitable(one) for one in items):
                raise _Interpret("awaitable list items")
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
            raise _Interpret(f"{type(loader).__name__} answered {len(values)} of {len(keys)}")
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

    def _complete_loaded(self, state: _FieldLoads) -> None:
        """The objects waiting on a field's loads, completed now that the level's are back."""
        pending, state.pending = state.pending, []
        context, futures, value, finish = self.context, state.futures, state.value, state.finish
        read = self.batch_results.get(state.loader) or _NOTHING
        items = iter(pending)
        if state.one:
            for document, key, out, path in zip(items, items, items, items, strict=True):
                loaded = read[key] if key in read else futures[key].result()
                finish(self, value(loaded, document, context), out, path)
            return
        for document, keys, out, path in zip(items, items, items, items, strict=True):
            loaded = [read[key] if key in read else futures[key].result() for key in keys]
            finish(self, value(loaded, document, context), out, path)

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
                raise _Interpret(f"{value!r} is not a {plan.object_type.name}")
        return fill_of(plan)(self, value, path if plan.needs_path else None)

    def _abstract(
        self, completion: Completion, value: Any, field: FieldPlan, path: Path | None
    ) -> Any:
        executor = self.executor
        abstract_type = completion.abstract_type
        assert abstract_type is not None and path is not None
        info = self._raw_info(field, path)
        resolve_type = abstract_type.resolve_type or executor.type_resolver
        name = resolve_type(value, info, abstract_type)
        if isinstance(name, Awaitable):
            asyncio.ensure_future(name).cancel()
            raise _Interpret("an awaitable runtime type")
        try:
            runtime_type = executor.ensure_valid_runtime_type(
                name, abstract_type, field.details, info, value
            )
        except GraphQLError as error:
            raise _Interpret from error
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
        executor = self.executor
        raw = (
            get_argument_values(
                field.definition,
                field.nodes[0],
                executor.variable_values,
                None,
                executor.hide_suggestions,
            )
            if field.takes_arguments
            else {}
        )
        assert field.strawberry_field is not None
        arguments = self.arguments_by_field[field] = convert_arguments(
            raw,
            field.strawberry_field.arguments,
            scalar_registry=self.plan.scalar_registry,
            config=self.plan.config,
            info=info,
        )
        return arguments

    def _raw_info(self, field: FieldPlan, path: Path | None) -> GraphQLResolveInfo[Any]:
        """What graphql-core would pass the field's resolver (and ``is_type_of``)."""
        assert path is not None
        return self.executor.build_resolve_info(
            field.definition, field.nodes, field.parent_type, path
        )


async def _settle(futures: list[asyncio.Future[Any]]) -> None:
    """Let what a failed level started finish, so nothing is left running or unretrieved."""
    if futures:
        await asyncio.gather(*futures, return_exceptions=True)
