"""Bulk exports: one query run server-side over every page, into one JSONL file.

``startBulkExport(input: {query})`` starts one; ``bulkExport(id:)`` and ``currentBulkExport``
follow it; ``cancelBulkExport(id:)`` stops it; ``BULK_EXPORT_FINISHED`` announces its end (the
events subscription and webhooks). The file is downloaded from ``BulkExport.url``.
"""

from datetime import datetime
from typing import Annotated, Any

import strawberry

from datastore.documents import BulkExportDocument
from resolvers import bulk_exports as resolve
from resolvers.bulk_export_links import download_path, link_expiry
from resolvers.bulk_export_query import MAX_CONNECTION_DEPTH
from resolvers.context import Info
from schema.mutations import UserError, run_mutation
from schema.permissions import IsAuthenticated, require_signed_in
from schema.roots import mutation_fields, query_fields

strawberry.enum(resolve.BulkExportStatus, description="Where a bulk export stands.")
strawberry.enum(resolve.BulkExportErrorCode, description="Why a bulk export change was refused.")


@strawberry.type(
    description="A bulk export: a query run over every page of a connection into one JSONL "
    "file (one object per line; nested connections' nodes on lines of their own, with "
    "__parentId)."
)
class BulkExport:
    id: strawberry.ID = strawberry.field(description="The export's id.")
    status: resolve.BulkExportStatus = strawberry.field(description="Where it stands.")
    query: str = strawberry.field(description="The query it runs.")
    object_count: int = strawberry.field(
        description="Lines written so far (every node, nested ones included)."
    )
    root_object_count: int = strawberry.field(
        description="Nodes of the top-level connection written so far."
    )
    file_size: int = strawberry.field(description="Bytes of the file written so far.")
    sha256: str | None = strawberry.field(
        description="The file's SHA-256 (hex), once COMPLETED; the download carries it too."
    )
    error_code: str | None = strawberry.field(
        description="Why it FAILED: the code of the error a page met (e.g. FORBIDDEN), or "
        "INTERRUPTED when its workers kept stopping."
    )
    error_message: str | None = strawberry.field(description="Why it FAILED, for people.")
    created_at: datetime = strawberry.field(description="When it was started.")
    completed_at: datetime | None = strawberry.field(
        description="When it ended (COMPLETED, FAILED or CANCELED)."
    )
    expires_at: datetime | None = strawberry.field(
        description="When its file will be deleted (COMPLETED exports are kept 7 days)."
    )
    document: strawberry.Private[BulkExportDocument]

    @strawberry.field(
        description="Where to download the file (COMPLETED only): a signed link valid until "
        "urlExpiresAt (TSP_EXPORT_LINK_SECONDS after this read, an hour by default); read "
        "the export again for a fresh one."
    )
    def url(self, info: Info) -> str | None:
        expires_at = self._link_expiry(info)
        if expires_at is None:
            return None
        return info.context.base_url + download_path(self.document, expires_at)

    @strawberry.field(description="When url stops working (COMPLETED only).")
    def url_expires_at(self, info: Info) -> datetime | None:
        return self._link_expiry(info)

    def _link_expiry(self, info: Info) -> datetime | None:
        if self.status is not resolve.BulkExportStatus.COMPLETED:
            return None
        return link_expiry(info.context.now, info.context.exports.link_lifetime)

    @classmethod
    def from_document(cls, document: BulkExportDocument) -> "BulkExport":
        return cls(
            id=strawberry.ID(document["_id"]),
            status=resolve.BulkExportStatus(document["status"]),
            query=document["query"],
            object_count=document["objectCount"],
            root_object_count=document["rootObjectCount"],
            file_size=document["fileSize"],
            sha256=document.get("sha256"),
            error_code=document.get("errorCode"),
            error_message=document.get("errorMessage"),
            created_at=document["createdAt"],
            completed_at=document.get("completedAt"),
            expires_at=document.get("expiresAt"),
            document=document,
        )


@strawberry.type(description="A broken rule in a bulk export change.")
class BulkExportUserError(UserError):
    code: resolve.BulkExportErrorCode = strawberry.field(description="The rule, as a code.")
    code_enum = resolve.BulkExportErrorCode


@strawberry.input(description="What to export.")
class StartBulkExportInput:
    query: str = strawberry.field(
        description="A query selecting one connection (at the root, or under single objects "
        "such as viewer { partner { serviceOffers } }) with edges { node { ... } } or nodes "
        f"{{ ... }}; nested connections down to {MAX_CONNECTION_DEPTH} levels in all, read "
        "in full unless given first or last. No pagination arguments on the top-level "
        "connection, no variables, no mutations."
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Retrying with the same key returns the first export (at most 100 chars).",
    )


@strawberry.type(description="Result of startBulkExport.")
class StartBulkExportPayload:
    bulk_export: BulkExport | None = strawberry.field(
        default=None, description="The export, CREATED (a worker starts it shortly)."
    )
    user_errors: list[BulkExportUserError] = strawberry.field(
        default_factory=list, description="What was wrong with the input; empty on success."
    )


@strawberry.type(description="Result of cancelBulkExport.")
class CancelBulkExportPayload:
    bulk_export: BulkExport | None = strawberry.field(
        default=None, description="The export, CANCELED."
    )
    user_errors: list[BulkExportUserError] = strawberry.field(
        default_factory=list, description="What was wrong with the input; empty on success."
    )


@query_fields
@strawberry.type
class BulkExportQuery:
    # Checked in the resolvers, not by permission classes, so these queries run planned.
    @strawberry.field(
        description="One of your bulk exports (null when you have none with this id). "
        "Signed-in callers only."
    )
    async def bulk_export(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The export's id.")],
    ) -> BulkExport | None:
        require_signed_in(info)
        found = await resolve.of_caller(info, str(id))
        return BulkExport.from_document(found) if found else None

    @strawberry.field(description="Your most recently started bulk export. Signed-in callers only.")
    async def current_bulk_export(self, info: Info) -> BulkExport | None:
        require_signed_in(info)
        found = await resolve.latest(info)
        return BulkExport.from_document(found) if found else None


@mutation_fields
@strawberry.type
class BulkExportMutation:
    @strawberry.mutation(
        description="Start a bulk export of a query's connection, every page of it, into one "
        "JSONL file; one running export per caller and one start per minute. Follow it with "
        "bulkExport(id:) or the BULK_EXPORT_FINISHED event.",
        permission_classes=[IsAuthenticated],
    )
    async def start_bulk_export(
        self,
        info: Info,
        input: Annotated[
            StartBulkExportInput, strawberry.argument(description="The query to export.")
        ],
    ) -> StartBulkExportPayload | None:
        async def work() -> dict[str, Any]:
            schema = info._raw_info.schema
            started = await resolve.start(info, schema, input.query, input.idempotency_key)
            return {"bulk_export": BulkExport.from_document(started)}

        return await run_mutation(info, StartBulkExportPayload, BulkExportUserError, work)

    @strawberry.mutation(
        description="Cancel one of your CREATED or RUNNING bulk exports.",
        permission_classes=[IsAuthenticated],
    )
    async def cancel_bulk_export(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The export's id.")],
    ) -> CancelBulkExportPayload | None:
        async def work() -> dict[str, Any]:
            canceled = await resolve.cancel(info, str(id))
            return {"bulk_export": BulkExport.from_document(canceled)}

        return await run_mutation(info, CancelBulkExportPayload, BulkExportUserError, work)
