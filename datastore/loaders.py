"""Per-request dataloaders: every nested list or lookup at one depth is one round trip."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Generic, Protocol, TypeAlias, TypeVar

from aiodataloader import DataLoader

from datastore import collections as c
from datastore.codec import utc_now
from datastore.documents import (
    AuthorizationDocument,
    CategoryApplicationDocument,
    HistoryDocument,
    PartnerDocument,
    ReferralLinkDocument,
    RequestDocument,
    SellerDocument,
    ServiceDocument,
    ServiceOfferDocument,
    ShopDocument,
    TikTokAccountDocument,
)
from datastore.enums import OfferStatus
from datastore.paging import Page, PageResult, window
from datastore.store import DESCENDING, Collection, DocumentStore, Filter, Sort

D = TypeVar("D", bound=Mapping[str, Any])
T = TypeVar("T")
V = TypeVar("V")
K = TypeVar("K")
L = TypeVar("L")

Eventually: TypeAlias = T | Awaitable[T]
"""What a resolver returns: the value, or an awaitable of it (see :func:`when_loaded`)."""


class BatchLoader(Protocol[K, V]):
    """A loader whose cache is readable (:attr:`futures`, by key) and whose batch function can
    be called with a whole level's keys at once (a planned query's reads, see
    ``schema.document_reads.Loads``), its results primed into the cache."""

    futures: dict[K, asyncio.Future[V]]

    async def batch_load_fn(self, keys: list[K]) -> list[V]: ...

    def load(self, key: K) -> asyncio.Future[V]: ...


class _DocumentByIdLoader(DataLoader[str, D | None], Generic[D]):
    """Documents of one collection by id; ``D`` is the collection's declared shape."""

    collection: Collection[D]

    def __init__(self, store: DocumentStore) -> None:
        self.futures: dict[str, asyncio.Future[D | None]] = {}
        super().__init__(cache_map=self.futures)
        self.store = store

    async def batch_load_fn(self, keys: list[str]) -> list[D | None]:
        found = await self.store.get_many(self.collection, keys)
        return [found.get(key) for key in keys]

    def load_many(self, keys: Iterable[str]) -> asyncio.Future[list[D | None]]:
        # aiodataloader's own first checks ``isinstance(keys, typing.Iterable)``, which costs
        # tens of microseconds a call: more than loading from the cache.
        return asyncio.gather(*[self.load(key) for key in keys])


class PartnerByIdLoader(_DocumentByIdLoader[PartnerDocument]):
    collection = c.PARTNERS


class SellerByIdLoader(_DocumentByIdLoader[SellerDocument]):
    collection = c.SELLERS


class ShopByIdLoader(_DocumentByIdLoader[ShopDocument]):
    collection = c.SHOPS


class TikTokAccountByIdLoader(_DocumentByIdLoader[TikTokAccountDocument]):
    collection = c.TIKTOK_ACCOUNTS


class ServiceByIdLoader(_DocumentByIdLoader[ServiceDocument]):
    collection = c.SERVICES


class CategoryApplicationByIdLoader(_DocumentByIdLoader[CategoryApplicationDocument]):
    collection = c.CATEGORY_APPLICATIONS


class ServiceOfferByIdLoader(_DocumentByIdLoader[ServiceOfferDocument]):
    collection = c.SERVICE_OFFERS


@dataclass(frozen=True)
class ListSpec:
    """What to list under each parent: a hashable filter description plus the window."""

    page: Page
    statuses: tuple[str, ...] | None = None
    types: tuple[str, ...] | None = None
    # Overrides the loader's order (e.g. soonest-ending first).
    sort: Sort | None = None
    # Equality conditions on further fields (e.g. ("serviceId", id)).
    equals: tuple[tuple[str, str], ...] = ()
    # Only documents changed at or after this moment (incremental sync).
    updated_since: datetime | None = None
    # Offers only: archived ones, or (False) the others.
    archived: bool | None = None
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # A loader hashes each key several times (its cache, its batch's grouping and
        # results), for every parent of a level: the fields are hashed once.
        fields = (self.page, self.statuses, self.types, self.sort, self.equals)
        object.__setattr__(self, "_hash", hash((*fields, self.updated_since, self.archived)))

    def __hash__(self) -> int:
        return self._hash

    def filter(self) -> Filter:
        conditions: dict[str, Any] = dict(self.equals)
        if self.statuses is not None:
            conditions["status"] = {"$in": list(self.statuses)}
        if self.types is not None:
            conditions["type"] = {"$in": list(self.types)}
        if self.updated_since is not None:
            conditions["updatedAt"] = {"$gte": self.updated_since}
        return conditions


NEWEST_FIRST: Sort = (("createdAt", DESCENDING),)


