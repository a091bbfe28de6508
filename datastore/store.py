"""The storage interface the domain code sees; adapters implement it for SQLite and MongoDB.

Filters are a small, Mongo-shaped language that both adapters translate:

- ``{"field": value}``: equality (``None`` matches a missing field); dotted paths reach into
  subdocuments;
- ``{"field": {"$in": [...]}}``, ``$nin``, ``$ne``, ``$gt``, ``$gte``, ``$lt``, ``$lte``
  (``$ne`` and ``$nin`` match a missing field unless they name ``None``, as in MongoDB);
- ``{"field": {"$contains": value}}``: an array field holds ``value`` (a scalar or an object
  never contains anything);
- ``{"$or": [filter, ...]}`` and ``{"$and": [filter, ...]}``.

``limit=0`` reads nothing (PyMongo would read it as "no limit"); a negative limit is refused.
Sorts are ``[(field, ASCENDING | DESCENDING), ...]``; ``_id`` is always appended as the last key,
so every order is total and keyset pagination (``after``: the sort values of the last document
seen, see :func:`keyset_of`) neither repeats nor skips documents while data changes.

Transactions and the rules they keep
------------------------------------
SQLite runs one writing transaction at a time; MongoDB runs them side by side on snapshots, and
two transactions that read the same snapshot, write *different* documents and both commit are
both accepted (write skew). A write conflict is only detected when both write the *same*
document: the loser is run again from the start and then sees the winner's writes. Hence the
rule every business rule follows, on every adapter:

    **A transaction that checks a document it does not write must write it (or a guard
    document) to make the check hold** -- or the rule must be a unique index.

"Write it" may be a write of nothing but its ``version``, which is what
:meth:`DocumentStore.hold` does (on SQLite, whose writing transactions never overlap, it only
reads). A check over a set of documents that may grow (how many open requests a seller has)
holds one document that every transaction growing the set also writes (the seller).

A read may also rank by a computed score (``find(..., score=(field, values))``: how many of
``values`` the array ``field`` holds). The score is the pseudo-field :data:`SCORE`, usable as a
sort key and, in that read's filter, as a field (keyset bounds need it); nowhere else.
"""

from __future__ import annotations

import contextlib
import functools
import re
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

from datastore.codec import Document
from datastore.files import FileStore

T = TypeVar("T")
D = TypeVar("D", bound=Mapping[str, Any])
D_co = TypeVar("D_co", bound=Mapping[str, Any], covariant=True)
E = TypeVar("E", bound=Mapping[str, Any])

ASCENDING = 1
DESCENDING = -1

Filter = Mapping[str, Any]
Sort = Sequence[tuple[str, int]]
Score = tuple[str, Sequence[Any]]
"""``(array field, values)``: a document scores how many of the distinct values it holds."""

SCORE = "$score"
"""The name under which a read's computed score is sorted and filtered on."""

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class Collection(str, Generic[D_co]):
    """A collection's name, carrying the declared shape ``D_co`` of its documents (a
    ``TypedDict`` of ``datastore.documents``; ``dict`` for scratch collections in tests).

    It is the name wherever a name is expected; the store's reads and writes return the shape,
    so code reading ``document["nmae"]`` from a ``PARTNERS`` read fails mypy. Code that serves
    several collections alike takes ``Collection[Mapping[str, Any]]``. ``shape`` is kept at
    run time too, to check stored documents against it (``documents.problems_of``).
    """

    shape: type[D_co]

    def __new__(cls, name: str, shape: type[D_co]) -> Collection[D_co]:
        collection = super().__new__(cls, name)
        collection.shape = shape
        return collection

    def __reduce__(self) -> tuple[Any, ...]:
        return (Collection, (str(self), self.shape))


class StoreError(Exception):
    """Base class of the errors a store raises on purpose."""


class DuplicateKeyError(StoreError):
    """An insert or update would break a unique constraint."""

    def __init__(self, collection: str, index: str) -> None:
        super().__init__(f"duplicate key in {collection} for unique index {index}")
        self.collection = collection
        self.index = index


class VersionConflictError(StoreError):
    """The document changed (or vanished) since it was read; re-read and retry."""

    def __init__(self, collection: str, document_id: str) -> None:
        super().__init__(f"{collection}/{document_id} changed since it was read")
        self.collection = collection
        self.document_id = document_id


