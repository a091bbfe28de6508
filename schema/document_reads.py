"""Document reads: how each field of a type read from a stored document gets its value.

A partner, an offer, an authorization or a history entry is read from one stored document.
Each such type declares once how its fields read that document: its attributes by a function
of the document (:func:`document_type`, from which ``from_document`` builds the typed object),
its resolver fields by a function of the document from which their resolver is made
(:func:`stored_resolver`: the field has no hand-written resolver to drift from its read). The
interpreted path builds typed objects and calls resolvers as Strawberry expects; a planned
query (``edge.operation_plans``) calls the same reads on the documents themselves and never
builds the typed objects. A read's value is the field's value in document terms: a leaf as
the typed field holds it, a stored document for a field of a document type, a list of them, or
a :class:`~schema.pagination.DocumentPage` of them; or an awaitable of one of those.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from datastore.loaders import BatchLoader, Eventually, referenced, then, when_loaded

if TYPE_CHECKING:
    from datastore.loaders import Loaders
    from resolvers.context import Context

T = TypeVar("T")
E = TypeVar("E", bound=Enum)

AttributeRead = Callable[[Any], Any]
"""An attribute's value from the document."""


class Key:
    """An attribute read that is the document's value under ``name`` (``None`` when absent,
    if ``optional``), looked up in ``members`` if given (an enum's members by value). Plans
    and ``from_document`` read it inline, with no call per object."""

    __slots__ = ("members", "name", "optional")

    def __init__(
        self, name: str, *, optional: bool = False, members: Mapping[Any, Any] | None = None
    ) -> None:
        self.name = name
        self.optional = optional
        self.members = members

    def __call__(self, document: Any) -> Any:
        value = document.get(self.name) if self.optional else document[self.name]
        return value if self.members is None else self.members[value]

    def expression(self, document: str, members: str) -> str:
        """The read as Python source over the variable ``document``, ``members`` naming the
        lookup (a name bound beside the source)."""
        read = f"{document}.get({self.name!r})" if self.optional else f"{document}[{self.name!r}]"
        return read if self.members is None else f"{members}[{read}]"


def key(name: str) -> Key:
    """The document's value under ``name``."""
    return Key(name)


def optional(name: str) -> Key:
    """The document's value under ``name``, ``None`` when absent."""
    return Key(name, optional=True)


def member(enum: type[E], name: str) -> Key:
    """The member of ``enum`` whose value the document holds under ``name``."""
    return Key(name, members=members_by_value(enum))


def lookup(members: Mapping[Any, Any], name: str, *, optional: bool = False) -> Key:
    """What ``members`` holds for the document's value under ``name`` (``None`` when absent,
    if ``optional``: ``members`` then holds ``None`` too)."""
    return Key(name, optional=optional, members=members)


@dataclass(frozen=True)
class Loads:
    """A read that is loads of one loader: the keys ``keys(document, context)`` asked of
    ``loader(context.loaders)``, the field's value ``value(loaded, document, context)`` of
    what they hold, in order. A resolver calls :meth:`read` (one future per key, batched by
    the loader); a planned query reads the keys of a whole level in one call of the loader's
    batch function instead.

    A field with arguments declares ``arguments``: what they mean (``arguments(**given)``,
    e.g. the page they ask for) is worked out once for all the documents of a level, which
    share them, and ``keys`` and ``value`` take it as their last parameter. A read of one key
    at most declares ``one``: ``keys`` answers the key itself (``None``: nothing to load),
    ``value`` takes what it holds (``None`` for no key). Most reads are, and a planned query
    spares them a list each way."""

    loader: Callable[[Loaders], BatchLoader[Any, Any]]
    keys: Callable[..., Any]
    value: Callable[..., Any]
    arguments: Callable[..., Any] | None = None
    one: bool = False

    def meaning(self, arguments: Mapping[str, Any]) -> tuple[Any, ...]:
        """What ``keys`` and ``value`` take after their other parameters, for ``arguments``
        (as the field's resolver takes them)."""
        return () if self.arguments is None else (self.arguments(**arguments),)

    def read(self, document: Any, context: Context, **arguments: Any) -> Eventually[Any]:
        loader = self.loader(context.loaders)
        meaning = self.meaning(arguments)
        keys = self.keys(document, context, *meaning)
        if self.one:
            if keys is None:
                return self.value(None, document, context, *meaning)
            return when_loaded(
                [loader.load(keys)],
                lambda loaded: self.value(loaded[0], document, context, *meaning),
            )
        return when_loaded(
            [loader.load(key) for key in keys],
            lambda loaded: self.value(loaded, document, context, *meaning),
        )


def reference(loader: Callable[[Loaders], BatchLoader[Any, Any]], key: str) -> Loads:
    """The document the stored id ``document[key]`` names (a dangling one is a bug)."""
    return Loads(
        loader,
        lambda document, context: document[key],
        lambda loaded, document, context: (
            loaded if loaded is not None else referenced(document[key], loaded)
        ),
        one=True,
    )


def references(loader: Callable[[Loaders], BatchLoader[Any, Any]], key: str) -> Loads:
    """The documents the stored ids ``document[key]`` name, in order, those still there."""
    return Loads(
        loader,
        lambda document, context: document[key],
        lambda loaded, document, context: (
            loaded if None not in loaded else [found for found in loaded if found is not None]
        ),
    )


