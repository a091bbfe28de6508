"""The production adapter: MongoDB through PyMongo's async API.

Transactions need a replica set (or a sharded cluster); a single ``mongod`` refuses them, so
:meth:`MongoStore.connect` checks for one. The session of the running transaction travels in a
context variable, so domain code never passes sessions around. Transactions read a snapshot and
commit with write concern ``majority``; two of them writing the same document conflict, and the
loser is run again (see ``datastore.store``).

Errors that mean "the server cannot take the work now" (unreachable, timed out, not primary,
shutting down: :func:`is_store_trouble`) become :class:`StoreUnavailableError` wherever they
happen; inside a transaction, transient ones first reach ``with_transaction``'s retry loop
unchanged.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import pymongo
from pymongo import (
    AsyncMongoClient,
    IndexModel,
    ReplaceOne,
    ReturnDocument,
    UpdateOne,
    monitoring,
)
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import (
    BulkWriteError,
    ConnectionFailure,
    OperationFailure,
    PyMongoError,
    WriteConcernError,
)
from pymongo.errors import DuplicateKeyError as MongoDuplicateKeyError
from pymongo.read_concern import ReadConcern
from pymongo.read_preferences import ReadPreference
from pymongo.write_concern import WriteConcern

from datastore.codec import Document, normalise, normalise_value
from datastore.files import FileStore
from datastore.mongodb_files import MongoFiles
from datastore.store import (
    ASCENDING,
    SCORE,
    STORE_TROUBLE,
    CommitUnknownError,
    DocumentStore,
    DuplicateKeyError,
    Filter,
    IndexSpec,
    Read,
    Score,
    Sort,
    StoreUnavailableError,
    VersionConflictError,
    check_collection,
    check_path,
    check_score,
    full_sort,
    keyset_filter,
    mentions_score,
)

T = TypeVar("T")
logger = logging.getLogger(__name__)

_DEFAULT_DATABASE = "tsp"
_SCORE = "_score"
_HEALTH = "_health"
DEFAULT_SERVER_SELECTION_TIMEOUT_MS = 5000
DEFAULT_TRANSACTION_SECONDS = 8.0
DEFAULT_READ_SECONDS = 5.0
DEFAULT_SETUP_SECONDS = 30.0
_MAX_ARMS = 200
_TOGETHER = "_together"
_DUPLICATE = 11000  # the server's code for a duplicate key
_MAJORITY = ReadConcern("majority")
_INDEX_NOT_FOUND = 27
_NAMESPACE_NOT_FOUND = 26


class MongoStore(DocumentStore):
    """A :class:`DocumentStore` in a MongoDB database named by the URL's path.

    The URL's own options win: ``serverSelectionTimeoutMS`` defaults to the argument given here
    only when the URL does not set it, and ``timeoutMS`` applies only when the URL sets it.
    Reads go to the primary while there is one, else to a secondary (``primaryPreferred``)
    unless the URL sets ``readPreference``: queries keep answering through an election.
    Transactions read the primary whatever it says. Each read outside a transaction is bounded
    by ``read_seconds`` (``TSP_STORE_READ_SECONDS``) unless the URL sets ``timeoutMS``, so a
    read sent to a primary that stopped answering is unavailable in seconds rather than
    hanging until the request's own timeout.
    A whole transaction, retries of conflicting writes included, is bounded by
    ``transaction_seconds`` (``TSP_TRANSACTION_SECONDS``; PyMongo's own bound is 120 s, and a
    request should learn sooner that the store is unavailable). Every transaction writes a
    bounded number of documents (long jobs run in batches), so the budget need not grow with
    the data; MongoDB's own limit is 60 s (``transactionLifetimeLimitSeconds``).
    """

    def __init__(
        self,
        url: str,
        *,
        server_selection_timeout_ms: int = DEFAULT_SERVER_SELECTION_TIMEOUT_MS,
        transaction_seconds: float = DEFAULT_TRANSACTION_SECONDS,
        read_seconds: float = DEFAULT_READ_SECONDS,
        setup_seconds: float = DEFAULT_SETUP_SECONDS,
        event_listeners: Sequence[monitoring.CommandListener] = (),
    ) -> None:
        super().__init__()
        self.url = url
        self.transaction_seconds = transaction_seconds
        self.read_seconds = read_seconds
        self.setup_seconds = setup_seconds
        given = {key.lower() for key, _ in parse_qsl(urlsplit(url).query)}
        self._options: dict[str, Any] = {}
        if "serverselectiontimeoutms" not in given:
            self._options["serverSelectionTimeoutMS"] = server_selection_timeout_ms
        if "readpreference" not in given:
            self._options["readPreference"] = "primaryPreferred"
        # The URL's timeoutMS bounds every operation already (and pymongo.timeout would
        # override it).
        self._bounds_reads = "timeoutms" not in given
        # PyMongo's command monitoring for this store's client alone (tests watch commands).
        self._listeners = list(event_listeners)
        self._client: AsyncMongoClient[Document] | None = None
        self._session: ContextVar[AsyncClientSession | None] = ContextVar(
            f"mongo-session-{id(self)}", default=None
        )
        self._text_fields: dict[str, tuple[str, ...]] = {}

    @property
    def client_options(self) -> dict[str, Any]:
        """The options the adapter adds to the URL's own (the URL's win)."""
        return dict(self._options)

    async def connect(self) -> None:
        """Create the client and check that the server answers and runs a replica set.

        Any member may answer (wherever the read preference lets reads go), so a gateway
        starts during an election; a server that accepts the connection but never answers is
        given up after ``setup_seconds`` (or the server selection timeout, if shorter). Any
        failure (unreachable, refused credentials, an unresolvable ``mongodb+srv`` name)
        raises :class:`StoreUnavailableError` saying so, with nothing left open."""
        where = _hosts(self.url)
        try:
            self._client = AsyncMongoClient(
                self.url,
                tz_aware=True,
                tzinfo=UTC,
                event_listeners=self._listeners,
                **self._options,
            )
            # Within PyMongo's timeout, server selection may take all of what remains: bounded
            # by the selection timeout too, an unreachable server is given up as soon as ever.
            bound = min(self.setup_seconds, self._client.options.server_selection_timeout)
            with self._errors(), pymongo.timeout(bound):
                hello = await self._client.admin.command(
                    "hello", read_preference=self._client.read_preference
                )
        except (StoreUnavailableError, PyMongoError) as error:
            await self.close()
            raise StoreUnavailableError(f"cannot reach MongoDB at {where}: {error}") from error
        except BaseException:
            await self.close()
            raise
        if not hello.get("setName") and hello.get("msg") != "isdbgrid":
            await self.close()
            raise StoreUnavailableError(
                f"MongoDB at {where} is a standalone server: transactions need a replica set "
                "(start mongod with --replSet and run rs.initiate()) or a sharded cluster"
            )

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()

    @functools.cached_property
    def files(self) -> FileStore:
        return MongoFiles(self)

    async def ping(self) -> None:
        """Read and write the database (a server that answers but refuses writes is not ready)."""
        try:
            with self._errors():
                await self._collection(_HEALTH).find_one_and_update(
                    {"_id": "ping"},
                    {"$inc": {"pings": 1}},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
        except PyMongoError as error:
            # Answering but refusing (not primary, not authorized, out of disk): not ready.
            raise StoreUnavailableError(f"MongoDB cannot be written: {error}") from error
        self._counted(1)

    @contextmanager
    def setting_up(self) -> Iterator[None]:
        """Bounds the set-up by ``setup_seconds`` (``TSP_STORE_SETUP_SECONDS``); failing
        within it (time out, no primary to create a missing index, an index in another shape)
        is :class:`StoreUnavailableError` saying where and why."""
        try:
            with pymongo.timeout(self.setup_seconds):
                yield
        except (PyMongoError, *STORE_TROUBLE) as error:
            raise StoreUnavailableError(
                f"setting up MongoDB at {_hosts(self.url)} (its indexes, the event log's "
                f"counter; bounded by TSP_STORE_SETUP_SECONDS, {self.setup_seconds:g} s) "
                f"failed: {error}"
            ) from error

    async def ensure_indexes(self, specs: Iterable[IndexSpec]) -> None:
        """Create the indexes a collection lacks, in one ``createIndexes`` per collection.

        Listed first, as SQLite reads its schema first: a store an earlier start set up is
        only read (``listIndexes``, wherever reads may go), so a gateway restarted while no
        primary is elected still starts. A missing index needs the primary; its build
        commits once a majority of the members have built it (``commitQuorum``), not all of
        them (the server's default), so one member down does not hold the start up."""
        wanted: dict[str, list[IndexSpec]] = {}
        for spec in specs:
            wanted.setdefault(spec.collection, []).append(spec)
            if spec.text:
                self._text_fields[spec.collection] = spec.fields
        for collection, declared in wanted.items():
            present = await self._indexes(collection)
            missing = [
                _index_model(spec)
                for spec in declared
                if not _in_place(spec, present.get(spec.name))
            ]
            if missing:
                with self._errors():
                    await self._collection(collection).create_indexes(
                        missing, commitQuorum="majority"
                    )

    async def drop_indexes(self, specs: Iterable[IndexSpec]) -> None:
        """Drop those that exist (listed first: usually none, and nothing is written)."""
        names: dict[str, Mapping[str, Document]] = {}
        for spec in specs:
            if spec.collection not in names:
                names[spec.collection] = await self._indexes(spec.collection)
            if spec.name not in names[spec.collection]:
                continue
            try:
                with self._errors():
                    await self._collection(spec.collection).drop_index(spec.name)
            except OperationFailure as error:
                # Dropped meanwhile (servers before 8.3 say so), or the collection too.
                if error.code not in (_INDEX_NOT_FOUND, _NAMESPACE_NOT_FOUND):
                    raise

    async def _indexes(self, collection: str) -> dict[str, Document]:
        """The indexes ``collection`` has, by name (none when it does not exist), read where
        the client's read preference sends reads (``list_indexes`` always asks the
        primary)."""
        try:
            with self._reading():
                cursor = await self._database().cursor_command(
                    "listIndexes",
                    check_collection(collection),
                    read_preference=self._require_client().read_preference,
                )
                indexes: list[Document] = await cursor.to_list()
        except OperationFailure as error:
            if error.code == _NAMESPACE_NOT_FOUND:
                return {}
            raise
        return {str(index["name"]): index for index in indexes}

    async def _get_many(self, collection: str, ids: Sequence[str]) -> dict[str, Document]:
        unique_ids = list(dict.fromkeys(ids))
        if not unique_ids:
            return {}
        with self._reading():
            cursor = self._collection(collection).find(
                {"_id": {"$in": unique_ids}}, session=self._session.get()
            )
            documents = await cursor.to_list()
        self._counted(len(documents))
        return {document["_id"]: document for document in documents}

    async def _find(
        self,
        collection: str,
        filter: Filter | None = None,
        *,
        sort: Sort = (),
        limit: int | None = None,
        after: Sequence[Any] | None = None,
        score: Score | None = None,
        durable: bool = False,
    ) -> list[Document]:
        if limit == 0:
            # PyMongo reads 0 as "no limit" and $limit refuses it: nothing to read.
            return []
        source = self._durable(collection) if durable else self._collection(collection)
        text = _text_search(filter, self._text_fields.get(collection, ()))
        if score is not None:
            pipeline = _scored_pipeline(filter, sort, limit, after, score, text)
            with self._reading():
                scored = await source.aggregate(pipeline, session=self._session.get())
                ranked: list[Document] = await scored.to_list()
            self._counted(len(ranked))
            return ranked
        query = _query(filter, sort, after)
        if text is not None:
            query["$text"] = text
        with self._reading():
            cursor = source.find(query, sort=full_sort(sort), session=self._session.get())
            if limit is not None:
                cursor = cursor.limit(limit)
            documents: list[Document] = await cursor.to_list()
        self._counted(len(documents))
        return documents

    async def _find_grouped(
        self,
        collection: str,
        group_field: str,
        group_values: Sequence[Any],
        filter: Filter | None = None,
        *,
        sort: Sort = (),
        limit_per_group: int,
        after: Sequence[Any] | None = None,
    ) -> dict[Any, list[Document]]:
        values = list(dict.fromkeys(normalise_value(v) for v in group_values))
        groups: dict[Any, list[Document]] = {value: [] for value in values}
        if not values:
            return groups
        path = check_path(group_field)
        rest = _query(filter, sort, after)
        order = dict(full_sort(sort))
        # One $match + $sort + $limit per parent: each walks the (group, sort) index and stops
        # at its page, so a page costs its size however many children the parent has.
        arms = [
            [
                {"$match": {"$and": [{path: value}, rest]}},
                {"$sort": order},
                {"$limit": limit_per_group},
            ]
            for value in values
        ]
        session = self._session.get()
        documents: list[Document] = []
        with self._reading():
            if session is None:
                # Outside a transaction the arms go in one command, glued with $unionWith (in
                # chunks: a pipeline holds at most 1,000 stages). MongoDB does not promise the
                # order $unionWith returns documents in, so the pages are sorted again: at most
                # limit_per_group documents per arm, each group's in the requested order.
                for start in range(0, len(arms), _MAX_ARMS):
                    first, *others = arms[start : start + _MAX_ARMS]
                    pipeline = [
                        *first,
                        *({"$unionWith": {"coll": collection, "pipeline": arm}} for arm in others),
                        {"$sort": order},
                    ]
                    cursor = await self._collection(collection).aggregate(pipeline)
                    found = await cursor.to_list()
                    self._counted(len(found))
                    documents += found
            else:
                # $unionWith is not allowed in a transaction; a session runs one operation at a
                # time.
                for arm in arms:
                    cursor = await self._collection(collection).aggregate(arm, session=session)
                    found = await cursor.to_list()
                    self._counted(len(found))
                    documents += found
        for document in documents:
            groups[document.get(group_field)].append(document)
        return groups

    async def _find_together(self, reads: Sequence[Read[Any]]) -> list[list[Document]]:
        found: list[list[Document]] = [[] for _ in reads]
        arms: list[tuple[int, list[dict[str, Any]]]] = []
        for position, read in enumerate(reads):
            text = _text_search(read.filter, self._text_fields.get(read.collection, ()))
            if self._session.get() is not None or read.limit == 0 or text is not None:
                # $unionWith is not allowed in a transaction, and $text must open a pipeline.
                found[position] = await self._find(
                    read.collection, read.filter, sort=read.sort, limit=read.limit
                )
            else:
                arms.append((position, _together_arm(position, read)))
        if not arms:
            return found
        (first, stages), *others = arms
        pipeline = [
            *stages,
            *({"$unionWith": {"coll": reads[p].collection, "pipeline": arm}} for p, arm in others),
            # MongoDB does not promise the order $unionWith returns documents in: each read's
            # sort keys were copied beside its position, sorted by again here.
            {"$sort": _together_order(max(len(full_sort(r.sort)) for r in reads))},
        ]
        with self._reading():
            cursor = await self._collection(reads[first].collection).aggregate(pipeline)
            documents: list[Document] = await cursor.to_list()
        self._counted(len(documents))
        for document in documents:
            found[document.pop(_TOGETHER)["arm"]].append(document)
        return found

    async def count(self, collection: str, filter: Filter | None = None) -> int:
        check_score(filter, (), None)
        with self._reading():
            total: int = await self._collection(collection).count_documents(
                _translate(filter or {}), session=self._session.get()
            )
        self._counted()
        return total

    async def count_grouped(
        self,
        collection: str,
        group_field: str,
        group_values: Sequence[Any],
        filter: Filter | None = None,
    ) -> dict[Any, int]:
        values = list(dict.fromkeys(normalise_value(v) for v in group_values))
        counts: dict[Any, int] = {value: 0 for value in values}
        if not values:
            return counts
        match = {"$and": [{check_path(group_field): {"$in": values}}, _translate(filter or {})]}
        pipeline: list[dict[str, Any]] = [
            {"$match": match},
            {"$group": {"_id": f"${group_field}", "count": {"$sum": 1}}},
        ]
        with self._reading():
            cursor = await self._collection(collection).aggregate(
                pipeline, session=self._session.get()
            )
            groups = await cursor.to_list()
        self._counted()
        for group in groups:
            counts[group["_id"]] = int(group["count"])
        return counts

    async def _insert(self, collection: str, document: Mapping[str, Any]) -> Document:
        stored = normalise({"version": 1, **document})
        if "_id" not in stored:
            raise ValueError("documents need an _id")
        with self._errors(collection):
            await self._collection(collection).insert_one(dict(stored), session=self._session.get())
        self._counted()
        return stored

    async def _insert_many(
        self, collection: str, documents: Sequence[Mapping[str, Any]]
    ) -> list[Document]:
        stored = [normalise({"version": 1, **document}) for document in documents]
        if any("_id" not in document for document in stored):
            raise ValueError("documents need an _id")
        if not stored:
            return []

        async def write() -> None:
            with self._errors(collection):
                await self._collection(collection).insert_many(
                    [dict(document) for document in stored],
                    ordered=True,
                    session=self._session.get(),
                )
            self._counted()

        if self._session.get() is None and len(stored) > 1:
            # Outside a transaction a batch that fails half-way keeps its first half.
            await self.transaction(write)
        else:
            await write()
        return stored

    async def _replace_many(
        self, collection: str, documents: Sequence[Mapping[str, Any]]
    ) -> list[Document]:
        if not documents:
            return []
        stored = [
            normalise({**document, "version": int(document["version"]) + 1})
            for document in documents
        ]
        replacements = [
            ReplaceOne({"_id": document["_id"], "version": document["version"]}, dict(new))
            for document, new in zip(documents, stored, strict=True)
        ]

        async def apply() -> list[Document]:
            with self._errors(collection):
                result = await self._collection(collection).bulk_write(
                    replacements, ordered=True, session=self._session.get()
                )
            self._counted(len(stored))
            if result.matched_count != len(replacements):
                # Rolls the transaction back: none of them is replaced.
                raise VersionConflictError(collection, str(documents[0]["_id"]))
            return stored

        return await self.transaction(apply)

    async def _increment(
        self, collection: str, document_id: str, amounts: Mapping[str, int]
    ) -> Document | None:
        added = {check_path(path): int(amount) for path, amount in amounts.items()}
        if "version" in added:
            raise ValueError("the version moves on by itself")
        with self._errors(collection):
            updated = await self._collection(collection).find_one_and_update(
                {"_id": document_id},
                {"$inc": {"version": 1, **added}},
                return_document=ReturnDocument.AFTER,
                session=self._session.get(),
            )
        self._counted(1 if updated else 0)
        found: Document | None = updated
        return found

    async def _increment_many(
        self,
        collection: str,
        amounts: dict[str, dict[str, int]],
        on_insert: dict[str, dict[str, Any]],
    ) -> set[str]:
        ids = list(amounts)
        operations = []
        for document_id in ids:
            change: dict[str, Any] = {"$inc": {"version": 1, **amounts[document_id]}}
            fields = normalise(on_insert.get(document_id, {}))
            if fields:
                change["$setOnInsert"] = fields
            operations.append(UpdateOne({"_id": document_id}, change, upsert=True))

        async def apply() -> set[str]:
            with self._errors(collection):
                result = await self._collection(collection).bulk_write(
                    operations, ordered=True, session=self._session.get()
                )
            self._counted()
            # An upsert's $inc of the version from nothing makes it 1, as an insert's.
            return {ids[index] for index in result.upserted_ids or {}}

        if self._session.get() is None and len(ids) > 1:
            # Outside a transaction a batch that fails half-way keeps its first half.
            return await self.transaction(apply)
        return await apply()

    async def _update(
        self,
        collection: str,
        document_id: str,
        *,
        expected_version: int,
        changes: Mapping[str, Any],
    ) -> Document:
        to_set = {check_path(k): normalise_value(v) for k, v in changes.items() if v is not None}
        to_unset = {check_path(k): "" for k, v in changes.items() if v is None}
        operations: dict[str, Any] = {"$inc": {"version": 1}}
        if to_set:
            operations["$set"] = to_set
        if to_unset:
            operations["$unset"] = to_unset
        with self._errors(collection):
            updated = await self._collection(collection).find_one_and_update(
                {"_id": document_id, "version": expected_version},
                operations,
                return_document=ReturnDocument.AFTER,
                session=self._session.get(),
            )
        self._counted(1 if updated else 0)
        if updated is None:
            raise VersionConflictError(collection, document_id)
        stored: Document = updated
        return stored

    async def delete_many(self, collection: str, filter: Filter) -> int:
        with self._errors():
            result = await self._collection(collection).delete_many(
                _translate(filter), session=self._session.get()
            )
        self._counted()
        return int(result.deleted_count)

    async def watch_inserts(self, collection: str) -> AsyncIterator[None]:
        """Yield once per insert into ``collection`` (followers of the event log read by
        position when woken; the stream only tells them when).

        A dropped connection resumes from the last token (after PyMongo's own one resume).
        A token that can no longer resume (it left the oplog, error 286, or the stream was
        invalidated) is given up, once, with a warning: a fresh stream starts from now, and
        one extra wake-up makes followers read, by position, whatever was inserted while no
        stream ran (a token retried forever would leave them polling for good)."""
        token: Mapping[str, Any] | None = None
        pipeline = [{"$match": {"operationType": "insert"}}]
        fresh = False
        while True:
            try:
                stream = await self._collection(collection).watch(pipeline, resume_after=token)
                async with stream:
                    if fresh:
                        fresh = False
                        yield
                    async for _change in stream:
                        token = stream.resume_token
                        yield
                # Iteration ends only when the server closed the stream (invalidated).
                reason = "the change stream was invalidated"
            except PyMongoError as error:
                if token is None or not _token_is_dead(error):
                    await asyncio.sleep(1)
                    continue
                reason = f"its resume token is no longer usable ({error})"
            logger.warning(
                "watching %s: %s; starting a fresh stream (followers catch up by position)",
                collection,
                reason,
            )
            token, fresh = None, True

    async def delete(self, collection: str, document_id: str, *, expected_version: int) -> None:
        with self._errors():
            deleted = await self._collection(collection).delete_one(
                {"_id": document_id, "version": expected_version}, session=self._session.get()
            )
        self._counted()
        if deleted.deleted_count == 0:
            raise VersionConflictError(collection, document_id)

    async def delete_all(self, collection: str) -> None:
        with self._errors():
            await self._collection(collection).delete_many({}, session=self._session.get())
        self._counted()

    async def transaction(self, work: Callable[[], Awaitable[T]]) -> T:
        if self._session.get() is not None:
            return await work()
        # One budget for the call, the run again below included (a nested pymongo.timeout
        # keeps the earlier deadline): a second full budget would outlast the request timeout.
        with self._errors(), pymongo.timeout(self.transaction_seconds):
            try:
                return await self._transaction(work)
            except DuplicateKeyError:
                # Two transactions racing to insert the same new key (the event counter, a
                # referral code) may be told "duplicate key" rather than "write conflict",
                # whichever MongoDB detects first. Run again, as a conflict would be: a fresh
                # snapshot sees the winner's document and takes the other path; a real
                # duplicate is refused again.
                return await self._transaction(work)

    async def _transaction(self, work: Callable[[], Awaitable[T]]) -> T:
        async def callback(session: AsyncClientSession) -> T:
            token = self._session.set(session)
            try:
                return await work()
            finally:
                self._session.reset(token)

        # Past the budget PyMongo raises a timeout, which _errors reports as unavailable.
        with self._errors(), pymongo.timeout(self.transaction_seconds):
            async with self._require_client().start_session() as session:
                try:
                    result: T = await session.with_transaction(
                        callback,
                        read_concern=ReadConcern("snapshot"),
                        write_concern=WriteConcern("majority"),
                        # Whatever the URL lets other reads use (primaryPreferred keeps them
                        # answering while no primary is elected), a transaction reads the
                        # primary: the client's preference would be refused by PyMongo.
                        read_preference=ReadPreference.PRIMARY,
                    )
                except PyMongoError as error:
                    if error.has_error_label("UnknownTransactionCommitResult"):
                        raise CommitUnknownError(
                            f"MongoDB did not confirm the commit: {error}"
                        ) from error
                    raise
        self._counted()
        return result

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """:meth:`_errors` around a read, which outside a transaction is bounded by
        ``read_seconds`` (inside one, the transaction's budget bounds it)."""
        with self._errors():
            if self._session.get() is None and self._bounds_reads:
                with pymongo.timeout(self.read_seconds):
                    yield
            else:
                yield

    def _durable(self, name: str) -> Any:
        """The collection ``name`` for reads of what can no longer be rolled back: read
        concern ``majority``, on the primary (see :meth:`DocumentStore.find`).

        Inside a transaction its own snapshot is used (a read concern cannot be set per
        operation there); committed with write concern ``majority``, as all of them are, a
        transaction's snapshot holds majority-committed data only.

        Why a just-committed event is still seen at once: a transaction's commit returns only
        once its write concern ``majority`` is satisfied, and the primary acknowledges that
        only after its majority commit point, which ``majority`` reads on it read at, has
        reached the commit. So the writer's own poke, and a change stream's wake-up (change
        streams only report majority-committed changes), find the event on the primary.

        The primary, not the URL's read preference: a secondary's majority view may lag the
        primary's, and a follower that read position ``p`` on the primary, then asked a
        secondary for ``position <= p`` (a feed's replay, the log's bounds), would miss events
        or refuse a cursor it was given. Nothing is appended without a primary anyway."""
        collection = self._collection(name)
        if self._session.get() is not None:
            return collection
        return collection.with_options(
            read_concern=_MAJORITY, read_preference=ReadPreference.PRIMARY
        )

    @contextmanager
    def _errors(self, collection: str = "") -> Iterator[None]:
        """PyMongo's errors as the store's: duplicate keys, and unavailability."""
        try:
            yield
        except MongoDuplicateKeyError as error:
            raise DuplicateKeyError(
                collection, _index_name(collection, error.details or {}, str(error))
            ) from error
        except BulkWriteError as error:
            duplicate = next(
                (e for e in error.details.get("writeErrors", []) if e.get("code") == _DUPLICATE),
                None,
            )
            if duplicate is None:
                if error.details.get("writeConcernErrors") and not error.details.get("writeErrors"):
                    raise _unconfirmed(error) from error
                if self._retried_by_transaction(error) or not is_store_trouble(error):
                    raise
                # Batches run in a transaction (or are one write): nothing of it was written.
                raise _unavailable(error) from error
            raise DuplicateKeyError(
                collection, _index_name(collection, duplicate, str(duplicate.get("errmsg")))
            ) from error
        except WriteConcernError as error:
            # Written, but not confirmed by a majority (a step-down or failover during the
            # wait): it may be kept or rolled back, so not "nothing was written". Whatever its
            # code, that is COMMIT_UNKNOWN (store trouble too, retryable), not unavailable.
            raise _unconfirmed(error) from error
        except PyMongoError as error:
            if self._retried_by_transaction(error) or not is_store_trouble(error):
                raise
            raise _unavailable(error) from error

    def _retried_by_transaction(self, error: PyMongoError) -> bool:
        """Whether ``error`` must reach ``with_transaction`` unchanged, which runs the
        transaction again (then, past its budget, it is mapped as any other)."""
        return self._session.get() is not None and error.has_error_label(
            "TransientTransactionError"
        )

    def _require_client(self) -> AsyncMongoClient[Document]:
        if self._client is None:
            raise StoreUnavailableError("the MongoDB store is not connected")
        return self._client

    def _database(self) -> AsyncDatabase[Document]:
        return self._require_client().get_default_database(_DEFAULT_DATABASE)

    def _collection(self, name: str) -> Any:
        return self._database()[check_collection(name)]


def _in_place(spec: IndexSpec, index: Mapping[str, Any] | None) -> bool:
    """Whether the listed ``index`` is ``spec``'s: its name, keys and uniqueness (a text
    index's keys are the server's own, ``_fts``/``_ftsx``: its name says it). One that differs
    is created again, and the server refuses it for a name taken (the start says so)."""
    if index is None:
        return False
    if spec.text:
        return True
    keys = list(index.get("key", {}).items())  # in order; a direction 1 may come back as 1.0
    return keys == [(name, 1) for name in spec.keys] and bool(index.get("unique")) == spec.unique


def _index_model(spec: IndexSpec) -> IndexModel:
    if spec.text:
        # No language: no stemming and no stop words, so terms are whole words.
        return IndexModel(
            [(name, "text") for name in spec.fields], name=spec.name, default_language="none"
        )
    options: dict[str, Any] = {"name": spec.name}
    if spec.unique:
        options["unique"] = True
        # Documents never store nulls, so "exists" is the same as "has a value".
        options["partialFilterExpression"] = {name: {"$exists": True} for name in spec.fields}
    return IndexModel([(name, 1) for name in spec.keys], **options)


def _query(filter: Filter | None, sort: Sort, after: Sequence[Any] | None) -> dict[str, Any]:
    if after is None:
        return _translate(filter or {})
    return {"$and": [_translate(filter or {}), _translate(keyset_filter(sort, after))]}


def _together_arm(position: int, read: Read[Any]) -> list[dict[str, Any]]:
    """The stages of one read of ``find_together``: its page, each document tagged with the
    read's position and its sort keys (``a<n>`` ascending, ``d<n>`` descending)."""
    keys = full_sort(read.sort)
    stages: list[dict[str, Any]] = [
        {"$match": _query(read.filter, read.sort, None)},
        {"$sort": dict(keys)},
    ]
    if read.limit is not None:
        stages.append({"$limit": read.limit})
    tag: dict[str, Any] = {"arm": {"$literal": position}}
    for index, (name, direction) in enumerate(keys):
        tag[f"{'a' if direction == ASCENDING else 'd'}{index}"] = f"${name}"
    stages.append({"$addFields": {_TOGETHER: tag}})
    return stages


def _together_order(keys: int) -> dict[str, int]:
    """By read, then by each read's own keys: a read fills either ``a<n>`` or ``d<n>`` of
    each position, the other is missing (equal) in all of its documents."""
    order = {f"{_TOGETHER}.arm": 1}
    for index in range(keys):
        order[f"{_TOGETHER}.a{index}"] = 1
        order[f"{_TOGETHER}.d{index}"] = -1
    return order


def _text_search(filter: Filter | None, fields: Sequence[str]) -> dict[str, Any] | None:
    """A ``$text`` condition whose matches include every document in which ``filter``'s
    top-level ``$contains`` of words in text-indexed ``fields`` hold, or ``None``.

    The words are searched as terms (any of them), which lets the text index pick the
    candidates; the ``$elemMatch`` conditions those ``$contains`` become still decide exactly.
    """
    words = [
        condition["$contains"]
        for part in _conjuncts(filter or {})
        for key, condition in part.items()
        if key in fields
        and isinstance(condition, Mapping)
        and isinstance(condition.get("$contains"), str)
    ]
    if not words:
        return None
    return {"$search": " ".join(dict.fromkeys(words)), "$language": "none"}


def _scored_pipeline(
    filter: Filter | None,
    sort: Sort,
    limit: int | None,
    after: Sequence[Any] | None,
    score: Score,
    text: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """``find`` with a score: match what does not need it, score, match the rest, sort."""
    conditions = _conjuncts(filter or {})
    if after is not None:
        conditions += _conjuncts(keyset_filter(sort, after))
    # Matching before scoring keeps the indexes usable and scores only candidates.
    early = [part for part in conditions if not mentions_score(part)]
    late = [part for part in conditions if mentions_score(part)]
    field_name, values = score
    held = f"${check_path(field_name)}"
    wanted = {"$literal": list(dict.fromkeys(normalise_value(value) for value in values))}
    first = _translate({"$and": early})
    if text is not None:
        # $text must sit in the pipeline's first $match.
        first["$text"] = text
    pipeline: list[dict[str, Any]] = [
        {"$match": first},
        {
            "$addFields": {
                _SCORE: {
                    "$size": {
                        "$setIntersection": [
                            {"$cond": [{"$isArray": held}, held, []]},
                            wanted,
                        ]
                    }
                }
            }
        },
        {"$match": _translate({"$and": late})},
        {"$sort": {_SCORE if name == SCORE else name: d for name, d in full_sort(sort)}},
    ]
    if limit is not None:
        pipeline.append({"$limit": limit})
    pipeline.append({"$unset": _SCORE})
    return pipeline


def _conjuncts(filter: Filter) -> list[Filter]:
    """``filter`` as a list of filters that must all hold (top-level ``$and`` flattened)."""
    parts: list[Filter] = []
    for key, condition in filter.items():
        if key == "$and":
            for sub in condition:
                parts += _conjuncts(sub)
        else:
            parts.append({key: condition})
    return parts


def _translate(filter: Filter) -> dict[str, Any]:
    """The store's filter language in MongoDB's own (they differ only in ``$contains``)."""
    translated: dict[str, Any] = {}
    for key, condition in filter.items():
        if key in ("$or", "$and"):
            parts = [_translate(sub) for sub in condition]
            translated[key] = parts or ([{"_id": {"$in": []}}] if key == "$or" else [{}])
            continue
        # The score lives in a field of its own while a scored pipeline runs.
        name = _SCORE if key == SCORE else check_path(key)
        if isinstance(condition, Mapping) and "$contains" in condition:
            rest = {op: normalise_value(v) for op, v in condition.items() if op != "$contains"}
            contained = normalise_value(condition["$contains"])
            translated[name] = {"$elemMatch": {"$eq": contained}, **rest}
        elif isinstance(condition, Mapping) and any(op.startswith("$") for op in condition):
            translated[name] = {op: normalise_value(v) for op, v in condition.items()}
        else:
            translated[name] = normalise_value(condition)
    return translated


def _index_name(collection: str, details: Mapping[str, Any], message: str) -> str:
    """The name of the unique index at fault, from the fields the server reports (in an
    error, or in one write error of a batch)."""
    pattern = details.get("keyPattern")
    if isinstance(pattern, Mapping) and pattern:
        fields = tuple(str(name) for name in pattern)
        if fields == ("_id",):
            return "_id_"
        return IndexSpec(collection, fields, unique=True).name
    # Servers before 4.4 only say it in the message.
    message = str(details.get("errmsg", message))
    if "index: " in message:
        return message.split("index: ", 1)[1].split(" ", 1)[0]
    return "_id_"


_DEAD_TOKEN_CODES = frozenset({260, 280, 286})
"""InvalidResumeToken, ChangeStreamFatalError, ChangeStreamHistoryLost."""


def _token_is_dead(error: PyMongoError) -> bool:
    """Whether reopening a change stream with the same resume token can only fail again."""
    return isinstance(error, OperationFailure) and (
        error.code in _DEAD_TOKEN_CODES or error.has_error_label("NonResumableChangeStreamError")
    )


def _hosts(url: str) -> str:
    """The host list of a MongoDB URL, without credentials, for messages."""
    rest = url.split("://", 1)[-1]
    return rest.split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]


def _unconfirmed(error: PyMongoError) -> CommitUnknownError:
    return CommitUnknownError(f"MongoDB did not confirm the write: {error}")


def _unavailable(error: PyMongoError) -> StoreUnavailableError:
    # Server selection errors append the whole topology description: keep the cause.
    reason = str(error).split(", Timeout:", 1)[0]
    return StoreUnavailableError(f"MongoDB is unavailable: {reason}")


UNAVAILABLE_CODES = frozenset(
    {
        6,  # HostUnreachable
        7,  # HostNotFound
        89,  # NetworkTimeout
        91,  # ShutdownInProgress
        133,  # FailedToSatisfyReadPreference (mongos: no shard member can take it now)
        134,  # ReadConcernMajorityNotAvailableYet
        189,  # PrimarySteppedDown
        262,  # ExceededTimeLimit
        9001,  # SocketException
        10058,  # LegacyNotPrimary
        10107,  # NotWritablePrimary
        11600,  # InterruptedAtShutdown
        11602,  # InterruptedDueToReplStateChange
        13435,  # NotPrimaryNoSecondaryOk
        13436,  # NotPrimaryOrSecondary
    }
)
"""Server error codes that mean "not now": the ones PyMongo itself retries or treats as a node
that is not primary or is recovering (``pymongo.helpers_shared._RETRYABLE_ERROR_CODES``, which
includes ``_NOT_PRIMARY_CODES``), and mongos's FailedToSatisfyReadPreference."""

_TROUBLE_LABELS = ("RetryableWriteError", "SystemOverloadedError", "TransientTransactionError")
"""Labels PyMongo or the server put on an error worth retrying later. A transient transaction
error met outside a transaction's work is one ``with_transaction`` stopped retrying: its
budget (``TSP_TRANSACTION_SECONDS``) ran out."""


def is_store_trouble(error: PyMongoError) -> bool:
    """Whether ``error`` says the server cannot take the work now (unreachable, timed out,
    electing, shutting down, overloaded), rather than refusing the work itself (a bad query, a
    duplicate key, a refused credential): the former is :class:`StoreUnavailableError`.

    PyMongo raises most of it as a ``ConnectionFailure`` (``NotPrimaryError`` too), but a code
    that is not a "not primary" one comes back as a plain ``OperationFailure``, and a write of
    a batch carries its code inside ``BulkWriteError.details``."""
    if isinstance(error, ConnectionFailure) or error.timeout:
        return True
    if any(error.has_error_label(label) for label in _TROUBLE_LABELS):
        return True
    if isinstance(error, BulkWriteError):
        codes = [e.get("code") for e in error.details.get("writeErrors", [])]
        return bool(codes) and all(code in UNAVAILABLE_CODES for code in codes)
    return isinstance(error, OperationFailure) and error.code in UNAVAILABLE_CODES
