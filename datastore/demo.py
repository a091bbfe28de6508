"""Whom the demo's tokens act as. The demo data set itself is made through the API's own
resolver functions (``resolvers.demo_seed``), so it can hold no state the API cannot produce."""

from __future__ import annotations

from datastore import collections as c
from datastore.store import ASCENDING, DocumentStore


async def demo_subjects(store: DocumentStore) -> dict[str, str]:
    """Whom demo tokens act as, by role name: the oldest partner and seller, and an admin."""
    oldest = [("createdAt", ASCENDING)]
    partners = await store.find(c.PARTNERS, sort=oldest, limit=1)
    sellers = await store.find(c.SELLERS, sort=oldest, limit=1)
    subjects = {"admin": "admin"}
    if partners:
        subjects["partner"] = partners[0]["_id"]
    if sellers:
        subjects["seller"] = sellers[0]["_id"]
    return subjects
