"""Plan assembly: an object plan compiled into one Python function that fills its response map.

The idea of graphql-jit, for Python: a query's plan (:mod:`edge.operation_plans`) says for
every object type it selects which fields it reads, how, and how each value completes, and
that is the same for every object of every run. So each object plan becomes straight-line
code, generated once: read each field (a document's key, a declared read, an attribute, a
resolver), coerce a leaf or fill a nested object in place, and hand a value still loading to
the run (:mod:`edge.planned_execution`), which completes it once the level's loads are back
with a generated function of the same code. Per field that is one read and one coercion, not
a generic dispatch. A connection whose value is a page of documents is filled from the page
(``_page_fill``): each edge a dict expression, no ``Edge`` object. A document whose selected
fields are all stored leaves (a history entry, a shop's name) is one dict display where it
is nested (``_leaf_map``), with no call of its own.

The source is built only from the plan and the schema's declarations: response keys and type
names are GraphQL names, attribute names Python identifiers (checked), document keys string
literals (``repr``), so nothing a client sends becomes code; every other value (reads,
coercions, plans) is bound as a name of the function's namespace.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from graphql import DocumentNode, GraphQLBoolean, GraphQLID, GraphQLString, Undefined

from edge.engine import Path
from edge.operation_plans import (
    Access,
    Completion,
    FieldPlan,
    ObjectPlan,
    Shape,
    forget_plans,
)
from schema.document_reads import Key
from schema.pagination import DocumentPage, Part

PENDING = object()
"""What ``run.load`` and ``run.pend`` answer for a field whose loads join the level's batch."""

PLAIN: set[type] = set()
"""Classes of values that are neither awaitable nor an error: a read's value of one of them
is completed at once (``run.later`` learns them)."""

Fill = Callable[[Any, Any, Path | None], dict[str, Any]]
"""``fill(run, source, path)``: the response map of one object of the plan."""

branch_hooks: dict[str, Callable[[str], list[str]]] = {}
"""Lines put at the start of a named branch of the generated code (``hook(indent)``), for
tests that break one branch and check that the checked suite notices. Each branch the
generator emits starts with the comment ``# branch: <name>`` (see :data:`BRANCHES`)."""

BRANCHES = (
    "typename",
    "key read",
    "stored enum",
    "document read",
    "attribute",
    "one-key load",
    "loads",
    "read with context",
    "read with info",
    "resolver",
    "late value",
    "exact leaf",
    "leaf",
    "inline leaf map",
    "inline object",
    "inline list",
    "completion",
    "page edges",
    "page nodes",
    "page info",
    "page count",
)
"""The generator's branches, by the names :data:`branch_hooks` takes."""


def _branch(lines: list[str], name: str, indent: str) -> None:
    lines.append(f"{indent}# branch: {name}")
    hook = branch_hooks.get(name)
    if hook is not None:
        lines.extend(hook(indent))


_EXACT: dict[Any, str] = {
    GraphQLString.coerce_output_value: "str",
    GraphQLID.coerce_output_value: "str",
    GraphQLBoolean.coerce_output_value: "bool",
}
"""Leaf coercions that answer a value of one class as it is, by the class's name."""


_GENERATED = "<plan of "
"""How the name of every function compiled here begins."""


def release_plans(document: DocumentNode) -> None:
    """Take apart the plans of ``document``, parsed for one request that has been answered
    (a document a cache keeps keeps its plans).

    A plan lives on its operation's node (``edge.operation_plans``), and its assembly in the
    namespaces it was compiled in, which hold the assembly's functions: reference cycles,
    which held the whole document (its nodes, locations and tokens: thousands of objects for
    a large one) until the garbage collector found them. A young collection of a few such
    documents held the event loop 10-14 ms (``bench/abuse.py``: duplicated fields and deep
    fragments, a fresh document each time). Taken apart, the document goes with its request."""
    cleared: set[int] = set()
    for plan in forget_plans(document):
        for object_plan in plan.object_plans():
            _release_assembly(object_plan.fill, cleared)
            object_plan.fill = None
            for field in object_plan.fields:
                field.finish = None


