"""The production adapter: MongoDB through PyMongo's async API.

Transactions need a replica set (or a sharded cluster); a single ``mongod`` refuses them.
The session of the running transaction travels in a context variable, so domain code never
passes sessions around.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextvars import ContextVar
from datetime import UTC
from typing import Any, TypeVar

from pymongo import AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError as MongoDuplicateKeyError
from pymongo.errors import PyMongoError

from datastore.codec import Document, normalise, normalise_value
from datastore.store import (
    SCORE,
    DocumentStore,
    DuplicateKeyError,
    Filter,
    IndexSpec,
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

_DEFAULT_DATABASE = "tsp"
_POSITION = "_position"
_SCORE = "_score"


class MongoStore(DocumentStore):
    """A :class:`DocumentStore` in a MongoDB database named by the URL's path."""

    def __init__(self, url: str, *, server_selection_timeout_ms: int = 5000) -> None:
        super().__init__()
        self.url = url
        self._timeout_ms = server_selection_timeout_ms
        self._client: AsyncMongoClient[Document] | None = None
        self._session: ContextVar[AsyncClientSession | None] = ContextVar(
            f"mongo-session-{id(self)}", default=None
        )

    async def connect(self) -> None:
        self._client = AsyncMongoClient(
            self.url,
            tz_aware=True,
            tzinfo=UTC,
            serverSelectionTimeoutMS=self._timeout_ms,
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def ping(self) -> None:
        try:
            await self._database().command("ping")
        except PyMongoError as error:
            raise StoreUnavailableError(str(error)) from error

    async def ensure_indexes(self, specs: Iterable[IndexSpec]) -> None:
        for spec in specs:
            options: dict[str, Any] = {"name": spec.name}
            if spec.unique:
                options["unique"] = True
                # Documents never store nulls, so "exists" is the same as "has a value".
                options["partialFilterExpression"] = {
                    name: {"$exists": True} for name in spec.fields
                }
            await self._collection(spec.collection).create_index(
                [(name, 1) for name in spec.fields], **options
            )

    async def get_many(self, collection: str, ids: Sequence[str]) -> dict[str, Document]:
        unique_ids = list(dict.fromkeys(ids))
        if not unique_ids:
            return {}
        cursor = self._collection(collection).find(
            {"_id": {"$in": unique_ids}}, session=self._session.get()
        )
        documents = await cursor.to_list()
        self._counted(len(documents))
        return {document["_id"]: document for document in documents}

    async def find(
        self,
        collection: str,
        filter: Filter | None = None,
        *,
        sort: Sort = (),
        limit: int | None = None,
        after: Sequence[Any] | None = None,
        score: Score | None = None,
    ) -> list[Document]:
        check_score(filter, sort, score)
        if score is not None:
            pipeline = _scored_pipeline(filter, sort, limit, after, score)
            scored = await self._collection(collection).aggregate(
                pipeline, session=self._session.get()
            )
            ranked: list[Document] = await scored.to_list()
            self._counted(len(ranked))
            return ranked
        cursor = self._collection(collection).find(
            _query(filter, sort, after), sort=full_sort(sort), session=self._session.get()
        )
        if limit is not None:
            cursor = cursor.limit(limit)
        documents: list[Document] = await cursor.to_list()
        self._counted(len(documents))
        return documents

    async def find_grouped(
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
        check_score(filter, sort, None)
        values = list(dict.fromkeys(normalise_value(v) for v in group_values))
        groups: dict[Any, list[Document]] = {value: [] for value in values}
        if not values:
            return groups
        order = dict(full_sort(sort))
        match = {"$and": [{check_path(group_field): {"$in": values}}, _query(filter, sort, after)]}
        pipeline: list[dict[str, Any]] = [
            {"$match": match},
            {
                "$setWindowFields": {
                    "partitionBy": f"${group_field}",
                    "sortBy": order,
                    "output": {_POSITION: {"$documentNumber": {}}},
                }
            },
            {"$match": {_POSITION: {"$lte": limit_per_group}}},
            {"$sort": order},
            {"$unset": _POSITION},
        ]
        cursor = await self._collection(collection).aggregate(pipeline, session=self._session.get())
        documents = await cursor.to_list()
        self._counted(len(documents))
        for document in documents:
            groups[document.get(group_field)].append(document)
        return groups

    async def count(self, collection: str, filter: Filter | None = None) -> int:
        check_score(filter, (), None)
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
        cursor = await self._collection(collection).aggregate(pipeline, session=self._session.get())
        groups = await cursor.to_list()
        self._counted()
        for group in groups:
            counts[group["_id"]] = int(group["count"])
        return counts

    async def insert(self, collection: str, document: Mapping[str, Any]) -> Document:
        stored = normalise({"version": 1, **document})
        if "_id" not in stored:
            raise ValueError("documents need an _id")
        try:
            await self._collection(collection).insert_one(dict(stored), session=self._session.get())
        except MongoDuplicateKeyError as error:
            raise DuplicateKeyError(collection, _index_name(error)) from error
        self._counted()
        return stored

    async def update(
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
        try:
            updated = await self._collection(collection).find_one_and_update(
                {"_id": document_id, "version": expected_version},
                operations,
                return_document=ReturnDocument.AFTER,
                session=self._session.get(),
            )
        except MongoDuplicateKeyError as error:
            raise DuplicateKeyError(collection, _index_name(error)) from error
        self._counted(1 if updated else 0)
        if updated is None:
            raise VersionConflictError(collection, document_id)
        stored: Document = updated
        return stored

    async def delete(self, collection: str, document_id: str, *, expected_version: int) -> None:
        deleted = await self._collection(collection).delete_one(
            {"_id": document_id, "version": expected_version}, session=self._session.get()
        )
        self._counted()
        if deleted.deleted_count == 0:
            raise VersionConflictError(collection, document_id)

    async def delete_all(self, collection: str) -> None:
        await self._collection(collection).delete_many({}, session=self._session.get())
        self._counted()

    async def transaction(self, work: Callable[[], Awaitable[T]]) -> T:
        if self._session.get() is not None:
            return await work()

        async def callback(session: AsyncClientSession) -> T:
            token = self._session.set(session)
            try:
                return await work()
            finally:
                self._session.reset(token)

        async with self._require_client().start_session() as session:
            result: T = await session.with_transaction(callback)
        self._counted()
        return result

    def _require_client(self) -> AsyncMongoClient[Document]:
        if self._client is None:
            raise StoreUnavailableError("the MongoDB store is not connected")
        return self._client

    def _database(self) -> AsyncDatabase[Document]:
        return self._require_client().get_default_database(_DEFAULT_DATABASE)

    def _collection(self, name: str) -> Any:
        return self._database()[check_collection(name)]


def _query(filter: Filter | None, sort: Sort, after: Sequence[Any] | None) -> dict[str, Any]:
    if after is None:
        return _translate(filter or {})
    return {"$and": [_translate(filter or {}), _translate(keyset_filter(sort, after))]}


def _scored_pipeline(
    filter: Filter | None, sort: Sort, limit: int | None, after: Sequence[Any] | None, score: Score
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
    pipeline: list[dict[str, Any]] = [
        {"$match": _translate({"$and": early})},
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


def _index_name(error: MongoDuplicateKeyError) -> str:
    message = str((error.details or {}).get("errmsg", error))
    if "index: " in message:
        return message.split("index: ", 1)[1].split(" ", 1)[0]
    return "_id_"
