"""The typed context every resolver reads through ``Info``."""

from __future__ import annotations

from dataclasses import dataclass, field

import strawberry

from datastore.loaders import Loaders
from datastore.store import DocumentStore
from resolvers.identity import Viewer


@dataclass
class Context:
    """What one GraphQL request knows: its caller, its store, and its own dataloaders."""

    store: DocumentStore
    viewer: Viewer
    request_id: str
    demo_mode: bool = False
    # Where this gateway was reached (scheme, host and root path, no trailing slash), for
    # absolute links such as referral URLs; empty when there is no HTTP request.
    base_url: str = ""
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.store)


Info = strawberry.Info[Context, None]