class _GroupedPageLoader(DataLoader[tuple[Hashable, ListSpec], PageResult[D]], Generic[D]):
    """Loads one window per parent; keys sharing a spec become one ``find_grouped`` call."""

    collection: Collection[D]
    group_field: ClassVar[str]
    sort: ClassVar[Sort] = NEWEST_FIRST

    def __init__(self, store: DocumentStore) -> None:
        self.futures: dict[tuple[Hashable, ListSpec], asyncio.Future[PageResult[D]]] = {}
        super().__init__(cache_map=self.futures)
        self.store = store
        self.counts = _GroupedCountLoader(self)

    def filter_of(self, spec: ListSpec) -> Filter:
        """The store filter ``spec`` stands for (loaders with derived fields override it)."""
        return spec.filter()

    async def batch_load_fn(self, keys: list[tuple[Hashable, ListSpec]]) -> list[PageResult[D]]:
        parents_by_spec: dict[ListSpec, list[Hashable]] = defaultdict(list)
        for parent, spec in keys:
            parents_by_spec[spec].append(parent)
        groups_by_spec: dict[ListSpec, dict[Any, list[D]]] = {}
        for spec, parents in parents_by_spec.items():
            start = spec.page.start()
            sort = spec.sort or self.sort
            groups_by_spec[spec] = await self.store.find_grouped(
                self.collection,
                self.group_field,
                parents,
                spec.page.bound_filter(self.filter_of(spec), sort),
                sort=spec.page.read_sort(sort),
                limit_per_group=spec.page.size + 1,
                after=list(start) if start is not None else None,
            )
        return [
            window(groups_by_spec[key[1]].get(key[0], []), key[1].page, _Count(self.counts, key))
            for key in keys
        ]


class _Count:
    """A window's ``Total``: its parent's count, loaded (batched per level) when asked for.
    An object, not a closure: a closure over a key is five objects, made for every parent
    of every grouped read."""

    __slots__ = ("counts", "key")

    def __init__(self, counts: _GroupedCountLoader, key: tuple[Hashable, ListSpec]) -> None:
        self.counts = counts
        self.key = key

    def __call__(self) -> Awaitable[int]:
        count: Awaitable[int] = self.counts.load(self.key)
        return count


class _GroupedCountLoader(DataLoader[tuple[Hashable, ListSpec], int]):
    """How many documents each parent's list holds: one ``count_grouped`` per spec, so a
    ``totalCount`` costs one round trip per nesting level, not one per parent."""

    def __init__(self, pages: _GroupedPageLoader[Any]) -> None:
        super().__init__()
        self.pages = pages

    async def batch_load_fn(self, keys: list[tuple[Hashable, ListSpec]]) -> list[int]:
        parents_by_spec: dict[ListSpec, list[Hashable]] = defaultdict(list)
        for parent, spec in keys:
            parents_by_spec[spec].append(parent)
        counts: dict[tuple[Hashable, ListSpec], int] = {}
        for spec, parents in parents_by_spec.items():
            found = await self.pages.store.count_grouped(
                self.pages.collection, self.pages.group_field, parents, self.pages.filter_of(spec)
            )
            for parent in parents:
                counts[(parent, spec)] = found.get(parent, 0)
        return [counts[key] for key in keys]


class ServicesByPartnerLoader(_GroupedPageLoader[ServiceDocument]):
    collection = c.SERVICES
    group_field = "partnerId"


class ShopsBySellerLoader(_GroupedPageLoader[ShopDocument]):
    collection = c.SHOPS
    group_field = "sellerId"


class TikTokAccountsBySellerLoader(_GroupedPageLoader[TikTokAccountDocument]):
    collection = c.TIKTOK_ACCOUNTS
    group_field = "sellerId"


class CategoryApplicationsByPartnerLoader(_GroupedPageLoader[CategoryApplicationDocument]):
    collection = c.CATEGORY_APPLICATIONS
    group_field = "partnerId"


class AuthorizationsBySellerLoader(_GroupedPageLoader[AuthorizationDocument]):
    collection = c.AUTHORIZATIONS
    group_field = "sellerId"


class AuthorizationsByPartnerLoader(_GroupedPageLoader[AuthorizationDocument]):
    collection = c.AUTHORIZATIONS
    group_field = "partnerId"


class AuthorizationsByOfferLoader(_GroupedPageLoader[AuthorizationDocument]):
    collection = c.AUTHORIZATIONS
    group_field = "offerId"


class AuthorizationByIdLoader(_DocumentByIdLoader[AuthorizationDocument]):
    collection = c.AUTHORIZATIONS


