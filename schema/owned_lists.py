"""Lists that hang off several types, each written once and attached where it appears with
``strawberry.field(resolver=...)``: the authorizations of a partner, a seller or an offer, and
the requests of a partner or a seller. Who may read them is ``resolvers.visibility``'s rule."""

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Protocol

import strawberry

from datastore.ids import type_of
from resolvers.context import Info
from resolvers.visibility import sees_lists_of
from schema.arguments import (
    AuthorizationFilter,
    AuthorizationFilterArgument,
    AuthorizationStatusFilter,
    ExpiringWithinDays,
    RequestSellerFilter,
    RequestStatusFilter,
    Reverse,
    SortKeyArgument,
    UpdatedSince,
)
from schema.document_reads import stored_resolver
from schema.pagination import (
    EMPTY_PAGE,
    After,
    Before,
    Connection,
    DocumentPage,
    First,
    Last,
    empty_document_page,
)

if TYPE_CHECKING:
    from datastore.documents import AuthorizationDocument
    from schema.authorization import Authorization
    from schema.seller_request import SellerRequest

_OWNER_KIND = {"Partner": "partner", "Seller": "seller", "ServiceOffer": "offer"}


class _Owner(Protocol):
    """A type lists hang off: it keeps the document it was read from."""

    @property
    def document(self) -> Mapping[str, Any]: ...


def _owner(document: Mapping[str, Any]) -> tuple[str, str]:
    identifier = document["_id"]
    return _OWNER_KIND[type_of(identifier) or ""], identifier


async def _authorization_documents(
    document: Mapping[str, Any],
    info: Info,
    status: AuthorizationStatusFilter = None,
    expiring_within_days: ExpiringWithinDays = None,
    filter: AuthorizationFilterArgument = None,
    sort_key: SortKeyArgument = None,
    reverse: Reverse = False,
    first: First = None,
    after: After = None,
    last: Last = None,
    before: Before = None,
) -> "DocumentPage[AuthorizationDocument]":
    """Newest first (soonest ending with ``expiringWithinDays``) unless ``sortKey`` says;
    empty for anyone but the owner (an offer's partner) and admins."""
    from schema.authorization import authorization_documents

    if not sees_lists_of(info.context.viewer, document):
        return empty_document_page()
    query = (filter or AuthorizationFilter()).to_query(sort_key, reverse)
    return await authorization_documents(
        info, _owner(document), status, expiring_within_days, first, after, last, before, query
    )


def _authorizations(
    page: "DocumentPage[AuthorizationDocument]",
) -> "Connection[Authorization]":
    from schema.authorization import Authorization

    return page.map(Authorization.from_document)


authorizations = stored_resolver(
    "authorizations",
    _authorization_documents,
    takes_info=True,
    returns=Connection[Annotated["Authorization", strawberry.lazy("schema.authorization")]],
    typed=_authorizations,
)


async def requests(
    root: _Owner,
    info: Info,
    status: RequestStatusFilter = None,
    seller_id: RequestSellerFilter = None,
    updated_since: UpdatedSince = None,
    first: First = None,
    after: After = None,
    last: Last = None,
    before: Before = None,
) -> Connection[Annotated["SellerRequest", strawberry.lazy("schema.seller_request")]]:
    """Newest first; empty for anyone but the owner and admins."""
    from schema.seller_request import request_connection

    if not sees_lists_of(info.context.viewer, root.document):
        return Connection(edges=[], page_info=EMPTY_PAGE)
    return await request_connection(
        info, _owner(root.document), status, first, after, last, before, seller_id, updated_since
    )