class StoreUnavailableError(StoreError):
    """The store cannot be used now (unreachable, timed out, locked, full): retry later. The
    transaction it interrupted wrote nothing."""


class CommitUnknownError(StoreError):
    """The store did not confirm whether the transaction committed (the connection dropped, or
    its time ran out, while committing): it may have been written. A retry must be able to
    tell, as a mutation's idempotency key does (its claim commits with the result)."""


STORE_TROUBLE = (StoreUnavailableError, CommitUnknownError)
"""What a store raises when it could not take the work now: retryable, and expected in
operation (answered ``STORE_UNAVAILABLE`` or ``COMMIT_UNKNOWN``, never logged as a bug)."""


@dataclass(frozen=True)
class IndexSpec:
    """An index, declared once and created at start-up on every adapter.

    ``unique`` indexes skip documents missing any of their fields, on both adapters. Other
    indexes end with ``_id`` (see :attr:`keys`), the tiebreak every sort ends with.
    """

    collection: str
    fields: tuple[str, ...]
    unique: bool = False
    text: bool = False
    """A full-text index of array fields of words: ``$contains`` of one word in them, and a
    ``score`` over them, are answered from an inverted index (at most one per collection)."""

    @functools.cached_property  # read for every index of a collection on each of its reads
    def keys(self) -> tuple[str, ...]:
        """The indexed fields: ``fields``, then ``_id`` unless unique or already there.

        Every sort ends with ``_id`` (see :func:`full_sort`), so an index on the equality
        fields and the sort fields delivers a keyset page in order, without sorting its
        rows, only when ``_id`` closes it too.
        """
        if self.unique or self.text or "_id" in self.fields:
            return self.fields
        return (*self.fields, "_id")

    @property
    def name(self) -> str:
        suffix = "_".join(f.replace(".", "_") for f in self.keys)
        kind = "tx" if self.text else "ux" if self.unique else "ix"
        return f"{kind}_{self.collection}_{suffix}"


@dataclass(frozen=True)
class Read(Generic[D]):
    """One read of :meth:`DocumentStore.find_together`: a ``find`` of ``collection`` without a
    score or a keyset."""

    collection: Collection[D]
    filter: Filter | None = None
    sort: Sort = ()
    limit: int | None = None


@dataclass
class StoreStats:
    """What a store did, so tests can assert round trips instead of timing."""

    round_trips: int = 0
    documents_read: int = 0

    def reset(self) -> None:
        self.round_trips = 0
        self.documents_read = 0


# What the store did for the request being served (set by the gateway around each request), so
# round trips per request can be measured while requests run concurrently.
request_stats: ContextVar[StoreStats | None] = ContextVar("request_stats", default=None)
_counting: ContextVar[bool] = ContextVar("store_counting", default=True)


@contextlib.contextmanager
def uncounted() -> Iterator[None]:
    """Reads made inside (and in tasks started inside) count in no stats: work a check repeats
    is not work the request did."""
    token = _counting.set(False)
    try:
        yield
    finally:
        _counting.reset(token)


@dataclass
class _Counted:
    stats: StoreStats = field(default_factory=StoreStats)


def check_collection(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"invalid collection name {name!r}")
    return name


# Remembered: every write and read checks each path it names, and the same few paths recur.
@functools.lru_cache(maxsize=4096)
def check_path(path: str) -> str:
    if not _PATH.match(path):
        raise ValueError(f"invalid field path {path!r}")
    return path


def full_sort(sort: Sort) -> list[tuple[str, int]]:
    """``sort`` with ``_id`` appended (in the last key's direction) to make the order total."""
    keys = [(name if name == SCORE else check_path(name), direction) for name, direction in sort]
    if not any(name == "_id" for name, _ in keys):
        keys.append(("_id", keys[-1][1] if keys else ASCENDING))
    return keys