def offer_status_filter(statuses: tuple[str, ...] | None, now: datetime) -> Filter:
    """Offers whose status as read at ``now`` is one of ``statuses``.

    EXPIRED is never stored: it is a stored OPEN offer whose ``endsAt`` has passed, so OPEN
    means stored OPEN with ``endsAt`` still ahead (the same rule as
    ``resolvers.offers.effective_offer_status``, expressed for the store).
    """
    if statuses is None:
        return {}
    branches: list[Filter] = []
    for status in statuses:
        if status == OfferStatus.OPEN:
            branches.append({"status": OfferStatus.OPEN.value, "endsAt": {"$gt": now}})
        elif status == OfferStatus.EXPIRED:
            branches.append({"status": OfferStatus.OPEN.value, "endsAt": {"$lte": now}})
        else:
            branches.append({"status": status})
    return {"$or": branches} if branches else {"_id": {"$in": []}}


class ServiceOffersByPartnerLoader(_GroupedPageLoader[ServiceOfferDocument]):
    """A partner's offers; ``ListSpec.statuses`` are statuses as read (EXPIRED included)."""

    collection = c.SERVICE_OFFERS
    group_field = "partnerId"

    def filter_of(self, spec: ListSpec) -> Filter:
        # One clock reading per batch, so every partner of a batch is filtered alike.
        conditions = [offer_status_filter(spec.statuses, utc_now())]
        if spec.updated_since is not None:
            conditions.append({"updatedAt": {"$gte": spec.updated_since}})
        if spec.archived is not None:
            conditions.append(
                {"archivedAt": {"$ne": None}} if spec.archived else {"archivedAt": None}
            )
        conditions = [condition for condition in conditions if condition]
        if not conditions:
            return {}
        return conditions[0] if len(conditions) == 1 else {"$and": conditions}


class ServiceOffersBySellerLoader(ServiceOffersByPartnerLoader):
    """Offers made for one seller (its inbox), with statuses as read."""

    group_field = "sellerId"


class RequestsBySellerLoader(_GroupedPageLoader[RequestDocument]):
    collection = c.REQUESTS
    group_field = "sellerId"


class RequestsByPartnerLoader(_GroupedPageLoader[RequestDocument]):
    collection = c.REQUESTS
    group_field = "partnerId"


class RequestByIdLoader(_DocumentByIdLoader[RequestDocument]):
    collection = c.REQUESTS


class HistoryBySubjectLoader(_GroupedPageLoader[HistoryDocument]):
    collection = c.HISTORY
    group_field = "subjectId"


class ReferralLinksByServiceLoader(DataLoader[str, list[ReferralLinkDocument]]):
    """The referral links of each service (at most one per kind, so unpaged), for every
    service asked for in one read."""

    def __init__(self, store: DocumentStore) -> None:
        super().__init__()
        self.store = store

    async def batch_load_fn(self, keys: list[str]) -> list[list[ReferralLinkDocument]]:
        links = await self.store.find(c.REFERRAL_LINKS, {"serviceId": {"$in": keys}})
        by_service: dict[str, list[ReferralLinkDocument]] = defaultdict(list)
        for link in links:
            by_service[link["serviceId"]].append(link)
        return [by_service.get(key, []) for key in keys]


class ReferralClicksByLinkLoader(DataLoader[str, int]):
    """How many clicks each referral link has, for every link asked for in one grouped count
    (no click document is read)."""

    def __init__(self, store: DocumentStore) -> None:
        super().__init__()
        self.store = store

    async def batch_load_fn(self, keys: list[str]) -> list[int]:
        counts = await self.store.count_grouped(c.REFERRAL_CLICKS, "linkId", keys)
        return [counts.get(key, 0) for key in keys]


class _Lazy(Generic[L]):
    """One kind of a request's loaders, made when first asked for: a request uses a few of
    them, and making all of them cost a tiny query a tenth of its time."""

    def __init__(self, make: Callable[[DocumentStore], L]) -> None:
        self.make = make
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, loaders: Loaders, owner: type | None = None) -> L:
        loader = self.make(loaders.store)
        # Kept on the instance, which attribute lookups find before this descriptor.
        loaders.__dict__[self.name] = loader
        return loader


