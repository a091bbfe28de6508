"""``GET /exports/<id>/download``: a bulk export's JSONL file, through its signed link.

The link (``BulkExport.url``) is signed for one export and expires (see
``resolvers.bulk_export_links``); no bearer token is needed, so a backend job can hand it to
any HTTP client. The file streams chunk by chunk from the store, whichever process wrote it,
with its ``Content-Length`` and its SHA-256 (``Repr-Digest``, RFC 9530, and
``X-Checksum-SHA256`` in hex) so the client can check what it received.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Send

from datastore import collections as c
from datastore.codec import utc_now
from datastore.files import NoSuchFile
from datastore.store import STORE_TROUBLE, DocumentStore
from edge.refusals import refusal
from resolvers.bulk_export_links import refusal as link_refusal
from resolvers.bulk_exports import BulkExportStatus

logger = logging.getLogger("tsp.exports")

_PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
_NOT_VALID = "This download link is not valid for this export."


async def _download(request: Request) -> Response:
    store: DocumentStore = request.app.state.store
    export_id = request.path_params["export_id"]
    found = (await store.get_many(c.BULK_EXPORTS, [export_id])).get(export_id)
    # An unknown id is answered as a link not valid for it: without its export's secret no
    # link is, and a different answer would tell ids that exist from those that don't.
    if found is None:
        return _refused(403, "DOWNLOAD_LINK_INVALID", _NOT_VALID)
    problem = link_refusal(
        found,
        request.query_params.get("expires", ""),
        request.query_params.get("signature", ""),
        utc_now(),
    )
    if problem == "DOWNLOAD_LINK_INVALID":
        return _refused(403, problem, _NOT_VALID)
    if found["status"] == BulkExportStatus.EXPIRED:
        return _refused(410, "EXPORT_EXPIRED", "The export's file was deleted (kept 7 days).")
    if found["status"] != BulkExportStatus.COMPLETED or not found.get("fileId"):
        return _refused(404, "NOT_FOUND", "The export has no file.")
    if problem is not None:
        return _refused(
            403, problem, "This download link has expired: read the export again for a new url."
        )
    chunks = store.files.read(found["fileId"])
    try:
        first = await anext(chunks, b"")
    except NoSuchFile:
        return _refused(410, "EXPORT_EXPIRED", "The export's file was deleted.")
    digest = bytes.fromhex(found.get("sha256", ""))
    headers = {
        **_PRIVATE,
        "Content-Length": str(found["fileSize"]),
        # Sent as stored, so the length and the checksum are those of the bytes received
        # (the gzip middleware leaves a response with an encoding alone).
        "Content-Encoding": "identity",
        "Content-Disposition": f'attachment; filename="{export_id}.jsonl"',
        "Repr-Digest": f"sha-256=:{base64.b64encode(digest).decode()}:",
        "X-Checksum-SHA256": digest.hex(),
    }
    return _FileStream(
        export_id, _stream(first, chunks), media_type="application/jsonl", headers=headers
    )


async def _stream(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if first:
        yield first
    async for chunk in rest:
        yield chunk


class _FileStream(StreamingResponse):
    """The file, chunk by chunk. When the rest cannot be read (the sweep deleted the file
    while it was downloading, or the store became unavailable), the download ends short: the
    response is left incomplete, so the server closes the connection before ``Content-Length``
    bytes and the client sees a truncated body (its checksum would not match anyway). Said once
    in the log, as a warning: expected trouble, not a bug with a traceback."""

    def __init__(self, export_id: str, chunks: AsyncIterator[bytes], **options: Any) -> None:
        super().__init__(chunks, **options)
        self.export_id = export_id
        self.chunks = chunks

    async def stream_response(self, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        sent = 0
        try:
            async for chunk in self.chunks:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                sent += len(chunk)
        except (NoSuchFile, *STORE_TROUBLE) as error:
            reason = "the file was deleted" if isinstance(error, NoSuchFile) else str(error)
            logger.warning(
                "download of bulk export %s ended short after %d bytes: %s",
                self.export_id,
                sent,
                reason,
            )
            return
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def _refused(status: int, code: str, message: str) -> Response:
    response = refusal(status, code, message)
    response.headers.update(_PRIVATE)
    return response


def export_routes() -> list[Route]:
    return [Route("/exports/{export_id}/download", _download, methods=["GET"])]
