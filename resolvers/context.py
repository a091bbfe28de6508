"""The typed context every resolver reads through ``Info``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import strawberry

from datastore.codec import utc_now
from datastore.loaders import Loaders
from datastore.store import DocumentStore
from resolvers.bulk_export_limits import SPECIFICATION_ONLY, DocumentGate
from resolvers.identity import Viewer
from resolvers.webhook_targets import AllowedTargets


@dataclass(frozen=True)
class RequestLimits:
    """How many open requests a seller may have: with one partner, and in all."""

    max_open_per_partner: int = 1
    max_open: int = 20


@dataclass(frozen=True)
class ExportOptions:
    """What bulk export resolvers take from the gateway: the checks a bulk query is held to
    (those its pages will run under), and how long a download link lasts
    (``TSP_EXPORT_LINK_SECONDS``)."""

    gate: DocumentGate = SPECIFICATION_ONLY
    link_lifetime: timedelta = timedelta(hours=1)


@dataclass
class Context:
    """What one GraphQL request knows: its caller, its store, and its own dataloaders."""

    store: DocumentStore
    viewer: Viewer
    request_id: str
    # Hosts and networks off the public internet that may receive webhooks (local receivers).
    webhook_targets: AllowedTargets = field(default_factory=AllowedTargets)
    # One clock reading per request, so every derived status in a response agrees.
    now: datetime = field(default_factory=utc_now)
    # Where this gateway was reached (scheme, host and root path, no trailing slash), for
    # absolute links such as referral URLs; empty when there is no HTTP request.
    base_url: str = ""
    request_limits: RequestLimits = field(default_factory=RequestLimits)
    # Set by the gateway's schema (edge.export_options) for every operation.
    exports: ExportOptions = field(default_factory=ExportOptions)
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.store)


Info = strawberry.Info[Context, None]