def _release_assembly(function: Any, cleared: set[int]) -> None:
    """Empty the namespace ``function`` was compiled in here, and those of the functions it
    holds that were compiled here too (``cleared``: the namespaces emptied so far). Nothing
    else is touched: a function compiled elsewhere may share its module's namespace."""
    if not inspect.isfunction(function) or not function.__code__.co_filename.startswith(_GENERATED):
        return
    namespace = function.__globals__
    if id(namespace) in cleared:
        return
    cleared.add(id(namespace))
    held = list(namespace.values())
    namespace.clear()
    for value in held:
        _release_assembly(value, cleared)


def fill_of(plan: ObjectPlan) -> Fill:
    """The plan's compiled assembly, generated the first time it is asked for."""
    if plan.fill is None:
        plan.fill = _Generator(plan).compile()
    return plan.fill


class _Generator:
    def __init__(self, plan: ObjectPlan) -> None:
        self.plan = plan
        self.namespace: dict[str, Any] = {
            "Path": Path,
            "UNDEFINED": Undefined,
            "PLAIN": PLAIN,
            "PENDING": PENDING,
        }
        self.lines: list[str] = []

    def compile(self) -> Fill:
        plan = self.plan
        self.lines = ["def fill(run, source, path):", "    out = {}"]
        if plan.connection:
            # A document read answers a page of documents for a connection field: filled
            # from the page itself when the selection allows, else as its typed connection.
            self.namespace["DOCUMENT_PAGE"] = DocumentPage
            page_fill = _page_fill(plan)
            self.lines.append("    if source.__class__ is DOCUMENT_PAGE:")
            if page_fill is not None:
                self.namespace["PAGE_FILL"] = page_fill
                self.lines.append("        return PAGE_FILL(run, source, path)")
            else:
                self.namespace["AS_IS"] = _as_is
                self.lines.append("        source = source.map(AS_IS)")
        if plan.document_class is not None:
            self.lines.append("    document = source")
            if plan.reads_typed:
                self.namespace["FROM_DOCUMENT"] = plan.document_class.from_document
                self.lines.append("    typed = FROM_DOCUMENT(document)")
        else:
            self.lines.append("    typed = source")
        if any(_reads_context(field) for field in plan.fields):
            self.lines.append("    context = run.context")
        if plan.weight:
            self.lines.append(f"    run.cost += {plan.weight}")
        for index, field in enumerate(plan.fields):
            self._field(index, field)
        self.lines.append("    return out")
        finishing = [
            index
            for index, field in enumerate(plan.fields)
            if field.access in (Access.DOCUMENT_FIELD, Access.RESOLVER)
        ]
        for index in finishing:
            self._finish(index, plan.fields[index])
        code = compile("\n".join(self.lines), f"{_GENERATED}{plan.object_type.name}>", "exec")
        exec(code, self.namespace)
        for index in finishing:
            plan.fields[index].finish = self.namespace[f"finish{index}"]
        fill: Fill = self.namespace["fill"]
        return fill

    def _stored_enum(self, index: int, field: FieldPlan, path: str) -> bool:
        """An enum field read by a lookup of the stored value: answered by one lookup of the
        stored value in the composed map of stored values to response names; any other value
        (absent, unknown) goes the general way, which reports it."""
        read, names = field.read, field.completion.enum_names
        if not isinstance(read, Key) or read.members is None or names is None:
            return False
        composed = self._bind("N", index, _stored_names(read.members, field.completion))
        key = repr(field.key)
        emit = self.lines.append
        stored = Key(read.name, optional=read.optional).expression("document", "")
        self.namespace["MISSING"] = _MISSING
        _branch(self.lines, "stored enum", "    ")
        emit(f"    c = {composed}.get({stored}, MISSING)")
        emit("    if c is MISSING:")
        emit(f"        v = {read.expression('document', self._bind('M', index, read.members))}")
        self._complete(index, field, "        ", path)
        emit("    else:")
        emit(f"        out[{key}] = c")
        return True

    def _finish(self, index: int, field: FieldPlan) -> None:
        """``finish(run, value, out, path)``: a value that came later, completed into
        ``out`` by the same code as one at hand."""
        self.lines.append(f"def finish{index}(run, v, out, p):")
        _branch(self.lines, "late value", "    ")
        self.lines.append("    if isinstance(v, Exception):")
        self.lines.append(f"        run.failed(F{index}, v)")
        self._complete(index, field, "    ", "p" if field.needs_path else "None")

    def _bind(self, prefix: str, index: int, value: Any) -> str:
        name = f"{prefix}{index}"
        self.namespace[name] = value
        return name

    def _field(self, index: int, field: FieldPlan) -> None:
        key = repr(field.key)
        emit = self.lines.append
        field_name = self._bind("F", index, field)
        path = "p" if field.needs_path else "None"
        if field.needs_path:
            type_name = repr(self.plan.object_type.name)
            emit(f"    p = Path(path, {key}, {type_name})")
        access = field.access
        if access is Access.TYPENAME:
            _branch(self.lines, "typename", "    ")
            emit(f"    out[{key}] = {self.plan.object_type.name!r}")
            return
        if access is Access.DOCUMENT_ATTRIBUTE and isinstance(field.read, Key):
            if self._stored_enum(index, field, path):
                return
            members = self._bind("M", index, field.read.members)
            _branch(self.lines, "key read", "    ")
            emit(f"    v = {field.read.expression('document', members)}")
        elif access is Access.DOCUMENT_ATTRIBUTE:
            _branch(self.lines, "document read", "    ")
            emit(f"    v = {self._bind('R', index, field.read)}(document)")
        elif access is Access.ATTRIBUTE:
            if not field.name.isidentifier():  # pragma: no cover - Strawberry's python names
                raise ValueError(f"{field.name!r} is not an attribute name")
            _branch(self.lines, "attribute", "    ")
            emit(f"    v = typed.{field.name}")
        elif access is Access.DOCUMENT_FIELD and field.loads is not None and field.loads.one:
            # Known already, or its key joins the level's batch and it is completed after:
            # inline, as most loads are of one key.
            _branch(self.lines, "one-key load", "    ")
            emit(f"    s = run.field_loads.get({field_name}) or run.loads_of({field_name})")
            emit("    k = s.keys(document, context)")
            emit("    if k is None:")
            emit("        v = s.value(None, document, context)")
            emit("    else:")
            emit("        f = s.futures.get(k)")
            emit("        if f is not None and f.done() and not f.cancelled():")
            emit("            v = s.value(f.result(), document, context)")
            emit("        else:")
            emit(f"            v = run.pend(s, document, k, out, {path})")
        elif access is Access.DOCUMENT_FIELD and field.loads is not None:
            _branch(self.lines, "loads", "    ")
            emit(f"    v = run.load({field_name}, document, out, {path})")
        elif access is Access.DOCUMENT_FIELD and not field.read_takes_info:
            read = self._bind("R", index, field.read)
            _branch(self.lines, "read with context", "    ")
            if field.takes_arguments:
                emit(f"    v = {read}(document, context, **run.arguments({field_name}))")
            else:
                emit(f"    v = {read}(document, context)")
        elif access is Access.DOCUMENT_FIELD:
            _branch(self.lines, "read with info", "    ")
            emit(f"    v = run.read({field_name}, document, {path})")
        else:
            _branch(self.lines, "resolver", "    ")
            emit(f"    v = run.call({field_name}, typed, {path})")
        if access in (Access.DOCUMENT_ATTRIBUTE, Access.ATTRIBUTE):
            self._complete(index, field, "    ", path)
            return
        # A read or resolver may answer later (its loads go out with the level's, or an
        # awaitable) or answer an error as its value, which the interpreted path reports:
        # ``run.later`` tells, for a value of a class not known to be neither.
        if field.loads is not None:
            emit("    if v is PENDING:")
            emit(f"        out[{key}] = None")
            emit(f"    elif v.__class__ in PLAIN or not run.later(v, out, {field_name}, {path}):")
        else:
            emit(f"    if v.__class__ in PLAIN or not run.later(v, out, {field_name}, {path}):")
        self._complete(index, field, "        ", path)

    def _complete(self, index: int, field: FieldPlan, indent: str, path: str) -> None:
        emit = self.lines.append
        key = repr(field.key)
        completion = field.completion
        emit(f"{indent}if v is None:")
        if completion.non_null:
            emit(f"{indent}    run.null(F{index})")
        else:
            emit(f"{indent}    out[{key}] = None")
        emit(f"{indent}else:")
        indent += "    "
        shape = completion.shape
        if shape is Shape.LEAF:
            coerce = self._bind("C", index, completion.coerce)
            exact = _EXACT.get(completion.coerce)
            if exact is not None:
                # String and ID answer a str as it is, Boolean a bool.
                emit(f"{indent}if v.__class__ is {exact}:")
                _branch(self.lines, "exact leaf", indent + "    ")
                emit(f"{indent}    out[{key}] = v")
                emit(f"{indent}else:")
                indent += "    "
            _branch(self.lines, "leaf", indent)
            if completion.enum_names is not None:
                names = self._bind("E", index, completion.enum_names)
                emit(f"{indent}c = {names}.get(id(v))")
                emit(f"{indent}if c is None:")
                emit(f"{indent}    c = {coerce}(v)")
                emit(f"{indent}    if c is None or c is UNDEFINED:")
                emit(f"{indent}        run.uncoerced(F{index}, v)")
            else:
                emit(f"{indent}c = {coerce}(v)")
                emit(f"{indent}if c is None or c is UNDEFINED:")
                emit(f"{indent}    run.uncoerced(F{index}, v)")
            emit(f"{indent}out[{key}] = c")
        elif shape is Shape.OBJECT and _inlined(completion):
            child = completion.object_plan
            assert child is not None
            if child.document_class is not None:
                emit(f"{indent}if v.__class__ is not dict:")
                emit(f"{indent}    v = run.document({self._bind('P', index, child)}, v)")
            leaves = _leaf_map(child, "v", self.namespace)
            if leaves is not None:
                _branch(self.lines, "inline leaf map", indent)
                if child.weight:
                    emit(f"{indent}run.cost += {child.weight}")
                emit(f"{indent}out[{key}] = {leaves}")
                return
            fill = self._bind("FILL", index, fill_of(child))
            child_path = path if child.needs_path else "None"
            _branch(self.lines, "inline object", indent)
            emit(f"{indent}out[{key}] = {fill}(run, v, {child_path})")
        elif shape is Shape.LIST and completion.item and _inlined(completion.item):
            # A list of objects, each filled in place; anything but a plain list, and any item
            # but a document or a typed object of a type that checks none, as graphql-core does.
            item = completion.item
            child = item.object_plan
            assert child is not None
            whole = self._bind("COMPLETION", index, completion)
            each = self._bind("ITEM", index, item)
            at = "Path(p, n, None)" if item.carries_path else "None"
            direct = "i.__class__ is dict" if child.document_class is not None else "i is not None"
            items = "n, i in enumerate(v)" if item.carries_path else "i in v"
            emit(f"{indent}if v.__class__ is list:")
            _branch(self.lines, "inline list", indent + "    ")
            leaves = _leaf_map(child, "i", self.namespace)
            if leaves is not None:
                # Counted with the list; a typed item's fill counts itself, less what it was.
                if child.weight:
                    emit(f"{indent}    run.cost += {child.weight} * len(v)")
                emit(
                    f"{indent}    out[{key}] = [{leaves} if {direct} else "
                    f"run.typed_item({each}, i, F{index}, {at}, {child.weight}) for {items}]"
                )
            else:
                fill = self._bind("FILL", index, fill_of(child))
                emit(
                    f"{indent}    out[{key}] = [{fill}(run, i, {at}) if {direct} "
                    f"else run.complete({each}, i, F{index}, {at}) for {items}]"
                )
            emit(f"{indent}else:")
            emit(f"{indent}    out[{key}] = run.complete({whole}, v, F{index}, {path})")
        else:
            completion_name = self._bind("COMPLETION", index, completion)
            _branch(self.lines, "completion", indent)
            emit(f"{indent}out[{key}] = run.complete({completion_name}, v, F{index}, {path})")


