"""The declared document shapes catch misspelt and missing fields (the store fixture applies
this check to every document every test leaves behind, on every adapter)."""

from __future__ import annotations

from datetime import UTC, datetime

from datastore import collections as c
from datastore.documents import problems_of
from datastore.store import Collection


def test_every_collection_is_listed_with_a_stored_shape() -> None:
    declared = {value for value in vars(c).values() if isinstance(value, Collection)}
    assert declared == set(c.ALL_COLLECTIONS)
    for collection in c.ALL_COLLECTIONS:
        assert {"missing _id", "missing version"} <= set(problems_of(collection, {})), collection


def test_a_misspelt_field_is_reported_as_missing_and_undeclared() -> None:
    now = datetime(2026, 1, 2, tzinfo=UTC)
    shop = {"_id": "shp_1", "version": 1, "sellerId": "slr_1", "name": "Main", "market": "US"}
    assert problems_of(c.SHOPS, {**shop, "createdAt": now}) == []
    assert problems_of(c.SHOPS, {**shop, "createdAT": now}) == [
        "missing createdAt",
        "undeclared createdAT",
    ]


def test_optional_fields_may_be_absent() -> None:
    now = datetime(2026, 1, 2, tzinfo=UTC)
    account = {
        "_id": "tta_1",
        "version": 2,
        "sellerId": "slr_1",
        "handle": "@me",
        "linkedStatus": "UNLINKED",
        "createdAt": now,
    }
    assert problems_of(c.TIKTOK_ACCOUNTS, account) == []
    assert problems_of(c.TIKTOK_ACCOUNTS, {**account, "unlinkedAt": now}) == []
