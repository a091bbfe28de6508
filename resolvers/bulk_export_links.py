"""Signed, time-limited download links of bulk export files.

``/exports/<id>/download?expires=<unix seconds>&signature=<hex>``, where the signature is
HMAC-SHA256 over ``<id>.<expires>`` keyed by the export's own random ``downloadSecret`` (never
shown): a link works for its export only, until it expires (``TSP_EXPORT_LINK_SECONDS`` after
the read that made it), from any process, and a new one is made each time the export is read.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from datastore.documents import BulkExportDocument


def link_expiry(now: datetime, lifetime: timedelta) -> datetime:
    """When a link made at ``now`` stops working (whole seconds, as the link says)."""
    return datetime.fromtimestamp(int((now + lifetime).timestamp()), tz=UTC)


def download_path(export: BulkExportDocument, expires_at: datetime) -> str:
    """The signed path of ``export``'s file, working until ``expires_at``."""
    expires = int(expires_at.timestamp())
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