def _reads_context(field: FieldPlan) -> bool:
    return field.access is Access.DOCUMENT_FIELD and not field.read_takes_info


def _inlined(completion: Completion) -> bool:
    """Whether an object completion fills its plan in place: one reading documents (whose
    type the schema's field promises) or one of a type without ``is_type_of`` to check."""
    plan = completion.object_plan
    return (
        completion.shape is Shape.OBJECT
        and plan is not None
        and (plan.document_class is not None or plan.is_type_of is None)
    )


def _as_is(document: Any) -> Any:
    return document


def _page_fill(plan: ObjectPlan) -> Fill | None:
    """A connection's fill from a :class:`~schema.pagination.DocumentPage`: each edge's map
    made from its document (its node filled, its cursor encoded from the page) with no
    ``Edge`` object, or ``None`` when the selection asks for more than that."""
    namespace: dict[str, Any] = {"Path": Path}
    lines = ["def fill(run, page, path):", "    out = {}"]
    if plan.weight:
        lines.append(f"    run.cost += {plan.weight}")
    type_name = repr(plan.object_type.name)
    for index, field in enumerate(plan.fields):
        part = plan.part(field)
        key = repr(field.key)
        namespace[f"F{index}"] = field
        path = "p" if field.needs_path else "None"
        if field.needs_path:
            lines.append(f"    p = Path(path, {key}, {type_name})")
        if field.access is Access.TYPENAME:
            lines.append(f"    out[{key}] = {type_name}")
        elif part is Part.EDGES and field.completion.item is not None:
            edge = field.completion.item
            edge_map = _edge_map(edge, index, namespace)
            if edge_map is None:
                return None
            weight = edge.object_plan.weight if edge.object_plan else 0
            weight += _inline_weight(edge.object_plan)
            if weight:
                lines.append(f"    run.cost += {weight} * len(page.documents)")
            items = _each_document(edge_map, edge.carries_path)
            _branch(lines, "page edges", "    ")
            lines.append(f"    out[{key}] = {items}")
        elif part is Part.NODES and field.completion.item is not None:
            node = _document_node(field.completion.item)
            if node is None:
                return None
            _branch(lines, "page nodes", "    ")
            leaves = _leaf_map(node, "d", namespace)
            if leaves is not None:
                if node.weight:
                    lines.append(f"    run.cost += {node.weight} * len(page.documents)")
                lines.append(f"    out[{key}] = [{leaves} for d in page.documents]")
                continue
            namespace[f"NODE{index}"] = fill_of(node)
            items = _each_document(f"NODE{index}(run, d, {{0}})", node.needs_path)
            lines.append(f"    out[{key}] = {items}")
        elif part is Part.PAGE_INFO:
            _branch(lines, "page info", "    ")
            lines.append(
                f"    out[{key}] = run.complete(F{index}.completion, page.page_info(), "
                f"F{index}, {path})"
            )
        elif part is Part.TOTAL_COUNT:
            _branch(lines, "page count", "    ")
            lines.append(f"    out[{key}] = None")
            lines.append(f"    run.wait(page.total_count(), out, F{index}, {path})")
        else:
            return None
    lines.append("    return out")
    fill: Fill = _compiled(lines, namespace, f"{_GENERATED}a page of {plan.object_type.name}>")
    return fill


