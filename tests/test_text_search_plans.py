"""The SQLite adapter reads a text search one of three ways (walking the listing's index and
checking each row's words when matches are very many, walking it keeping the rows whose rowid
is among the matches when they are many, reading the posting lists and sorting when they are
few); each, and the way chosen by the matches, must list exactly what an independent oracle
lists, page by page."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from datastore import sqlite_text
from datastore.codec import Document
from datastore.paging import Page, find_page
from datastore.sqlite import SQLiteStore
from datastore.store import (
    ASCENDING,
    DESCENDING,
    SCORE,
    Collection,
    IndexSpec,
    Score,
    Sort,
    keyset_of,
)

WORDS = ["live", "shop", "video", "growth", "coach"]
# A scratch collection of untyped documents, indexed as the store listing is.
LISTING = Collection("listing", dict)

INDEXES = [
    IndexSpec("listing", ("listed", "at")),
    IndexSpec("listing", ("listed", "name")),
    IndexSpec("listing", ("terms", "title"), text=True),
]


@pytest.fixture(
    params=[sqlite_text.WALK, sqlite_text.SEMI_JOIN, sqlite_text.SORT, None],
    ids=["walk", "semi-join", "sorted", "chosen"],
)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "text.sqlite3", text_way=request.param)
    await opened.connect()
    await opened.ensure_indexes(INDEXES)
    yield opened
    await opened.close()


def _documents() -> list[Document]:
    rng = random.Random(7)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    documents = []
    for n in range(120):
        terms = sorted({w for w in WORDS if rng.random() < 0.5})
        title = sorted({w for w in terms if rng.random() < 0.5})
        at = start + timedelta(minutes=rng.randrange(40))  # ties broken by _id
        documents.append(
            {
                "_id": f"svc_{n:04d}",
                "listed": n % 7 != 0,
                "at": at,
                "name": f"n{rng.randrange(30):02d}",
                "terms": terms,
                "title": title,
            }
        )
    return documents


def _oracle(documents: Sequence[Mapping[str, Any]], wanted: list[str], sort: Sort) -> list[str]:
    found = [d for d in documents if d["listed"] and all(w in d["terms"] for w in wanted)]

    def key(document: Mapping[str, Any]) -> list[Any]:
        return [
            len(set(wanted) & set(document["title"])) if name == SCORE else document[name]
            for name, _ in sort
        ] + [document["_id"]]

    direction = sort[0][1]
    return [d["_id"] for d in sorted(found, key=key, reverse=direction == DESCENDING)]


@pytest.mark.parametrize("wanted", [["live"], ["live", "shop"], ["coach", "video", "growth"]])
@pytest.mark.parametrize("order", ["relevance", "newest", "name", "relevance-reversed"])
async def test_both_ways_list_what_the_oracle_lists(
    store: SQLiteStore, wanted: list[str], order: str
) -> None:
    documents = _documents()
    for document in documents:
        await store.insert(LISTING, document)
    score: Score | None = None
    if order.startswith("relevance"):
        direction = ASCENDING if order.endswith("reversed") else DESCENDING
        sort: Sort = [(SCORE, direction), ("at", direction)]
        score = ("title", wanted)
    elif order == "newest":
        sort = [("at", DESCENDING)]
    else:
        sort = [("name", ASCENDING)]
    filter = {"$and": [{"listed": True}, *({"terms": {"$contains": w}} for w in wanted)]}
    expected = _oracle(documents, wanted, sort)
    assert expected
    for size in (1, 4, 50):
        listed: list[str] = []
        page = Page(size=size)
        while True:
            result = await find_page(store, LISTING, filter, sort, page, score=score)
            listed += [d["_id"] for d in result.documents]
            if not result.has_more:
                break
            last = result.documents[-1]
            page = Page(size=size, after=tuple(keyset_of(last, sort, score)))
        assert listed == expected, (size, wanted, order)


async def test_a_word_is_found_as_a_whole_element_only(store: SQLiteStore) -> None:
    """Each way (checking a row's own words included) finds a word only as a whole element:
    not inside a longer word, nor as a prefix or suffix, and any letters (not only ASCII)."""
    terms = {
        "svc_a": ["live"],
        "svc_b": ["alive", "livestream"],
        "svc_c": ["live2", "olive"],
        "svc_d": ["café", "live"],
        "svc_e": ["cafés"],
        "svc_f": [],
    }
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for n, (id_, words) in enumerate(terms.items()):
        at = start + timedelta(minutes=n)
        document = {"_id": id_, "listed": True, "at": at, "name": id_, "terms": words}
        await store.insert(LISTING, {**document, "title": words})
    sort: Sort = [("at", ASCENDING)]
    for word, expected in (("live", ["svc_a", "svc_d"]), ("café", ["svc_d"])):
        filter = {"$and": [{"listed": True}, {"terms": {"$contains": word}}]}
        result = await find_page(store, LISTING, filter, sort, Page(size=10))
        assert [d["_id"] for d in result.documents] == expected, word
        ranked: Sort = [(SCORE, DESCENDING), ("at", DESCENDING)]
        result = await find_page(
            store, LISTING, filter, ranked, Page(size=10), score=("title", [word])
        )
        assert [d["_id"] for d in result.documents] == expected[::-1], word


def _many() -> list[Document]:
    """More matches than a way's sample reads (``sqlite_text.SAMPLE``): ``every`` in each row,
    ``quarter`` in one in four, ``rare`` in thirty, ``late`` in the newest rows only (bunched
    in rowid, so the sample's estimate is five times the truth)."""
    rng = random.Random(5)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    documents = []
    for n in range(_MANY):
        terms = ["every"]
        terms += ["quarter"] if rng.random() < 0.25 else []
        terms += ["rare"] if n % (_MANY // 30) == 7 else []
        terms += ["late"] if n >= _MANY - _MANY // 5 else []
        title = sorted({w for w in terms if rng.random() < 0.5})
        at = start + timedelta(seconds=rng.randrange(_MANY))
        name = f"n{rng.randrange(100):02d}"
        documents.append(
            {"_id": f"svc_{n:05d}", "listed": True, "at": at, "name": name, "terms": terms}
            | {"title": title}
        )
    return documents


_MANY = 2000


async def _chosen_way(store: SQLiteStore, wanted: list[str]) -> int:
    query = sqlite_text.match([("terms", word) for word in wanted], ("terms", "title"))
    with sqlite3.connect(store.path) as connection:
        [(way,)] = connection.execute(f"SELECT {sqlite_text.way('listing', 21)}", [query])
    return int(way)


async def test_ways_chosen_from_a_sample_list_what_the_oracle_lists(
    store: SQLiteStore,
) -> None:
    """Past the sample a level's way is chosen from an estimate of its matches; each way, and
    the chosen one even where the estimate is far off (``late``), lists exactly the oracle's
    rows, and the choice spans all three ways."""
    documents = _many()

    async def insert_all() -> None:
        for document in documents:
            await store.insert(LISTING, document)

    await store.transaction(insert_all)
    if store.text_way is None:
        chosen = {w: await _chosen_way(store, [w]) for w in ("every", "quarter", "rare", "late")}
        assert chosen == {
            "every": sqlite_text.WALK,
            "quarter": sqlite_text.SEMI_JOIN,
            "rare": sqlite_text.SORT,
            "late": sqlite_text.WALK,  # an overestimate: 400 rows match, a semi-join's share
        }
    orders: dict[str, Sort] = {
        "relevance": [(SCORE, DESCENDING), ("at", DESCENDING)],
        "relevance-reversed": [(SCORE, ASCENDING), ("at", ASCENDING)],
        "newest": [("at", DESCENDING)],
        "name": [("name", ASCENDING)],
    }
    for wanted in (["every"], ["quarter"], ["late"], ["quarter", "late"], ["rare", "every"]):
        for order, sort in orders.items():
            score: Score | None = ("title", wanted) if order.startswith("relevance") else None
            filter = {"$and": [{"listed": True}, *({"terms": {"$contains": w}} for w in wanted)]}
            expected = _oracle(documents, wanted, sort)[:60]
            listed: list[str] = []
            page = Page(size=20)
            while len(listed) < len(expected):
                result = await find_page(store, LISTING, filter, sort, page, score=score)
                listed += [d["_id"] for d in result.documents]
                last = result.documents[-1]
                page = Page(size=20, after=tuple(keyset_of(last, sort, score)))
            assert listed[:60] == expected, (wanted, order)