class Loaders:
    """The loaders of one request; built fresh per request so caches never leak between
    callers with different permissions."""

    partner_by_id = _Lazy(PartnerByIdLoader)
    seller_by_id = _Lazy(SellerByIdLoader)
    shop_by_id = _Lazy(ShopByIdLoader)
    tiktok_account_by_id = _Lazy(TikTokAccountByIdLoader)
    service_by_id = _Lazy(ServiceByIdLoader)
    category_application_by_id = _Lazy(CategoryApplicationByIdLoader)
    service_offer_by_id = _Lazy(ServiceOfferByIdLoader)
    services_by_partner = _Lazy(ServicesByPartnerLoader)
    shops_by_seller = _Lazy(ShopsBySellerLoader)
    tiktok_accounts_by_seller = _Lazy(TikTokAccountsBySellerLoader)
    category_applications_by_partner = _Lazy(CategoryApplicationsByPartnerLoader)
    service_offers_by_partner = _Lazy(ServiceOffersByPartnerLoader)
    service_offers_by_seller = _Lazy(ServiceOffersBySellerLoader)
    history_by_subject = _Lazy(HistoryBySubjectLoader)
    authorization_by_id = _Lazy(AuthorizationByIdLoader)
    authorizations_by_seller = _Lazy(AuthorizationsBySellerLoader)
    authorizations_by_partner = _Lazy(AuthorizationsByPartnerLoader)
    authorizations_by_offer = _Lazy(AuthorizationsByOfferLoader)
    request_by_id = _Lazy(RequestByIdLoader)
    requests_by_seller = _Lazy(RequestsBySellerLoader)
    requests_by_partner = _Lazy(RequestsByPartnerLoader)
    referral_links_by_service = _Lazy(ReferralLinksByServiceLoader)
    referral_clicks_by_link = _Lazy(ReferralClicksByLinkLoader)

    def __init__(self, store: DocumentStore) -> None:
        self.store = store

    def release(self) -> None:
        """Drop every read cached so far (the request is answered). Its caches sit in
        reference cycles (a page's lazy total holds its count loader, which holds the page
        loader and so its cache; graphql-core's execution context holds itself and the
        request's context), which only the cyclic collector frees: left to it, every
        document a request read waited in the oldest generation for a full collection, each
        of which walks the reads of every request in flight (a third of the CPU of a large
        answer, more the more requests were in flight)."""
        for made in vars(self).values():
            if isinstance(made, DataLoader):
                made.clear_all()

    def by_id(self, collection: str) -> DataLoader[str, Any]:
        """The id loader of ``collection`` (for ``node`` lookups, where the id's type, known
        only at run time, decides which schema type reads the document)."""
        loaders: dict[str, DataLoader[str, Any]] = {
            c.PARTNERS: self.partner_by_id,
            c.SELLERS: self.seller_by_id,
            c.SHOPS: self.shop_by_id,
            c.TIKTOK_ACCOUNTS: self.tiktok_account_by_id,
            c.SERVICES: self.service_by_id,
            c.CATEGORY_APPLICATIONS: self.category_application_by_id,
            c.AUTHORIZATIONS: self.authorization_by_id,
            c.REQUESTS: self.request_by_id,
            c.SERVICE_OFFERS: self.service_offer_by_id,
        }
        return loaders[collection]


async def load_required(loader: DataLoader[str, D | None], key: str) -> D:
    """The document a stored reference points at (see :func:`referenced`)."""
    return referenced(key, await loader.load(key))


def referenced(key: str, document: D | None) -> D:
    """``document``, read for the stored reference ``key``: a dangling reference is a bug
    (masked and logged), never bad input."""
    if document is None:
        raise LookupError(f"dangling reference to {key}")
    return document


def when_loaded(
    futures: Sequence[asyncio.Future[V]], convert: Callable[[list[V]], T]
) -> Eventually[T]:
    """``convert`` of what a dataloader's ``futures`` hold: at once when every one is loaded
    already (the partner of every row of a page, services every offer shares), else once they
    are. Executors await a resolver's awaitable result and take any other as it is, so a
    field of an already-loaded document costs no coroutine and no task, and one still loading
    costs a future and a callback (not a coroutine and the task that would drive it)."""
    if all(future.done() for future in futures):
        return convert([future.result() for future in futures])
    gathered = futures[0] if len(futures) == 1 else asyncio.gather(*futures)
    converted: asyncio.Future[T] = gathered.get_loop().create_future()

    def settle(done: asyncio.Future[Any]) -> None:
        if converted.cancelled():
            return
        if done.cancelled():
            converted.cancel()
            return
        error = done.exception()
        if error is not None:
            converted.set_exception(error)
            return
        try:
            value = convert(list(done.result()) if len(futures) > 1 else [done.result()])
        except Exception as failure:  # the convert's error is the field's, as if raised there
            converted.set_exception(failure)
        else:
            converted.set_result(value)

    gathered.add_done_callback(settle)
    return converted


def then(value: Eventually[T], convert: Callable[[T], V]) -> Eventually[V]:
    """``convert`` of ``value`` once it is there: at once for a value, chained for a future
    (no coroutine), awaited in a coroutine for any other awaitable."""
    if isinstance(value, asyncio.Future):
        return when_loaded([value], lambda found: convert(found[0]))
    if isinstance(value, Awaitable):
        return _converted(value, convert)
    return convert(value)


async def _converted(value: Awaitable[T], convert: Callable[[T], V]) -> V:
    return convert(await value)
