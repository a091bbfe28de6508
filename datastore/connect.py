"""Choosing and opening the store named by ``TSP_DATABASE_URL``."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from datastore.store import DEFAULT_TRANSACTION_BATCH, DocumentStore

DEFAULT_DATABASE_URL = "sqlite:///var/tsp.sqlite3"
_CREATE_DIRS = "create_dirs"
_FLAGS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


class DatabaseURLError(ValueError):
    """``TSP_DATABASE_URL`` names no store this gateway can open."""


def store_for_url(
    url: str,
    *,
    transaction_seconds: float | None = None,
    transaction_batch: int = DEFAULT_TRANSACTION_BATCH,
    read_seconds: float | None = None,
    setup_seconds: float | None = None,
) -> DocumentStore:
    """The adapter for ``url`` (not yet connected); ``transaction_seconds`` bounds each
    MongoDB transaction, retries included, ``read_seconds`` each MongoDB read outside one, and
    ``setup_seconds`` MongoDB's set-up at start-up (each its default when not given);
    ``transaction_batch`` is the most documents a transaction of a long job writes
    (``DocumentStore.transaction_batch``).

    ``sqlite:///relative/path``, ``sqlite:////absolute/path`` (``?create_dirs=1`` creates a
    missing directory outside the working directory too), ``mongodb://...`` and
    ``mongodb+srv://...`` are understood; anything else raises :class:`DatabaseURLError`.
    """
    scheme = urlsplit(url).scheme.lower()
    if scheme == "sqlite":
        path, _, query = url.split(":", 1)[1].partition("?")
        if not path.startswith("///") or len(path) <= 3:
            raise DatabaseURLError(
                f"invalid SQLite URL {url!r}: use sqlite:///relative/path or sqlite:////abs/path"
            )
        options = dict(parse_qsl(query, keep_blank_values=True))
        unknown = set(options) - {_CREATE_DIRS}
        flag = options.get(_CREATE_DIRS, "0").lower()
        if unknown or flag not in _FLAGS:
            raise DatabaseURLError(
                f"invalid SQLite URL {url!r}: the only option is {_CREATE_DIRS}=1 (create the "
                "file's directory when it is missing, even outside the working directory)"
            )
        from datastore.sqlite import SQLiteStore

        store: DocumentStore = SQLiteStore(path[3:], create_directories=_FLAGS[flag])
        store.transaction_batch = transaction_batch
        return store
    if scheme in ("mongodb", "mongodb+srv"):
        from pymongo.errors import ConfigurationError, InvalidURI
        from pymongo.uri_parser import parse_uri

        try:
            # mongodb+srv needs DNS to parse fully; its URL is checked when connecting.
            if scheme == "mongodb":
                parse_uri(url)
        except (InvalidURI, ConfigurationError, ValueError) as error:
            raise DatabaseURLError(f"invalid MongoDB URL: {error}") from error
        from datastore.mongodb import (
            DEFAULT_READ_SECONDS,
            DEFAULT_SETUP_SECONDS,
            DEFAULT_TRANSACTION_SECONDS,
            MongoStore,
        )

        store = MongoStore(
            url,
            transaction_seconds=transaction_seconds or DEFAULT_TRANSACTION_SECONDS,
            read_seconds=read_seconds or DEFAULT_READ_SECONDS,
            setup_seconds=setup_seconds or DEFAULT_SETUP_SECONDS,
        )
        store.transaction_batch = transaction_batch
        return store
    raise DatabaseURLError(
        f"unsupported database URL {url!r}: expected sqlite:///path, mongodb:// or mongodb+srv://"
    )