def _each_document(item: str, carries_path: bool) -> str:
    """A list comprehension of ``item`` (whose ``{0}`` is the item's path) over the page."""
    if carries_path:
        return f"[{item.format('Path(p, n, None)')} for n, d in enumerate(page.documents)]"
    return f"[{item.format('None')} for d in page.documents]"


def _edge_map(edge: Completion, index: int, namespace: dict[str, Any]) -> str | None:
    """The expression of an edge's map for the page's document ``d`` (its path ``{}``), or
    ``None`` if the edge's selection asks for more than its node, cursor and type name."""
    plan = edge.object_plan
    if edge.shape is not Shape.OBJECT or not edge.non_null or plan is None:
        return None
    type_name = repr(plan.object_type.name)
    entries = []
    for field in plan.fields:
        part = plan.part(field)
        key = repr(field.key)
        if field.access is Access.TYPENAME:
            entries.append(f"{key}: {type_name}")
        elif part is Part.NODE:
            node = _document_node(field.completion)
            if node is None:
                return None
            leaves = _leaf_map(node, "d", namespace)
            if leaves is not None:
                # Doubled braces: the map is a template over the edge's path.
                entries.append(f"{key}: {leaves.replace('{', '{{').replace('}', '}}')}")
                continue
            namespace[f"NODE{index}"] = fill_of(node)
            path = f"Path({{0}}, {key}, {type_name})" if node.needs_path else "None"
            entries.append(f"{key}: NODE{index}(run, d, {path})")
        elif part is Part.CURSOR:
            entries.append(f"{key}: page.cursor(d)")
        else:
            return None
    return "{{" + ", ".join(entries) + "}}"


