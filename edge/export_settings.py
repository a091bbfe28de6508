"""Settings of bulk exports: the worker, leases, retention, and the export's own bucket."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from edge.settings import _seconds, _whole, flag


@dataclass(frozen=True)
class ExportSettings:
    """How bulk exports run and how long their files are kept.

    An export spends from a bucket of its own (``export:<caller>``), never from the caller's
    interactive one: each page it reads costs what the same page would cost a paging client
    (its actual cost, as ``extensions.cost`` reports it), and the worker waits for the bucket
    to refill when it runs dry. So an export runs at about ``throttle_restore_rate`` cost points
    a second at most, whatever the caller's interactive requests do meanwhile.
    """

    # Run the export worker inside `serve` (off: run `tsp-gateway export-worker`).
    worker: bool = True
    poll_seconds: float = 1.0
    # A worker renews its lease while it runs; past it, another worker takes the export over.
    lease_seconds: float = 30.0
    retention_days: int = 7
    # How long a download link (``BulkExport.url``) works after the read that gave it.
    link_seconds: int = 3600
    throttle_capacity: float = 50_000
    throttle_restore_rate: float = 20_000

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> ExportSettings:
        return cls(
            worker=flag(env, "TSP_EXPORT_WORKER", default=True),
            poll_seconds=_seconds(env, "TSP_EXPORT_POLL_SECONDS", cls.poll_seconds),
            lease_seconds=_seconds(env, "TSP_EXPORT_LEASE_SECONDS", cls.lease_seconds),
            retention_days=_whole(env, "TSP_EXPORT_RETENTION_DAYS", cls.retention_days),
            link_seconds=_whole(env, "TSP_EXPORT_LINK_SECONDS", cls.link_seconds),
            throttle_capacity=_seconds(env, "TSP_EXPORT_THROTTLE_CAPACITY", cls.throttle_capacity),
            throttle_restore_rate=_seconds(
                env, "TSP_EXPORT_THROTTLE_RESTORE_RATE", cls.throttle_restore_rate
            ),
        )
