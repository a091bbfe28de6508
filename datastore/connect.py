"""Choosing and opening the store named by ``TSP_DATABASE_URL``."""

from __future__ import annotations

from urllib.parse import urlsplit

from datastore.store import DocumentStore

DEFAULT_DATABASE_URL = "sqlite:///var/tsp.sqlite3"


class DatabaseURLError(ValueError):
    """``TSP_DATABASE_URL`` names no store this gateway can open."""


def store_for_url(url: str) -> DocumentStore:
    """The adapter for ``url`` (not yet connected).

    ``sqlite:///relative/path``, ``sqlite:////absolute/path``, ``mongodb://...`` and
    ``mongodb+srv://...`` are understood; anything else raises :class:`DatabaseURLError`.
    """
    scheme = urlsplit(url).scheme.lower()
    if scheme == "sqlite":
        path = url.split(":", 1)[1]
        if not path.startswith("///") or len(path) <= 3:
            raise DatabaseURLError(
                f"invalid SQLite URL {url!r}: use sqlite:///relative/path or sqlite:////abs/path"
            )
        from datastore.sqlite import SQLiteStore

        return SQLiteStore(path[3:])
    if scheme in ("mongodb", "mongodb+srv"):
        from pymongo.errors import ConfigurationError, InvalidURI
        from pymongo.uri_parser import parse_uri

        try:
            # mongodb+srv needs DNS to parse fully; its URL is checked when connecting.
            if scheme == "mongodb":
                parse_uri(url)
        except (InvalidURI, ConfigurationError, ValueError) as error:
            raise DatabaseURLError(f"invalid MongoDB URL: {error}") from error
        from datastore.mongodb import MongoStore

        return MongoStore(url)
    raise DatabaseURLError(
        f"unsupported database URL {url!r}: expected sqlite:///path, mongodb:// or mongodb+srv://"
    )
