"""Signed, time-limited download links of bulk export files.

``/exports/<id>/download?expires=<unix seconds>&signature=<hex>``, where the signature is
HMAC-SHA256 over ``<id>.<expires>`` keyed by the export's own random ``downloadSecret`` (never
shown): a link works for its export only, until it expires, from any process, and a new one
is made each time the export is read.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

from datastore.documents import BulkExportDocument

LINK_TTL = timedelta(hours=1)


def download_path(export: BulkExportDocument, now: datetime) -> str:
    expires = int((now + LINK_TTL).timestamp())
    return f"/exports/{export['_id']}/download?expires={expires}&signature={_sign(export, expires)}"


def refusal(export: BulkExportDocument, expires: str, signature: str, now: datetime) -> str | None:
    """Why the link does not open this export's file (``DOWNLOAD_LINK_INVALID`` when it was
    not made for it, ``DOWNLOAD_LINK_EXPIRED`` when its time is up), or ``None``."""
    if not expires.isdigit() or len(expires) > 12:
        return "DOWNLOAD_LINK_INVALID"
    if not hmac.compare_digest(_sign(export, int(expires)), signature):
        return "DOWNLOAD_LINK_INVALID"
    if int(expires) < now.timestamp():
        return "DOWNLOAD_LINK_EXPIRED"
    return None


def _sign(export: BulkExportDocument, expires: int) -> str:
    message = f"{export['_id']}.{expires}".encode()
    return hmac.new(export["downloadSecret"].encode(), message, hashlib.sha256).hexdigest()