def _inline_weight(edge: ObjectPlan | None) -> int:
    """The weight of an edge's node when its map is inline (its fill counts it otherwise)."""
    if edge is None:
        return 0
    for field in edge.fields:
        if edge.part(field) is Part.NODE:
            node = _document_node(field.completion)
            if node is not None and _leaf_fields(node):
                return node.weight
    return 0


def _leaf_fields(plan: ObjectPlan) -> bool:
    """Whether every field of a document plan reads a key of the document into a leaf (or
    is ``__typename``): such a map is one dict display, with no call per object."""
    if plan.document_class is None or plan.reads_typed or plan.needs_path or plan.connection:
        return False
    return all(
        field.access is Access.TYPENAME
        or (
            field.access is Access.DOCUMENT_ATTRIBUTE
            and isinstance(field.read, Key)
            and field.completion.shape is Shape.LEAF
            and not field.needs_path
            and (field.read.members is None or field.completion.enum_names is not None)
        )
        for field in plan.fields
    )


_MISSING = object()


def _leaf_map(plan: ObjectPlan, document: str, namespace: dict[str, Any]) -> str | None:
    """A document plan's map as one dict display over the variable ``document`` (which its
    values' own variables, ``lv`` and ``lc``, leave alone), if
    :func:`_leaf_fields`. Each value is the common case inline (a ``str`` as it is, a stored
    enum value by its composed name, a coerced value); anything else, null or not coercing,
    goes to ``run.leaf``, which completes it as graphql-core does or ends the run."""
    if not _leaf_fields(plan):
        return None
    namespace.setdefault("MISSING", _MISSING)
    entries = []
    for field in plan.fields:
        key = repr(field.key)
        if field.access is Access.TYPENAME:
            entries.append(f"{key}: {plan.object_type.name!r}")
            continue
        read, completion = field.read, field.completion
        assert isinstance(read, Key)
        name = f"L{len(namespace)}"
        namespace[name] = field
        fallback = f"run.leaf({name}, {document})"
        raw = Key(read.name, optional=read.optional).expression(document, "")
        if read.members is not None:
            assert completion.enum_names is not None
            names = f"{name}_NAMES"
            namespace[names] = _stored_names(read.members, completion)
            value = f"lc if (lc := {names}.get({raw}, MISSING)) is not MISSING else {fallback}"
        elif completion.coerce in _EXACT:
            exact = _EXACT[completion.coerce]
            value = f"lv if (lv := {raw}).__class__ is {exact} else {fallback}"
        else:
            coerce = f"{name}_COERCE"
            namespace[coerce] = completion.coerce
            namespace.setdefault("UNDEFINED", Undefined)
            value = (
                f"lc if (lv := {raw}) is not None and (lc := {coerce}(lv)) is not None "
                f"and lc is not UNDEFINED else {fallback}"
            )
        entries.append(f"{key}: ({value})")
    return "{" + ", ".join(entries) + "}"


def _stored_names(members: Any, completion: Completion) -> dict[Any, str | None]:
    """Stored values to the response names of their members; a value read as no member is
    a null where the field may be null, and is left out where it may not."""
    names = completion.enum_names
    assert names is not None
    composed: dict[Any, str | None] = {}
    for stored, member in members.items():
        if member is None:
            if not completion.non_null:
                composed[stored] = None
        elif id(member) in names:
            composed[stored] = names[id(member)]
    return composed


def _document_node(completion: Completion) -> ObjectPlan | None:
    """The plan of a page's node, if it reads documents (what a page holds)."""
    plan = completion.object_plan
    if completion.shape is not Shape.OBJECT or not completion.non_null or plan is None:
        return None
    return plan if plan.document_class is not None else None


def _compiled(lines: list[str], namespace: dict[str, Any], name: str) -> Any:
    exec(compile("\n".join(lines), name, "exec"), namespace)
    return namespace["fill"]
