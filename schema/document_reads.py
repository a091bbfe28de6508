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
from typing import Any, TypeVar

from resolvers.context import Context

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

AttributeRead = Callable[[Any], Any]
"""An attribute's value from the document."""


@dataclass(frozen=True)
class FieldRead:
    """A resolver field's value from the document: ``read(document, context)``, or, when it
    takes arguments or reads lists through rules written for resolvers,
    ``read(document, info, **arguments)``."""

    read: Callable[..., Any]
    takes_info: bool


_FIELD = "__document_read__"
_attribute_reads: dict[type, Mapping[str, AttributeRead]] = {}


def document_type(reads: Mapping[str, AttributeRead]) -> Callable[[type[T]], type[T]]:
    """Declare ``reads`` (by attribute name) as how the decorated type's attributes read its
    document; :func:`from_document` builds instances from them. Apply above
    ``@strawberry.type``. Every attribute but ``document`` must have a read."""

    def declare(cls: type[T]) -> type[T]:
        _attribute_reads[cls] = dict(reads)
        return cls

    return declare


def attribute_reads(cls: type) -> Mapping[str, AttributeRead] | None:
    """The attribute reads :func:`document_type` declared for ``cls``, if it did."""
    return _attribute_reads.get(cls)


def from_document(cls: type[T], document: Any) -> T:
    """An instance of a :func:`document_type` type, read from ``document``."""
    reads = _attribute_reads[cls]
    build: Callable[..., T] = cls
    return build(document=document, **{name: read(document) for name, read in reads.items()})


def document_read(read: Callable[[Any, Context], Any]) -> Callable[[F], F]:
    """Declare that the decorated resolver returns, in typed objects, what ``read(document,
    context)`` returns in documents. Apply below ``@strawberry.field``."""
    return _declare(FieldRead(read, takes_info=False))


def document_read_with_info(read: Callable[..., Any]) -> Callable[[F], F]:
    """As :func:`document_read`, for ``read(document, info, **arguments)``: the resolver's
    arguments, as Strawberry converts them, and its ``Info``."""
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