@dataclass(eq=False)
class StoredField:
    """A resolver field of a document type, declared once (:func:`stored_resolver`): ``read``
    its value from the document in document terms (``read(document, context, **arguments)``,
    or ``read(document, info, **arguments)`` if ``takes_info``, or the reads of ``loads``),
    and ``typed`` what the Strawberry resolver answers of that (typed objects), nothing for a
    leaf. The resolver calls the declaration; a plan calls ``read`` (or ``loads``) itself."""

    read: Callable[..., Any]
    takes_info: bool = False
    loads: Loads | None = None
    typed: Callable[[Any], Any] | None = None

    def resolve(self, root: _Stored, info: Any, **arguments: Any) -> Any:
        value = self.read(root.document, info if self.takes_info else info.context, **arguments)
        return value if self.typed is None else then(value, self.typed)


class _Stored(Protocol):
    """A typed object read from a stored document, which it keeps."""

    @property
    def document(self) -> Any: ...


_FIELD = "__document_read__"
_attribute_reads: dict[type, Mapping[str, AttributeRead]] = {}
_builders: dict[type, Callable[[Any], Any]] = {}


def document_type(reads: Mapping[str, AttributeRead]) -> Callable[[type[T]], type[T]]:
    """Declare ``reads`` (by attribute name) as how the decorated type's attributes read its
    document; :func:`from_document` builds instances from them. Apply above
    ``@strawberry.type``. Every attribute but ``document`` must have a read."""

    def declare(cls: type[T]) -> type[T]:
        _attribute_reads[cls] = dict(reads)
        _builders[cls] = _builder(cls, reads)
        return cls

    return declare


def _builder(cls: type[T], reads: Mapping[str, AttributeRead]) -> Callable[[Any], T]:
    """``cls(document=document, name=read(document), ...)`` as one generated function, as
    dataclasses generate ``__init__``: built for every document a typed path reads, where a
    dict of keyword arguments per object cost a tenth of the interpreted dashboard."""
    namespace: dict[str, Any] = {"cls": cls}
    arguments = []
    for index, (name, read) in enumerate(reads.items()):
        if not name.isidentifier():  # pragma: no cover - attribute names are identifiers
            raise ValueError(f"{name!r} is not an attribute name")
        namespace[f"read{index}"] = read
        if isinstance(read, Key):
            namespace[f"members{index}"] = read.members
            arguments.append(f"{name}={read.expression('document', f'members{index}')}")
        else:
            arguments.append(f"{name}=read{index}(document)")
    source = f"def build(document):\n    return cls(document=document, {', '.join(arguments)})"
    exec(compile(source, f"<from_document of {cls.__name__}>", "exec"), namespace)
    build: Callable[[Any], T] = namespace["build"]
    return build


def members_by_value(enum: type[E]) -> dict[Any, E]:
    """``enum``'s members by value: what an attribute read looks a stored value up in (a
    dict lookup, where calling the enum class runs Python code of its metaclass)."""
    return {member.value: member for member in enum}


def attribute_reads(cls: type) -> Mapping[str, AttributeRead] | None:
    """The attribute reads :func:`document_type` declared for ``cls``, if it did."""
    return _attribute_reads.get(cls)


def from_document(cls: type[T], document: Any) -> T:
    """An instance of a :func:`document_type` type, read from ``document``."""
    build: Callable[[Any], T] = _builders[cls]
    return build(document)


def stored_resolver(
    name: str,
    read: Callable[..., Any] | Loads,
    *,
    returns: Any,
    typed: Callable[[Any], Any] | None = None,
    takes_info: bool = False,
) -> Callable[..., Any]:
    """The resolver of a field declared by its read of the document: ``read`` (a function of
    the document and the context, or of the document and ``Info`` if ``takes_info``, then the
    field's arguments; or :class:`Loads`) and ``typed``, what the resolver answers of the read's
    value (``Service.from_document``, a page's ``map``; nothing for a leaf). ``returns`` is the
    field's type; its arguments are the read's parameters after the first two (or those of the
    loads' ``arguments``), annotated as Strawberry arguments. Attach it with
    ``strawberry.field(resolver=..., description=...)``: the plans read the same declaration
    (:func:`field_read`), so what the field means is said here only."""
    if isinstance(read, Loads):
        declared = StoredField(read.read, loads=read, typed=typed)
        arguments = [] if read.arguments is None else _parameters(read.arguments, 0)
    else:
        declared = StoredField(read, takes_info=takes_info, typed=typed)
        arguments = _parameters(read, 2)

    def resolver(root: _Stored, info: Any, **given: Any) -> Any:
        return declared.resolve(root, info, **given)

    from resolvers.context import Info

    keyword = inspect.Parameter.KEYWORD_ONLY
    positional = inspect.Parameter.POSITIONAL_OR_KEYWORD
    signature = inspect.Signature(
        [
            inspect.Parameter("root", positional),
            inspect.Parameter("info", positional, annotation=Info),
            *(parameter.replace(kind=keyword) for parameter in arguments),
        ],
        return_annotation=returns,
    )
    resolver.__name__ = resolver.__qualname__ = name
    resolver.__doc__ = read.__doc__ if not isinstance(read, Loads) else None
    setattr(resolver, "__signature__", signature)  # noqa: B010 - not a declared attribute
    setattr(resolver, _FIELD, declared)
    return resolver


def _parameters(function: Callable[..., Any], skip: int) -> list[inspect.Parameter]:
    """``function``'s parameters after the first ``skip``, their annotations evaluated where
    it was written (the others may name what is imported for type checking only)."""
    parameters = list(inspect.signature(function).parameters.values())[skip:]
    namespace = getattr(inspect.unwrap(function), "__globals__", {})
    return [
        parameter.replace(annotation=eval(parameter.annotation, namespace))
        if isinstance(parameter.annotation, str)
        else parameter
        for parameter in parameters
    ]


def field_read(resolver: Callable[..., Any]) -> StoredField | None:
    """The declaration :func:`stored_resolver` made ``resolver`` from, if it did."""
    found = getattr(resolver, _FIELD, None)
    return found if isinstance(found, StoredField) else None
