"""Trusted documents: operations registered ahead of time and run by their SHA-256 id.

A partner dashboard or single-page app registers its operations with
``tsp-gateway documents add FILE.graphql...``; they are stored in the store, so every replica
sees them. Clients then send ``{"documentId": "sha256:<hex>"}`` (GraphQL over HTTP persisted
documents) or Apollo's automatic persisted query extension. A document is parsed and
validated once per process, the first time it is used, and never again.

APQ registrations from clients (a query sent with its hash) are only remembered in a bounded
per-process cache: they save bandwidth, they are not trusted. With trusted documents only,
nothing but registered documents runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from graphql import DocumentNode, GraphQLError, parse

from datastore.codec import utc_now
from datastore.collections import TRUSTED_DOCUMENTS
from datastore.store import DocumentStore, DuplicateKeyError
from edge.limits import Limits, length_problem

_ID = re.compile(r"^sha256:[0-9a-f]{64}$")
_APQ_CACHE_SIZE = 1_000

Validate = Callable[[DocumentNode], Sequence[GraphQLError]]
"""Validates a parsed document against the schema and the gateway's structural limits."""


class DocumentRefused(ValueError):
    """A document that cannot be registered: it does not parse or does not validate."""


def document_id(text: str) -> str:
    """The id a document is registered and requested under."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def is_document_id(value: object) -> bool:
    """Whether ``value`` has the shape of a document id (``sha256:`` and 64 hex digits)."""
    return isinstance(value, str) and bool(_ID.match(value))


@dataclass(frozen=True)
class LoadedDocument:
    """A trusted document ready to execute: its text, and the parsed tree validation
    accepted."""

    id: str
    text: str
    document: DocumentNode


class TrustedDocuments:
    """The registry of one process: trusted documents from the store, parsed once each, and
    the client-registered APQ queries it has seen."""

    def __init__(self, store: DocumentStore, validate: Validate, limits: Limits) -> None:
        self.store = store
        self.validate = validate
        self.limits = limits
        self._trusted: dict[str, LoadedDocument] = {}
        self._apq: OrderedDict[str, str] = OrderedDict()

    async def add(self, text: str) -> str:
        """Register ``text`` (parsed and validated first); returns its id. Adding a document
        again is harmless."""
        self._check(text)
        identifier = document_id(text)
        with contextlib.suppress(DuplicateKeyError):
            await self.store.insert(
                TRUSTED_DOCUMENTS, {"_id": identifier, "text": text, "addedAt": utc_now()}
            )
        return identifier

    async def list(self) -> list[tuple[str, str]]:
        """Every registered document as ``(id, text)``."""
        documents = await self.store.find(TRUSTED_DOCUMENTS, sort=[("_id", 1)])
        return [(d["_id"], d["text"]) for d in documents]

    async def trusted(self, identifier: str) -> LoadedDocument | None:
        """The registered document with this id, or ``None``."""
        loaded = self._trusted.get(identifier)
        if loaded is not None:
            return loaded
        stored = (await self.store.get_many(TRUSTED_DOCUMENTS, [identifier])).get(identifier)
        if stored is None:
            return None
        document = self._check(stored["text"])
        loaded = LoadedDocument(identifier, stored["text"], document)
        self._trusted[identifier] = loaded
        return loaded

    def remembered(self, identifier: str) -> str | None:
        """The text of a query a client registered by APQ in this process, if still cached."""
        text = self._apq.get(identifier)
        if text is not None:
            self._apq.move_to_end(identifier)
        return text

    def remember(self, text: str) -> str:
        """Keep a query its client sent with its hash for APQ; returns its id. It runs through
        the usual (cached) parsing and validation like any query."""
        identifier = document_id(text)
        self._apq[identifier] = text
        while len(self._apq) > _APQ_CACHE_SIZE:
            self._apq.popitem(last=False)
        return identifier

    def _check(self, text: str) -> DocumentNode:
        too_long = length_problem(text, self.limits)
        if too_long is not None:
            raise DocumentRefused(f"the document is too long: {too_long.message}")
        try:
            document = parse(text, max_tokens=self.limits.max_tokens)
        except GraphQLError as error:
            raise DocumentRefused(f"the document does not parse: {error.message}") from error
        problems = self.validate(document)
        if problems:
            raise DocumentRefused(
                "the document does not validate: " + "; ".join(p.message for p in problems)
            )
        return document