def get_path(document: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted ``path`` in ``document``, or ``None``."""
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def score_of(document: Mapping[str, Any], score: Score) -> int:
    """How many of the distinct ``score`` values the document's array field holds.

    A missing or non-array field scores 0, as it does in the adapters.
    """
    field_name, values = score
    held = get_path(document, field_name)
    if not isinstance(held, list):
        return 0
    return sum(1 for value in dict.fromkeys(values) if value in held)


def mentions_score(filter: Filter | None) -> bool:
    """Whether ``filter`` tests the :data:`SCORE` pseudo-field anywhere."""
    for key, condition in (filter or {}).items():
        if key == SCORE:
            return True
        if key in ("$or", "$and") and any(mentions_score(sub) for sub in condition):
            return True
    return False


def check_score(filter: Filter | None, sort: Sort, score: Score | None) -> None:
    """Refuse a read that sorts or filters on :data:`SCORE` without computing one."""
    if score is None and (any(name == SCORE for name, _ in sort) or mentions_score(filter)):
        raise ValueError(f"{SCORE} is only available to a find that is given a score")
    if score is not None:
        check_path(score[0])


def check_read(filter: Filter | None, sort: Sort, score: Score | None, limit: int | None) -> None:
    """Refuse a read no adapter can answer: a negative limit, or :data:`SCORE` misused."""
    check_score(filter, sort, score)
    if limit is not None and limit < 0:
        raise ValueError(f"limit must not be negative, got {limit}")


def keyset_of(document: Mapping[str, Any], sort: Sort, score: Score | None = None) -> list[Any]:
    """The ``after`` values that continue a listing in ``sort`` order past ``document``.

    A listing sorted by :data:`SCORE` needs the ``score`` it was read with.
    """
    check_score(None, sort, score)
    return [
        score_of(document, score)
        if name == SCORE and score is not None
        else get_path(document, name)
        for name, _ in full_sort(sort)
    ]


def keyset_filter(sort: Sort, after: Sequence[Any]) -> Filter:
    """The filter that selects documents strictly after ``after`` in ``sort`` order."""
    keys = full_sort(sort)
    if len(after) != len(keys):
        raise ValueError("cursor does not match the sort order")
    branches: list[dict[str, Any]] = []
    for position, (name, direction) in enumerate(keys):
        branch: dict[str, Any] = {keys[i][0]: after[i] for i in range(position)}
        if after[position] is None:
            # Missing values sort first ascending; past a missing value, any present one follows.
            if direction == ASCENDING:
                branch[name] = {"$ne": None}
            else:
                continue
        elif direction == ASCENDING:
            branch[name] = {"$gt": after[position]}
        else:
            branch[name] = {"$lt": after[position]}
            # Missing values sort last descending, so they all follow a present one.
            branches.append({**branch, name: None})
        branches.append(branch)
    return {"$or": branches} if branches else {"_id": {"$in": []}}


DEFAULT_TRANSACTION_BATCH = 300
"""The most documents one transaction of a job that grows with the data writes (see
:attr:`DocumentStore.transaction_batch`)."""


class DocumentStore(_Counted, ABC):
    """A document store: collections of JSON-like documents keyed by a string ``_id``.

    Every document carries an integer ``version`` (1 on insert, +1 on each update) used for
    optimistic concurrency. Each call is one round trip and counts in :attr:`stats`.
    """

    transaction_batch: int = DEFAULT_TRANSACTION_BATCH
    """How many documents (rows) one transaction of work that grows with the data may write:
    pruning the event log, ending what a closed partner left active, sweeping expired
    authorizations cut their work into transactions of at most this many writes, each
    committing its progress. MongoDB advises at most 1,000 documents per transaction (and
    bounds its length), and a SQLite transaction holds the only write lock while it runs, so
    every other writer waits at most one such transaction. Set by the gateway from
    ``TSP_TRANSACTION_BATCH``; the adapters do not enforce it, the domain code keeps it."""

    @abstractmethod
    async def connect(self) -> None:
        """Open connections (and create the database when it is new)."""

    @abstractmethod
    async def close(self) -> None:
        """Close every connection; the store is unusable afterwards."""

    @abstractmethod
    async def ping(self) -> None:
        """Raise :class:`StoreUnavailableError` unless the store can be written and read now
        (a locked, full, read-only or unreachable store is not ready)."""

    def setting_up(self) -> contextlib.AbstractContextManager[None]:
        """Wraps the set-up of a connected store at start-up (its indexes, the counters it
        needs): an adapter whose server may not answer bounds it, and raises
        :class:`StoreUnavailableError` saying why when it cannot finish (MongoDB:
        ``TSP_STORE_SETUP_SECONDS``); SQLite's own busy timeout bounds its writes already."""
        return contextlib.nullcontext()

    @abstractmethod
    async def ensure_indexes(self, specs: Iterable[IndexSpec]) -> None:
        """Create the declared indexes and unique constraints that do not exist yet; a store
        whose indexes are all in place is only read (a restarted gateway starts while the
        store takes no writes)."""

    @abstractmethod
    async def drop_indexes(self, specs: Iterable[IndexSpec]) -> None:
        """Drop these indexes where they exist (ones an earlier release declared: every write
        of their collection kept them up to date for nothing)."""

    @abstractmethod
    async def count(self, collection: str, filter: Filter | None = None) -> int:
        """How many documents match ``filter``."""

    @abstractmethod
    async def count_grouped(
        self,
        collection: str,
        group_field: str,
        group_values: Sequence[Any],
        filter: Filter | None = None,
    ) -> dict[Any, int]:
        """For each value of ``group_field``, how many documents match ``filter`` (0 if none).

        One round trip for all groups, and no document is read: counting append-only records
        (such as clicks) stays cheap however many there are.
        """

    @abstractmethod
    async def delete_many(self, collection: str, filter: Filter) -> int:
        """Remove the documents matching ``filter`` (pruning old records); returns how many."""

    @abstractmethod
    async def delete(self, collection: str, document_id: str, *, expected_version: int) -> None:
        """Remove one document if its version still matches; raises
        :class:`VersionConflictError` otherwise (or when it is gone)."""

    @abstractmethod
    async def delete_all(self, collection: str) -> None:
        """Remove every document of a collection (test fixtures and demo reseeding)."""

    @property
    @abstractmethod
    def files(self) -> FileStore:
        """The store's files (chunked, complete once closed: see ``datastore.files``)."""

    # The reads and writes that hand out documents are typed by the collection they are given
    # (see :class:`Collection`); adapters implement the ``_``-prefixed methods, which return
    # plain dicts. The one cast per method is where the store vouches for the shape: both
    # adapters return documents as stored, and the tests check every stored document against
    # its collection's shape.

    async def get_many(self, collection: Collection[D], ids: Sequence[str]) -> dict[str, D]:
        """The documents with these ids, keyed by id; missing ids are absent from the result."""
        return cast(dict[str, D], await self._get_many(collection, ids))

    async def find(
        self,
        collection: Collection[D],
        filter: Filter | None = None,
        *,
        sort: Sort = (),
        limit: int | None = None,
        after: Sequence[Any] | None = None,
        score: Score | None = None,
        durable: bool = False,
    ) -> list[D]:
        """Documents matching ``filter`` in ``sort`` order, after the keyset ``after``.

        With ``score``, each document also gets a computed score (see :data:`Score`) that
        ``sort``, ``filter`` and ``after`` may use under the name :data:`SCORE`; the documents
        returned do not carry it (:func:`keyset_of` recomputes it). Raises ``ValueError`` when
        :data:`SCORE` is used without ``score``.

        ``durable``: only what no failover can roll back. A read that follows an append-only
        log by position (the event log) must not see an entry that may vanish: the next entry
        committed would take its position, and a follower past it would never deliver that
        one. MongoDB reads so with read concern ``majority`` on the primary (a replica set's
        member may hold writes a majority has not, and a new primary drops them); SQLite has
        no replicas, so what a reader sees is committed for good, and it reads as always.
        Inside a transaction the transaction's snapshot is read either way.
        """
        check_read(filter, sort, score, limit)
        found = await self._find(
            collection, filter, sort=sort, limit=limit, after=after, score=score, durable=durable
        )
        return cast(list[D], found)

    async def find_grouped(
        self,
        collection: Collection[D],
        group_field: str,
        group_values: Sequence[Any],
        filter: Filter | None = None,
        *,
        sort: Sort = (),
        limit_per_group: int,
        after: Sequence[Any] | None = None,
    ) -> dict[Any, list[D]]:
        """For each value of ``group_field``, the first ``limit_per_group`` matching documents.

        One round trip for all groups: this is what keeps nested connections in a dataloader
        from costing one query per parent.
        """
        check_score(filter, sort, None)
        groups = await self._find_grouped(
            collection,
            group_field,
            group_values,
            filter,
            sort=sort,
            limit_per_group=limit_per_group,
            after=after,
        )
        return cast(dict[Any, list[D]], groups)

    async def find_together(self, first: Read[D], second: Read[E]) -> tuple[list[D], list[E]]:
        """What ``find`` answers for each read (of any collections), in one round trip where
        the adapter can: SQLite glues the reads with UNION ALL; MongoDB with ``$unionWith``
        outside a transaction, and reads them one after the other inside one (where
        ``$unionWith`` is not allowed). Inside a transaction both see its snapshot, as two
        finds would. A read through a text index is made on its own."""
        for read in (first, second):
            check_read(read.filter, read.sort, None, read.limit)
        found = await self._find_together([first, second])
        return cast(list[D], found[0]), cast(list[E], found[1])

    async def insert(self, collection: Collection[D], document: Mapping[str, Any]) -> D:
        """Insert a document (it must have an ``_id``); returns it as stored.

        Raises :class:`DuplicateKeyError` when the id or a unique index is taken.
        """
        return cast(D, await self._insert(collection, document))

    async def insert_many(
        self, collection: Collection[D], documents: Sequence[Mapping[str, Any]]
    ) -> list[D]:
        """Insert documents (each with an ``_id``), all or none; returns them as stored.

        Raises :class:`DuplicateKeyError` when an id or a unique index is taken, by a stored
        document or by another of the batch; then none of them is stored. Several documents
        written together (history entries and their events) cost one round trip.
        """
        return cast(list[D], await self._insert_many(collection, documents))

    async def replace_many(
        self, collection: Collection[D], documents: Sequence[Mapping[str, Any]]
    ) -> list[D]:
        """Replace stored documents, all or none, each by its ``_id`` if it still has the
        ``version`` it carries (as read); returns them as stored, the version moved on.

        Raises :class:`VersionConflictError` when one changed or does not exist; then none is
        replaced. Documents read and changed together (a transaction's counters) cost one
        round trip, whatever their number.
        """
        return cast(list[D], await self._replace_many(collection, documents))

    async def increment(
        self, collection: Collection[D], document_id: str, amounts: Mapping[str, int]
    ) -> D | None:
        """Add ``amounts`` to integer fields (dotted paths allowed; a missing field counts as
        0) and move the version on, in one step; returns the document as stored afterwards,
        ``None`` when it does not exist.

        With no amounts it only writes the version: the write that makes a check on the
        document hold (what :meth:`hold` does on MongoDB), in one round trip.
        """
        return cast(D | None, await self._increment(collection, document_id, amounts))

    async def hold(self, collection: Collection[D], document_id: str) -> D | None:
        """The document as the running transaction sees it, held: a check made on it stays
        true until the transaction commits (the rule above); ``None`` when it does not exist.
        Call it inside a transaction.

        Where transactions run side by side on snapshots (MongoDB) the document is written
        back, its version moved on (as :meth:`increment` with no amounts, one round trip), so
        that a concurrent transaction writing it too conflicts with this one and runs again.
        Where writing transactions run one at a time (SQLite) nobody else commits before this
        one does, and a read is enough: a hold then rewrites no row and no index."""
        return cast(D | None, await self._hold(collection, document_id))

    async def increment_many(
        self,
        collection: Collection[D],
        amounts: Mapping[str, Mapping[str, int]],
        *,
        on_insert: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> set[str]:
        """For each document id in ``amounts``, add its amounts to integer fields (dotted
        paths through objects; a missing field counts as 0, missing objects on the way are
        created) and move the version on, creating the document when it does not exist (with
        version 1, its ``on_insert`` fields and the amounts). All or none, in one round trip
        whatever the number, and without reading: counters any number of transactions move
        (MongoDB's ``$inc`` with upsert). Returns the ids of the documents it created.

        ``on_insert`` fields are top-level and must not be what an amount's path starts with
        (MongoDB refuses to set and increment the same field), nor ``_id`` or ``version``;
        ``ValueError`` otherwise.
        """
        checked: dict[str, dict[str, int]] = {}
        inserting = on_insert or {}
        # Documents given one mapping of amounts (counters that count the same changes) share
        # its checked copy; by identity, while ``amounts`` holds them all.
        copies: dict[int, dict[str, int]] = {}
        for document_id, added in amounts.items():
            paths = copies.get(id(added))
            if paths is None:
                paths = copies[id(added)] = {
                    check_path(path): int(amount) for path, amount in added.items()
                }
            if "version" in paths or "_id" in paths:
                raise ValueError("the version moves on by itself, and the _id is given")
            fields = inserting.get(document_id)
            if fields and not (
                fields.keys().isdisjoint(("_id", "version"))
                and fields.keys().isdisjoint([path.partition(".")[0] for path in paths])
            ):
                raise ValueError(f"on_insert of {document_id!r} overlaps what is incremented")
            checked[document_id] = paths
        extra = [i for i in (on_insert or {}) if i not in checked]
        if extra:
            raise ValueError(f"on_insert names documents with no amounts: {extra[:3]}")
        if not checked:
            return set()
        inserted = {i: dict(fields) for i, fields in (on_insert or {}).items()}
        return await self._increment_many(collection, checked, inserted)

    async def update(
        self,
        collection: Collection[D],
        document_id: str,
        *,
        expected_version: int,
        changes: Mapping[str, Any],
    ) -> D:
        """Set fields (dotted paths allowed; ``None`` removes) if the version still matches.

        Returns the document as stored. Raises :class:`VersionConflictError` when the document
        changed or does not exist, :class:`DuplicateKeyError` on a unique index.
        """
        stored = await self._update(
            collection, document_id, expected_version=expected_version, changes=changes
        )
        return cast(D, stored)

    @abstractmethod
    async def _get_many(self, collection: str, ids: Sequence[str]) -> dict[str, Document]:
        """See :meth:`get_many`."""

    @abstractmethod
    async def _find(
        self,
        collection: str,
        filter: Filter | None,
        *,
        sort: Sort,
        limit: int | None,
        after: Sequence[Any] | None,
        score: Score | None,
        durable: bool,
    ) -> list[Document]:
        """See :meth:`find`."""

    @abstractmethod
    async def _find_grouped(
        self,
        collection: str,
        group_field: str,
        group_values: Sequence[Any],
        filter: Filter | None,
        *,
        sort: Sort,
        limit_per_group: int,
        after: Sequence[Any] | None,
    ) -> dict[Any, list[Document]]:
        """See :meth:`find_grouped`."""

    @abstractmethod
    async def _find_together(self, reads: Sequence[Read[Any]]) -> list[list[Document]]:
        """See :meth:`find_together` (reads checked); one list per read, in order."""

    @abstractmethod
    async def _insert(self, collection: str, document: Mapping[str, Any]) -> Document:
        """See :meth:`insert`."""

    @abstractmethod
    async def _insert_many(
        self, collection: str, documents: Sequence[Mapping[str, Any]]
    ) -> list[Document]:
        """See :meth:`insert_many`."""

    @abstractmethod
    async def _replace_many(
        self, collection: str, documents: Sequence[Mapping[str, Any]]
    ) -> list[Document]:
        """See :meth:`replace_many`."""

    @abstractmethod
    async def _increment(
        self, collection: str, document_id: str, amounts: Mapping[str, int]
    ) -> Document | None:
        """See :meth:`increment`."""

    async def _hold(self, collection: str, document_id: str) -> Document | None:
        """See :meth:`hold`: by default the document is written back."""
        return await self._increment(collection, document_id, {})

    @abstractmethod
    async def _increment_many(
        self,
        collection: str,
        amounts: dict[str, dict[str, int]],
        on_insert: dict[str, dict[str, Any]],
    ) -> set[str]:
        """See :meth:`increment_many` (arguments checked; ``amounts`` not empty)."""

    @abstractmethod
    async def _update(
        self,
        collection: str,
        document_id: str,
        *,
        expected_version: int,
        changes: Mapping[str, Any],
    ) -> Document:
        """See :meth:`update`."""

    @abstractmethod
    async def transaction(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work`` so that all of its writes happen or none do.

        Reads inside ``work`` see its own writes. Calls nest: an inner call joins the outer
        transaction. ``work`` may be run again if the store asks for a retry, so it must only
        touch the store and in-memory values it recomputes.
        """

    def _counted(self, documents: int = 0) -> None:
        if not _counting.get():
            return
        self.stats.round_trips += 1
        self.stats.documents_read += documents
        tally = request_stats.get()
        if tally is not None:
            tally.round_trips += 1
            tally.documents_read += documents
