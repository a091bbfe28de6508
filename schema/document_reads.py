"""Document reads: how each field of a type read from a stored document gets its value.

A partner, an offer, an authorization or a history entry is read from one stored document.
Each such type declares once how its fields read that document: its attributes by a function
of the document (:func:`document_type`, from which ``from_document`` builds the typed object),
its resolver fields by a function of the document that their resolver calls
(:func:`document_read`). The interpreted path builds typed objects and calls resolvers as
Strawberry expects; a planned query (``edge.operation_plans``) calls the same reads on the
documents themselves and never builds the typed objects. A read's value is the field's value
in document terms: a leaf as the typed field holds it, a stored document for a field of a
document type, a list of them, or a :class:`~schema.pagination.Connection` whose nodes are
documents; or an awaitable of one of those.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeVar

from datastore.loaders import BatchLoader, Eventually, referenced, when_loaded

if TYPE_CHECKING:
    from datastore.loaders import Loaders
    from resolvers.context import Context

T = TypeVar("T")
E = TypeVar("E", bound=Enum)
F = TypeVar("F", bound=Callable[..., Any])

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


@dataclass(frozen=True)
class FieldRead:
    """A resolver field's value from the document: ``read(document, context, **arguments)``,
    or, for lists read through rules written for resolvers,
    ``read(document, info, **arguments)``; the arguments as Strawberry converts them."""

    read: Callable[..., Any]
    takes_info: bool
    loads: Loads | None = None


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


def document_read(read: Callable[..., Any]) -> Callable[[F], F]:
    """Declare that the decorated resolver returns, in typed objects, what ``read(document,
    context, **arguments)`` returns in documents. Apply below ``@strawberry.field``."""
    return _declare(FieldRead(read, takes_info=False))


def document_loads(loads: Loads) -> Callable[[F], F]:
    """As :func:`document_read`, for a read that is ``loads``."""
    return _declare(FieldRead(loads.read, takes_info=False, loads=loads))


def document_read_with_info(read: Callable[..., Any]) -> Callable[[F], F]:
    """As :func:`document_read`, for ``read(document, info, **arguments)``."""
    return _declare(FieldRead(read, takes_info=True))


def _declare(read: FieldRead) -> Callable[[F], F]:
    def declare(resolver: F) -> F:
        setattr(resolver, _FIELD, read)
        return resolver

    return declare


def field_read(resolver: Callable[..., Any]) -> FieldRead | None:
    """The read :func:`document_read` declared for ``resolver``, if it did."""
    found = getattr(resolver, _FIELD, None)
    return found if isinstance(found, FieldRead) else None
