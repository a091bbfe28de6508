"""The schema, assembled: every schema module's root fields merged into ``Query`` and
``Mutation``, the types reached only through interfaces, and the schema's own extensions.

The modules are found, not listed: each marks its root types (:mod:`schema.roots`), and
:func:`build_schema` imports every module of the package first. The types themselves never
import this module, so they form no cycle through it.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import strawberry
from graphql.execution import Executor
from strawberry.extensions import SchemaExtension
from strawberry.tools import merge_types

from schema.long_lived import long_lived
from schema.roots import MUTATION_PARTS, QUERY_PARTS

# The domain modules' types live as long as the process: see schema.long_lived.
with long_lived():
    from schema.authorization import Authorization
    from schema.category_application import CategoryApplication
    from schema.enum_values import describe_enum_values
    from schema.error_log import LoggedSchema
    from schema.events import EVENT_TYPES, Subscription
    from schema.extensions import MaskUnexpectedErrors
    from schema.partner import Partner
    from schema.scalars import SCALAR_OVERRIDES
    from schema.seller import Seller, Shop, TikTokAccount
    from schema.seller_request import SellerRequest
    from schema.service import Service
    from schema.service_category import ServiceCategory
    from schema.service_offer import ServiceOffer

ExtensionFactory = Callable[[], SchemaExtension]

# Types a client reaches through the Node interface or an event's union, not by a field.
TYPES = [
    Partner,
    Service,
    ServiceCategory,
    Seller,
    Shop,
    TikTokAccount,
    CategoryApplication,
    Authorization,
    ServiceOffer,
    SellerRequest,
    *EVENT_TYPES,
]


@functools.cache
def _roots() -> tuple[type, type]:
    """``Query`` and ``Mutation``, from every module's marked parts, ordered by module (and
    within one, as written) so the exported SDL does not depend on import order."""
    with long_lived():
        for module in pkgutil.iter_modules([str(Path(__file__).parent)]):
            importlib.import_module(f"schema.{module.name}")
    describe_enum_values()

    def merged(name: str, parts: list[type]) -> type:
        ordered = sorted(parts, key=lambda part: part.__module__)  # stable: as written within
        return merge_types(name, tuple(ordered))

    return merged("Query", QUERY_PARTS), merged("Mutation", MUTATION_PARTS)


def build_schema(
    extensions: Sequence[ExtensionFactory] = (), *, executor: type[Executor[Any]] | None = None
) -> strawberry.Schema:
    """The schema with ``extensions`` (the gateway layer's) running before error masking,
    executed by ``executor`` (graphql-core's, through Strawberry, if ``None``)."""
    query, mutation = _roots()
    return LoggedSchema(
        query=query,
        mutation=mutation,
        subscription=Subscription,
        types=TYPES,
        scalar_overrides=SCALAR_OVERRIDES,
        extensions=[*extensions, MaskUnexpectedErrors],
        execution_context_class=executor,
    )


@functools.cache
def plain_schema() -> strawberry.Schema:
    """The schema without the gateway layer: for exporting SDL and for tools. Built on first
    use, since a serving process builds its own with the gateway layer and building one takes
    a good share of start-up."""
    return build_schema()


def __getattr__(name: str) -> strawberry.Schema:
    # ``from schema.api import schema``: the plain schema, built then (PEP 562).
    if name == "schema":
        return plain_schema()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
