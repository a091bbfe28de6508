"""One set of cases, run against every storage adapter."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from datastore.codec import utc_now
from datastore.paging import Page, find_page
from datastore.store import (
    ASCENDING,
    DESCENDING,
    SCORE,
    Collection,
    DocumentStore,
    DuplicateKeyError,
    IndexSpec,
    Read,
    VersionConflictError,
    keyset_of,
)
from tests.conftest import MAX_PAGES
from tests.stores import ADAPTERS, drop_store, open_store

# Scratch collections of untyped documents: the contract is about the store, not any shape.
THINGS = Collection("things", dict)
NOTES = Collection("notes", dict)

INDEXES = [
    IndexSpec("things", ("owner", "rank")),
    IndexSpec("things", ("slug",), unique=True),
    IndexSpec("things", ("owner", "code"), unique=True),
]


@pytest.fixture(params=ADAPTERS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[DocumentStore]:
    opened = await open_store(request.param, tmp_path)
    await opened.ensure_indexes(INDEXES)
    yield opened
    await drop_store(opened)


def _thing(n: int, **extra: object) -> dict[str, object]:
    return {"_id": f"thg_{n:03d}", "owner": f"own_{n % 3}", "rank": n, **extra}


async def test_insert_then_get_many_round_trips_types(store: DocumentStore) -> None:
    when = datetime(2026, 5, 17, 10, 30, 15, 123456, tzinfo=UTC)
    stored = await store.insert(
        THINGS,
        {"_id": "thg_1", "at": when, "nested": {"a": [1, 2], "b": {"c": True}}, "gone": None},
    )
    found = await store.get_many(THINGS, ["thg_1", "thg_missing", "thg_1"])
    assert list(found) == ["thg_1"]
    document = found["thg_1"]
    assert document == stored
    assert document["at"] == when.replace(microsecond=123000)
    assert document["at"].tzinfo is not None
    assert document["nested"] == {"a": [1, 2], "b": {"c": True}}
    assert "gone" not in document
    assert document["version"] == 1


async def test_dates_read_back_wherever_they_sit(store: DocumentStore) -> None:
    # Top-level dates are found by key first; the others by walking the document, and text
    # that merely names "$date" is left as it is.
    when = datetime(2026, 5, 17, 10, 30, 15, 123000, tzinfo=UTC)
    later = when + timedelta(days=1)
    first = {"_id": "thg_1", "at": when, "other": later, "label": '"$date"'}
    second = {
        "_id": "thg_2",
        "at": when,
        "nested": {"deep": [{"when": later}, later]},
        "name": "$date",
    }
    for document in (first, second, first):
        await store.delete_all(THINGS)
        await store.insert(THINGS, document)
        found = (await store.get_many(THINGS, [str(document["_id"])]))[str(document["_id"])]
        assert {key: value for key, value in found.items() if key != "version"} == document


async def test_insert_duplicate_id_and_unique_index(store: DocumentStore) -> None:
    await store.insert(THINGS, _thing(1, slug="a"))
    with pytest.raises(DuplicateKeyError):
        await store.insert(THINGS, _thing(1))
    with pytest.raises(DuplicateKeyError) as raised:
        await store.insert(THINGS, _thing(2, slug="a"))
    assert raised.value.index == "ux_things_slug"
    # Unique indexes skip documents that lack the field.
    await store.insert(THINGS, _thing(3))
    await store.insert(THINGS, _thing(4))
    assert await store.count(THINGS) == 3


async def test_find_filters(store: DocumentStore) -> None:
    start = utc_now()
    for n in range(10):
        await store.insert(
            THINGS,
            _thing(n, tags=["even" if n % 2 == 0 else "odd"], at=start + timedelta(hours=n)),
        )
    by_rank = [("rank", ASCENDING)]

    async def ranks(filter: dict[str, object]) -> list[int]:
        return [d["rank"] for d in await store.find(THINGS, filter, sort=by_rank)]

    assert await ranks({"owner": "own_1"}) == [1, 4, 7]
    assert await ranks({"rank": {"$in": [2, 5, 99]}}) == [2, 5]
    assert await ranks({"rank": {"$nin": [0, 1, 2, 3, 4, 5, 6]}}) == [7, 8, 9]
    assert await ranks({"rank": {"$gte": 3, "$lt": 5}}) == [3, 4]
    assert await ranks({"rank": {"$ne": 0}, "owner": "own_0"}) == [3, 6, 9]
    assert await ranks({"tags": {"$contains": "odd"}, "rank": {"$lte": 5}}) == [1, 3, 5]
    assert await ranks({"$or": [{"rank": 1}, {"owner": "own_2", "rank": {"$gt": 5}}]}) == [1, 8]
    assert await ranks({"at": {"$gt": start + timedelta(hours=7, minutes=30)}}) == [8, 9]
    assert await ranks({"missing": None, "rank": {"$lt": 2}}) == [0, 1]
    assert await ranks({"rank": {"$in": []}}) == []
    assert await store.count(THINGS, {"owner": "own_0"}) == 4


async def test_find_sort_limit_and_keyset_pages(store: DocumentStore) -> None:
    for n in range(12):
        await store.insert(THINGS, _thing(n, group=n // 4))
    sort = [("group", DESCENDING)]
    seen: list[str] = []
    after = None
    for _ in range(MAX_PAGES):  # bounded: a paging bug fails, never hangs
        page = await store.find(THINGS, sort=sort, limit=5, after=after)
        if not page:
            break
        seen += [d["_id"] for d in page]
        after = keyset_of(page[-1], sort)
    else:
        pytest.fail("paging did not reach the end within MAX_PAGES pages")
    # Descending groups, ties broken by _id in the same direction.
    expected_ids = [f"thg_{n:03d}" for n in range(11, -1, -1)]
    assert seen == expected_ids


async def test_keyset_does_not_repeat_or_skip_when_data_changes(store: DocumentStore) -> None:
    for n in range(0, 20, 2):
        await store.insert(THINGS, _thing(n))
    sort = [("rank", ASCENDING)]
    first = await store.find(THINGS, sort=sort, limit=4)
    assert [d["rank"] for d in first] == [0, 2, 4, 6]
    await store.insert(THINGS, _thing(1))  # before the cursor: must not reappear
    await store.insert(THINGS, _thing(7))  # after the cursor: must show up
    rest = await store.find(THINGS, sort=sort, after=keyset_of(first[-1], sort))
    assert [d["rank"] for d in rest] == [7, 8, 10, 12, 14, 16, 18]


async def test_keyset_with_missing_sort_values(store: DocumentStore) -> None:
    for n in range(6):
        await store.insert(THINGS, _thing(n, score=n if n % 2 else None))
    for direction in (ASCENDING, DESCENDING):
        sort = [("score", direction)]
        everything = [d["_id"] for d in await store.find(THINGS, sort=sort)]
        paged: list[str] = []
        after = None
        for _ in range(MAX_PAGES):  # bounded: a paging bug fails, never hangs
            page = await store.find(THINGS, sort=sort, limit=2, after=after)
            if not page:
                break
            paged += [d["_id"] for d in page]
            after = keyset_of(page[-1], sort)
        else:
            pytest.fail("paging did not reach the end within MAX_PAGES pages")
        assert paged == everything
        assert len(set(paged)) == 6


async def _insert_tagged(store: DocumentStore) -> None:
    tags: dict[int, object] = {
        0: ["a", "b", "c"],
        1: ["a"],
        2: [],
        4: ["b", "a", "a"],  # a value held twice still counts once
        5: "a",  # not an array: scores 0
        6: ["c", "d"],
        7: ["a", "b"],
    }
    for n in range(8):
        await store.insert(THINGS, _thing(n, tags=tags.get(n)))


async def test_find_ranks_by_a_computed_score(store: DocumentStore) -> None:
    await _insert_tagged(store)
    score = ("tags", ["a", "b", "a", "z"])
    sort = [(SCORE, DESCENDING), ("rank", ASCENDING)]
    store.stats.reset()
    ranked = await store.find(THINGS, sort=sort, score=score)
    assert store.stats.round_trips == 1
    assert [d["rank"] for d in ranked] == [0, 4, 7, 1, 2, 3, 5, 6]
    assert [keyset_of(d, sort, score)[0] for d in ranked] == [2, 2, 2, 1, 0, 0, 0, 0]
    assert all(SCORE not in d and "_score" not in d for d in ranked)
    matched = await store.find(
        THINGS, {"$score": {"$gte": 1}, "owner": {"$ne": "own_0"}}, sort=sort, score=score
    )
    assert [d["rank"] for d in matched] == [4, 7, 1]
    nothing = await store.find(THINGS, sort=sort, score=("tags", []))
    assert [d["rank"] for d in nothing] == list(range(8))


async def test_keyset_pages_over_a_score_in_both_directions(store: DocumentStore) -> None:
    await _insert_tagged(store)
    score = ("tags", ["b", "a"])
    for direction in (ASCENDING, DESCENDING):
        sort = [(SCORE, direction)]
        everything = [d["_id"] for d in await store.find(THINGS, sort=sort, score=score)]
        paged: list[str] = []
        after = None
        for _ in range(MAX_PAGES):  # bounded: a paging bug fails, never hangs
            page = await store.find(THINGS, sort=sort, limit=3, after=after, score=score)
            if not page:
                break
            paged += [d["_id"] for d in page]
            after = keyset_of(page[-1], sort, score)
        else:
            pytest.fail("paging did not reach the end within MAX_PAGES pages")
        assert paged == everything
        assert len(set(paged)) == 8


async def test_score_bounds_a_window_from_both_ends(store: DocumentStore) -> None:
    await _insert_tagged(store)
    score = ("tags", ["a", "b"])
    sort = [(SCORE, DESCENDING), ("rank", DESCENDING)]
    everything = await store.find(THINGS, sort=sort, score=score)
    ids = [d["_id"] for d in everything]
    start = tuple(keyset_of(everything[1], sort, score))
    end = tuple(keyset_of(everything[6], sort, score))
    between = await find_page(
        store, THINGS, {}, sort, Page(size=10, after=start, before=end), score=score
    )
    assert [d["_id"] for d in between.documents] == ids[2:6]
    backwards = await find_page(
        store, THINGS, {}, sort, Page(size=2, before=end, backwards=True), score=score
    )
    assert [d["_id"] for d in backwards.documents] == ids[4:6]
    assert backwards.has_more


async def test_score_is_refused_where_it_is_not_computed(store: DocumentStore) -> None:
    await _insert_tagged(store)
    with pytest.raises(ValueError):
        await store.find(THINGS, sort=[(SCORE, DESCENDING)])
    with pytest.raises(ValueError):
        await store.find(THINGS, {"$or": [{"$score": 1}]})
    with pytest.raises(ValueError):
        await store.count(THINGS, {"$score": 1})
    with pytest.raises(ValueError):
        keyset_of({"_id": "thg_000"}, [(SCORE, DESCENDING)])
    with pytest.raises(ValueError):
        await store.find_grouped(
            THINGS, "owner", ["own_0"], sort=[(SCORE, DESCENDING)], limit_per_group=1
        )
    with pytest.raises(ValueError):
        await store.find_together(Read(THINGS, {"$score": 1}), Read(NOTES))


async def test_a_negative_limit_is_refused_by_every_read(store: DocumentStore) -> None:
    await store.insert(THINGS, _thing(1))
    with pytest.raises(ValueError, match="limit must not be negative"):
        await store.find(THINGS, limit=-1)
    with pytest.raises(ValueError, match="limit must not be negative"):
        await store.find_together(Read(THINGS), Read(NOTES, limit=-1))
    assert await store.find(THINGS, limit=0) == []


async def test_find_grouped_limits_each_group_in_one_round_trip(store: DocumentStore) -> None:
    for n in range(15):
        await store.insert(THINGS, _thing(n))
    store.stats.reset()
    groups = await store.find_grouped(
        THINGS,
        "owner",
        ["own_0", "own_2", "own_9"],
        {"rank": {"$gt": 0}},
        sort=[("rank", DESCENDING)],
        limit_per_group=2,
    )
    assert store.stats.round_trips == 1
    assert {k: [d["rank"] for d in v] for k, v in groups.items()} == {
        "own_0": [12, 9],
        "own_2": [14, 11],
        "own_9": [],
    }
    after = keyset_of({"rank": 9, "_id": "thg_009"}, [("rank", DESCENDING)])
    continued = await store.find_grouped(
        THINGS, "owner", ["own_0"], sort=[("rank", DESCENDING)], limit_per_group=2, after=after
    )
    assert [d["rank"] for d in continued["own_0"]] == [6, 3]


async def test_find_grouped_reads_only_each_page(store: DocumentStore) -> None:
    for n in range(60):
        await store.insert(THINGS, _thing(n, tag="even" if n % 2 == 0 else "odd"))
    store.stats.reset()
    sort = [("rank", ASCENDING)]
    groups = await store.find_grouped(
        THINGS, "owner", ["own_1", "own_0"], {"tag": "even"}, sort=sort, limit_per_group=3
    )
    # Only the page of each parent is read, not every child ranked and then cut.
    assert store.stats.documents_read == 6
    assert {k: [d["rank"] for d in v] for k, v in groups.items()} == {
        "own_1": [4, 10, 16],
        "own_0": [0, 6, 12],
    }
    after = keyset_of(groups["own_1"][-1], sort)
    continued = await store.find_grouped(
        THINGS, "owner", ["own_1"], {"tag": "even"}, sort=sort, limit_per_group=3, after=after
    )
    assert [d["rank"] for d in continued["own_1"]] == [22, 28, 34]


async def test_find_grouped_inside_a_transaction_sees_its_writes(store: DocumentStore) -> None:
    for n in range(9):
        await store.insert(THINGS, _thing(n))

    async def work() -> dict[object, list[int]]:
        await store.insert(THINGS, _thing(99))
        groups = await store.find_grouped(
            THINGS, "owner", ["own_0", "own_1"], sort=[("rank", DESCENDING)], limit_per_group=2
        )
        return {k: [d["rank"] for d in v] for k, v in groups.items()}

    assert await store.transaction(work) == {"own_0": [99, 6], "own_1": [7, 4]}


async def test_find_grouped_over_many_parents(store: DocumentStore) -> None:
    owners = [f"own_{n}" for n in range(450)]
    for n in range(0, 450, 7):
        await store.insert(THINGS, {"_id": f"thg_{n:04d}", "owner": f"own_{n}", "rank": n})
    groups = await store.find_grouped(
        THINGS, "owner", owners, sort=[("rank", ASCENDING)], limit_per_group=1
    )
    assert len(groups) == 450
    assert sum(len(v) for v in groups.values()) == len(range(0, 450, 7))
    assert [d["rank"] for d in groups["own_441"]] == [441]


async def test_reads_of_a_collection_never_written_answer_nothing(store: DocumentStore) -> None:
    """Every read answers empty, in a transaction too, and the collection still takes its
    first write (on SQLite a read makes no table: that would be a write on a read's path)."""
    never = Collection("never_written", dict)
    await store.insert(THINGS, _thing(1))
    assert await store.get_many(never, ["nvr_1"]) == {}
    assert await store.find(never, {"a": 1}, sort=[("a", ASCENDING)], limit=5) == []
    assert await store.count(never, {"a": {"$in": [1, 2]}}) == 0
    assert await store.count_grouped(never, "a", [1, 2]) == {1: 0, 2: 0}
    assert await store.find_grouped(never, "a", [1, 2], limit_per_group=2) == {1: [], 2: []}
    together = await store.find_together(Read(THINGS, limit=1), Read(never, {"a": 1}))
    assert [thing["_id"] for thing in together[0]] == ["thg_001"] and together[1] == []
    assert await store.transaction(functools.partial(store.find, never)) == []
    await store.insert(never, {"_id": "nvr_1", "a": 1})
    assert [found["_id"] for found in await store.find(never, {"a": 1})] == ["nvr_1"]


async def test_find_together_reads_two_collections_as_find_does(store: DocumentStore) -> None:
    for n in range(12):
        await store.insert(THINGS, _thing(n, tag=["a", "b"][n % 2]))
        await store.insert(
            NOTES, {"_id": f"nte_{n:02d}", "n": n % 4, "kind": "x" if n < 9 else None}
        )
    reads = [
        (Read(THINGS, {"tag": "b"}, [("rank", DESCENDING)], 3), Read(NOTES, {"n": {"$gt": 1}})),
        (Read(NOTES, {"kind": "x"}, [("n", ASCENDING), ("_id", DESCENDING)], 5), Read(THINGS)),
        (Read(THINGS, {"_id": "thg_004"}, limit=1), Read(NOTES, {"n": 9}, limit=2)),
        (Read(THINGS, limit=0), Read(NOTES, {"kind": None}, [("n", DESCENDING)])),
    ]
    for first, second in reads:
        expected = (
            await store.find(first.collection, first.filter, sort=first.sort, limit=first.limit),
            await store.find(
                second.collection, second.filter, sort=second.sort, limit=second.limit
            ),
        )
        assert expected[0] or expected[1]
        store.stats.reset()
        assert await store.find_together(first, second) == expected
        assert store.stats.round_trips == 1
        together = functools.partial(store.find_together, first, second)
        assert await store.transaction(together) == expected


async def test_find_together_inside_a_transaction_sees_its_writes(store: DocumentStore) -> None:
    await store.insert(THINGS, _thing(1))

    async def work() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        await store.insert(NOTES, {"_id": "nte_1", "n": 1})
        await store.update(THINGS, "thg_001", expected_version=1, changes={"rank": 5})
        return await store.find_together(Read(THINGS, {"rank": 5}), Read(NOTES, {"n": 1}))

    things, notes = await store.transaction(work)
    assert [(d["_id"], d["version"]) for d in things] == [("thg_001", 2)]
    assert [d["_id"] for d in notes] == ["nte_1"]


async def test_find_together_through_a_text_index(store: DocumentStore) -> None:
    await store.ensure_indexes([IndexSpec("notes", ("words", "title"), text=True)])
    for n in range(4):
        await store.insert(NOTES, {"_id": f"nte_{n}", "words": ["live", f"w{n}"], "title": []})
        await store.insert(THINGS, _thing(n))
    notes, things = await store.find_together(
        Read(NOTES, {"words": {"$contains": "live"}}, [("_id", DESCENDING)], 3),
        Read(THINGS, {"owner": "own_1"}),
    )
    assert [d["_id"] for d in notes] == ["nte_3", "nte_2", "nte_1"]
    assert [d["_id"] for d in things] == ["thg_001"]
    with pytest.raises(ValueError):
        await store.find_together(Read(NOTES, limit=-1), Read(THINGS))


async def test_count_grouped_counts_each_group_in_one_round_trip(store: DocumentStore) -> None:
    for n in range(15):
        await store.insert(THINGS, _thing(n))
    store.stats.reset()
    counts = await store.count_grouped(
        THINGS, "owner", ["own_0", "own_2", "own_9", "own_0"], {"rank": {"$gt": 0}}
    )
    assert counts == {"own_0": 4, "own_2": 5, "own_9": 0}
    assert store.stats.round_trips == 1
    assert store.stats.documents_read == 0
    assert await store.count_grouped(THINGS, "owner", []) == {}
    assert store.stats.round_trips == 1


async def test_insert_many_stores_every_document_in_one_round_trip(store: DocumentStore) -> None:
    store.stats.reset()
    stored = await store.insert_many(THINGS, [_thing(1, gone=None), _thing(2), _thing(3)])
    assert store.stats.round_trips == 1
    assert [document["_id"] for document in stored] == ["thg_001", "thg_002", "thg_003"]
    assert all(document["version"] == 1 and "gone" not in document for document in stored)
    found = await store.get_many(THINGS, ["thg_001", "thg_002", "thg_003"])
    assert [found[document["_id"]] for document in stored] == stored
    assert await store.insert_many(THINGS, []) == []


@pytest.mark.parametrize("inside", [False, True], ids=["alone", "in-transaction"])
async def test_insert_many_is_all_or_nothing(store: DocumentStore, inside: bool) -> None:
    await store.insert(THINGS, _thing(9, slug="taken"))
    batches = {
        "_id_": [_thing(1), _thing(2), _thing(1)],  # the same id twice in the batch
        "ux_things_slug": [_thing(3, slug="new"), _thing(4, slug="new")],  # unique index
        "stored": [_thing(5), _thing(6, slug="taken")],  # against a stored document
    }
    for name, batch in batches.items():

        async def write(batch: list[dict[str, object]] = batch) -> None:
            await store.insert_many(THINGS, batch)

        with pytest.raises(DuplicateKeyError) as refused:
            await (store.transaction(write) if inside else write())
        assert refused.value.collection == "things"
        if name != "stored":
            assert refused.value.index == name
        assert await store.count(THINGS) == 1, name


async def test_replace_many_writes_what_a_transaction_read_in_one_round_trip(
    store: DocumentStore,
) -> None:
    await store.insert_many(THINGS, [_thing(1), _thing(2), _thing(3)])

    async def work() -> list[dict[str, object]]:
        read = await store.get_many(THINGS, ["thg_001", "thg_002"])
        store.stats.reset()
        changed = [{**read[i], "rank": 40 + n} for n, i in enumerate(("thg_001", "thg_002"))]
        replaced = await store.replace_many(THINGS, changed)
        assert store.stats.round_trips == 1
        return replaced

    replaced = await store.transaction(work)
    assert [(d["_id"], d["version"], d["rank"]) for d in replaced] == [
        ("thg_001", 2, 40),
        ("thg_002", 2, 41),
    ]
    found = await store.get_many(THINGS, ["thg_001", "thg_002", "thg_003"])
    assert [found["thg_001"], found["thg_002"]] == replaced
    assert found["thg_003"]["version"] == 1
    assert await store.replace_many(THINGS, []) == []


async def test_replace_many_is_all_or_nothing_when_one_changed_or_is_gone(
    store: DocumentStore,
) -> None:
    await store.insert_many(THINGS, [_thing(1), _thing(2)])
    read = await store.get_many(THINGS, ["thg_001", "thg_002"])
    await store.update(THINGS, "thg_002", expected_version=1, changes={"rank": 7})
    stale = [{**read["thg_001"], "rank": 50}, {**read["thg_002"], "rank": 51}]
    gone = [{**read["thg_001"], "rank": 50}, {**_thing(9), "version": 1}]
    for batch in (stale, gone):
        with pytest.raises(VersionConflictError):
            await store.replace_many(THINGS, batch)
        found = await store.get_many(THINGS, ["thg_001", "thg_002"])
        assert (found["thg_001"]["version"], found["thg_001"]["rank"]) == (1, 1)
        assert found["thg_002"]["rank"] == 7


async def test_increment_adds_and_moves_the_version_in_one_round_trip(
    store: DocumentStore,
) -> None:
    await store.insert(THINGS, _thing(1, counts={"a": 2}))
    store.stats.reset()
    moved = await store.increment(THINGS, "thg_001", {"rank": 5, "counts.a": 1, "counts.b": 3})
    assert store.stats.round_trips == 1
    assert moved is not None
    assert (moved["version"], moved["rank"], moved["counts"]) == (2, 6, {"a": 3, "b": 3})
    assert (await store.get_many(THINGS, ["thg_001"]))["thg_001"] == moved
    touched = await store.increment(THINGS, "thg_001", {})
    assert touched is not None and touched["version"] == 3 and touched["rank"] == 6
    assert await store.increment(THINGS, "thg_404", {"rank": 1}) is None
    with pytest.raises(ValueError):
        await store.increment(THINGS, "thg_001", {"version": 1})
    with pytest.raises(VersionConflictError):
        await store.update(THINGS, "thg_001", expected_version=2, changes={"rank": 0})


async def test_increment_inside_a_transaction_rolls_back(store: DocumentStore) -> None:
    await store.insert(THINGS, _thing(1))

    async def work() -> None:
        read = (await store.get_many(THINGS, ["thg_001"]))["thg_001"]
        moved = await store.increment(THINGS, "thg_001", {"rank": 10})
        assert moved is not None and moved["rank"] == read["rank"] + 10
        # Later reads of the same transaction see the increment.
        assert (await store.get_many(THINGS, ["thg_001"]))["thg_001"] == moved
        raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        await store.transaction(work)
    assert (await store.get_many(THINGS, ["thg_001"]))["thg_001"] == {**_thing(1), "version": 1}


async def test_increment_many_adds_or_creates_without_reading_in_one_round_trip(
    store: DocumentStore,
) -> None:
    await store.insert(THINGS, _thing(1, counts={"a": {"q1": 2}}))

    async def work() -> set[str]:
        store.stats.reset()
        created = await store.increment_many(
            THINGS,
            {
                "thg_001": {"counts.a.q1": 1, "counts.a.q7": 4, "rank": 2},
                "thg_002": {"counts.a.q1": 5},
                "thg_003": {"counts.b.q3": -1, "counts.a.q1": 1},
            },
            on_insert={"thg_002": {"owner": "own_new", "at": None}},
        )
        assert store.stats.round_trips == 1
        return created

    assert await store.transaction(work) == {"thg_002", "thg_003"}
    found = await store.get_many(THINGS, ["thg_001", "thg_002", "thg_003"])
    assert found["thg_001"] == {
        **_thing(1),
        "version": 2,
        "rank": 3,
        "counts": {"a": {"q1": 3, "q7": 4}},
    }
    assert found["thg_002"] == {
        "_id": "thg_002",
        "version": 1,
        "owner": "own_new",
        "counts": {"a": {"q1": 5}},
    }
    assert found["thg_003"] == {
        "_id": "thg_003",
        "version": 1,
        "counts": {"b": {"q3": -1}, "a": {"q1": 1}},
    }
    again = await store.increment_many(THINGS, {"thg_002": {"counts.a.q1": 1}, "thg_003": {}})
    assert again == set()
    found = await store.get_many(THINGS, ["thg_002", "thg_003"])
    assert (found["thg_002"]["version"], found["thg_002"]["counts"]) == (2, {"a": {"q1": 6}})
    assert found["thg_003"]["version"] == 2
    assert await store.increment_many(THINGS, {}) == set()


async def test_increment_many_creates_documents_with_fields_of_every_kind(
    store: DocumentStore,
) -> None:
    """A created document holds its ``on_insert`` fields as an insert would store them, plain
    strings and numbers (which SQLite binds into the document) and the others (dates, booleans,
    lists, text that needs escaping) alike."""
    at = datetime(2026, 12, 7, 13, 0, 0, 123456, tzinfo=UTC)
    text = 'a "quote", a back\\slash, ünïcode and a\nnew line'
    shared = {"counts.a.q1": 1, "counts.b.q2": 2}  # one mapping for two documents
    created = await store.increment_many(
        THINGS,
        {
            "thg_001": shared,
            "thg_002": {"counts.a.q1": 2, "rank": 1},
            "thg_003": {"n": 3},
            "thg_004": shared,
        },
        on_insert={
            "thg_001": {"owner": "own_1", "base": 0, "share": 0.5, "note": text},
            "thg_002": {"owner": "own_2", "at": at, "open": True, "tags": ["x", "y"]},
            "thg_004": {"owner": "own_4"},
        },
    )
    assert created == {"thg_001", "thg_002", "thg_003", "thg_004"}
    found = await store.get_many(THINGS, ["thg_001", "thg_002", "thg_003", "thg_004"])
    assert found["thg_004"] == {
        "_id": "thg_004",
        "version": 1,
        "owner": "own_4",
        "counts": {"a": {"q1": 1}, "b": {"q2": 2}},
    }
    assert found["thg_001"] == {
        "_id": "thg_001",
        "version": 1,
        "owner": "own_1",
        "base": 0,
        "share": 0.5,
        "note": text,
        "counts": {"a": {"q1": 1}, "b": {"q2": 2}},
    }
    assert found["thg_002"] == {
        "_id": "thg_002",
        "version": 1,
        "owner": "own_2",
        "at": at.replace(microsecond=123000),
        "open": True,
        "tags": ["x", "y"],
        "counts": {"a": {"q1": 2}},
        "rank": 1,
    }
    assert found["thg_003"] == {"_id": "thg_003", "version": 1, "n": 3}
    assert await store.count(THINGS, {"owner": "own_1", "share": 0.5, "base": 0}) == 1


async def test_increment_many_refuses_what_it_cannot_do_alike(store: DocumentStore) -> None:
    refused: list[tuple[dict[str, dict[str, int]], dict[str, dict[str, object]]]] = [
        ({"thg_1": {"version": 1}}, {}),
        ({"thg_1": {"bad path": 1}}, {}),
        ({"thg_1": {"counts.a": 1}}, {"thg_1": {"counts": {}}}),
        ({"thg_1": {"rank": 1}}, {"thg_1": {"version": 3}}),
        ({"thg_1": {"rank": 1}}, {"thg_2": {"owner": "x"}}),
    ]
    for amounts, on_insert in refused:
        with pytest.raises(ValueError):
            await store.increment_many(THINGS, amounts, on_insert=on_insert)
    assert await store.count(THINGS) == 0


async def test_increment_many_in_a_transaction_is_seen_and_rolls_back(
    store: DocumentStore,
) -> None:
    await store.insert(THINGS, _thing(1, counts={"a": 1}))

    async def work() -> None:
        read = (await store.get_many(THINGS, ["thg_001"]))["thg_001"]
        await store.increment_many(THINGS, {"thg_001": {"counts.a": 2}, "thg_002": {"rank": 9}})
        # Later reads of the same transaction see the increments (nothing stale is kept).
        seen = await store.get_many(THINGS, ["thg_001", "thg_002"])
        assert seen["thg_001"]["counts"] == {"a": read["counts"]["a"] + 2}
        assert (seen["thg_002"]["rank"], seen["thg_002"]["version"]) == (9, 1)
        raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        await store.transaction(work)
    found = await store.get_many(THINGS, ["thg_001", "thg_002"])
    assert found == {"thg_001": {**_thing(1, counts={"a": 1}), "version": 1}}


async def test_concurrent_increment_many_counts_every_amount(store: DocumentStore) -> None:
    """Racing writers, each in its own transaction, creating and moving the same documents:
    every amount is counted once, whoever created each document."""
    racers, rounds = 8, 5

    async def racer(n: int) -> None:
        for _ in range(rounds):

            async def work() -> None:
                await store.increment_many(
                    THINGS,
                    {"thg_001": {"counts.a.q1": 1}, f"thg_1{n}": {"rank": 1}, "thg_002": {}},
                    on_insert={"thg_001": {"owner": "shared"}},
                )

            await store.transaction(work)

    await asyncio.gather(*(racer(n) for n in range(racers)))
    found = await store.get_many(THINGS, ["thg_001", "thg_002"])
    assert found["thg_001"]["counts"] == {"a": {"q1": racers * rounds}}
    assert found["thg_001"]["owner"] == "shared"
    assert found["thg_001"]["version"] == found["thg_002"]["version"] == racers * rounds
    own = await store.get_many(THINGS, [f"thg_1{n}" for n in range(racers)])
    assert sorted(d["rank"] for d in own.values()) == [rounds] * racers


async def test_update_is_guarded_by_version(store: DocumentStore) -> None:
    await store.insert(THINGS, _thing(1, nested={"keep": 1}, drop="me"))
    updated = await store.update(
        THINGS,
        "thg_001",
        expected_version=1,
        changes={"rank": 50, "nested.added": "x", "drop": None},
    )
    assert updated["version"] == 2
    assert updated["rank"] == 50
    assert updated["nested"] == {"keep": 1, "added": "x"}
    assert "drop" not in updated
    assert (await store.get_many(THINGS, ["thg_001"]))["thg_001"] == updated
    with pytest.raises(VersionConflictError):
        await store.update(THINGS, "thg_001", expected_version=1, changes={"rank": 0})
    with pytest.raises(VersionConflictError):
        await store.update(THINGS, "thg_404", expected_version=1, changes={"rank": 0})
    assert (await store.get_many(THINGS, ["thg_001"]))["thg_001"]["rank"] == 50


async def test_delete_is_guarded_by_version_and_rolls_back(store: DocumentStore) -> None:
    await store.insert(THINGS, _thing(1))
    await store.insert(THINGS, _thing(2))
    with pytest.raises(VersionConflictError):
        await store.delete(THINGS, "thg_001", expected_version=2)
    with pytest.raises(VersionConflictError):
        await store.delete(THINGS, "thg_404", expected_version=1)

    async def work() -> None:
        await store.delete(THINGS, "thg_002", expected_version=1)
        raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        await store.transaction(work)
    assert set(await store.get_many(THINGS, ["thg_001", "thg_002"])) == {"thg_001", "thg_002"}
    await store.delete(THINGS, "thg_001", expected_version=1)
    assert set(await store.get_many(THINGS, ["thg_001", "thg_002"])) == {"thg_002"}


async def test_update_rejects_unique_violation(store: DocumentStore) -> None:
    await store.insert(THINGS, _thing(1, slug="one"))
    await store.insert(THINGS, _thing(2, slug="two"))
    with pytest.raises(DuplicateKeyError):
        await store.update(THINGS, "thg_002", expected_version=1, changes={"slug": "one"})
    assert (await store.get_many(THINGS, ["thg_002"]))["thg_002"]["slug"] == "two"


async def test_transaction_commits_all(store: DocumentStore) -> None:
    async def work() -> int:
        await store.insert(THINGS, _thing(1))
        await store.insert(THINGS, _thing(2))
        # Reads inside the transaction see its own writes.
        return await store.count(THINGS)

    assert await store.transaction(work) == 2
    assert await store.count(THINGS) == 2


async def test_transaction_rolls_back_everything_on_error(store: DocumentStore) -> None:
    await store.insert(THINGS, _thing(1, slug="taken"))

    async def work() -> None:
        await store.insert(THINGS, _thing(2))
        await store.update(THINGS, "thg_001", expected_version=1, changes={"rank": 99})
        await store.insert(THINGS, _thing(3, slug="taken"))

    with pytest.raises(DuplicateKeyError):
        await store.transaction(work)
    assert await store.count(THINGS) == 1
    assert (await store.get_many(THINGS, ["thg_001"]))["thg_001"]["rank"] == 1


async def test_nested_transaction_joins_outer(store: DocumentStore) -> None:
    async def inner() -> None:
        await store.insert(THINGS, _thing(2))

    async def outer() -> None:
        await store.insert(THINGS, _thing(1))
        await store.transaction(inner)
        raise RuntimeError("abort")

    with pytest.raises(RuntimeError):
        await store.transaction(outer)
    assert await store.count(THINGS) == 0


async def test_concurrent_version_guarded_updates_one_wins(store: DocumentStore) -> None:
    await store.insert(THINGS, _thing(1))

    async def claim(owner: str) -> str:
        async def work() -> str:
            current = (await store.get_many(THINGS, ["thg_001"]))["thg_001"]
            await asyncio.sleep(0)
            await store.update(
                THINGS, "thg_001", expected_version=current["version"], changes={"owner": owner}
            )
            return owner

        return await store.transaction(work)

    results = await asyncio.gather(*(claim(f"racer_{i}") for i in range(5)), return_exceptions=True)
    winners = [r for r in results if isinstance(r, str)]
    final = (await store.get_many(THINGS, ["thg_001"]))["thg_001"]
    assert final["owner"] in winners
    assert final["version"] == 1 + len(winners)
    assert all(isinstance(r, str | VersionConflictError) for r in results)


async def test_delete_all_and_ping(store: DocumentStore) -> None:
    await store.insert(THINGS, _thing(1))
    await store.delete_all(THINGS)
    assert await store.count(THINGS) == 0
    await store.ping()


async def test_limit_zero_reads_nothing(store: DocumentStore) -> None:
    for n in range(3):
        await store.insert(THINGS, _thing(n))
    store.stats.reset()
    assert await store.find(THINGS, {}, limit=0) == []
    assert await store.find(THINGS, {}, limit=0, score=("tags", ["a"])) == []
    assert store.stats.round_trips == 0
    with pytest.raises(ValueError):
        await store.find(THINGS, {}, limit=-1)


async def test_nin_and_ne_match_a_missing_field(store: DocumentStore) -> None:
    await store.insert(THINGS, _thing(1, color="red"))
    await store.insert(THINGS, _thing(2, color="blue"))
    await store.insert(THINGS, _thing(3))

    async def ids(filter: dict[str, object]) -> list[str]:
        return [d["_id"] for d in await store.find(THINGS, filter, sort=[("_id", ASCENDING)])]

    assert await ids({"color": {"$nin": ["red"]}}) == ["thg_002", "thg_003"]
    assert await ids({"color": {"$nin": ["red", None]}}) == ["thg_002"]
    assert await ids({"color": {"$nin": []}}) == ["thg_001", "thg_002", "thg_003"]
    assert await ids({"color": {"$ne": "red"}}) == ["thg_002", "thg_003"]
    assert await ids({"color": {"$in": ["red", None]}}) == ["thg_001", "thg_003"]


async def test_contains_matches_arrays_only(store: DocumentStore) -> None:
    await store.insert(THINGS, _thing(1, tags=["a", "b"]))
    await store.insert(THINGS, _thing(2, tags="a"))
    await store.insert(THINGS, _thing(3, tags={"x": "a"}))
    await store.insert(THINGS, _thing(4))
    found = await store.find(THINGS, {"tags": {"$contains": "a"}})
    assert [d["_id"] for d in found] == ["thg_001"]
    assert await store.count(THINGS, {"tags": {"$contains": "a"}}) == 1


async def test_duplicate_key_names_the_index_at_fault(store: DocumentStore) -> None:
    await store.insert(THINGS, _thing(1, code="c1", slug="s1"))
    with pytest.raises(DuplicateKeyError) as by_id:
        await store.insert(THINGS, _thing(1, code="c9"))
    assert (by_id.value.collection, by_id.value.index) == ("things", "_id_")
    with pytest.raises(DuplicateKeyError) as compound:
        await store.insert(THINGS, _thing(4, code="c1"))  # owner own_1, like thg_001
    assert compound.value.index == "ux_things_owner_code"
    await store.insert(THINGS, _thing(2, code="c2"))
    with pytest.raises(DuplicateKeyError) as on_update:
        await store.update(THINGS, "thg_002", expected_version=1, changes={"slug": "s1"})
    assert (on_update.value.collection, on_update.value.index) == ("things", "ux_things_slug")


async def test_transactions_that_write_what_they_checked_never_both_commit(
    store: DocumentStore,
) -> None:
    """The rule of ``datastore.store``: a check holds when the checking transaction writes the
    document it checked. Two transactions each read a shared guard, wait for the other, then
    write it and a document of their own: under snapshot isolation one of them must be run
    again, and then it sees the other's write."""

    async def read_then_write_back() -> Callable[[], Awaitable[object]]:
        guard = (await store.get_many(THINGS, ["guard"]))["guard"]
        return lambda: store.update(THINGS, "guard", expected_version=guard["version"], changes={})

    await _one_claim_a_round(store, read_then_write_back)


async def _nothing() -> None:
    pass


async def _one_claim_a_round(
    store: DocumentStore, check: Callable[[], Awaitable[Callable[[], Awaitable[object]]]]
) -> None:
    """Ten rounds of two racing transactions: each runs ``check`` on a shared guard (which
    returns what to write before claiming), counts the round's claims, waits for the other,
    and claims the round if nobody has; exactly one claims each round."""
    await store.insert(THINGS, {"_id": "guard", "claimed": 0})
    for round_number in range(10):
        barrier = asyncio.Barrier(2)

        async def claim(
            name: str, n: int = round_number, barrier: asyncio.Barrier = barrier
        ) -> bool:
            async def work() -> bool:
                write_back = await check()
                taken = await store.count(THINGS, {"round": n})
                # SQLite's writer lock keeps the other out until this one commits; MongoDB
                # lets both reach this point on the same snapshot.
                with contextlib.suppress(asyncio.BrokenBarrierError, TimeoutError):
                    await asyncio.wait_for(barrier.wait(), 0.05)
                if taken:
                    return False
                await write_back()
                await store.insert(THINGS, {"_id": f"{name}_{n}", "round": n})
                return True

            return await store.transaction(work)

        results = await asyncio.gather(claim("left"), claim("right"))
        assert sorted(results) == [False, True]
        assert await store.count(THINGS, {"round": round_number}) == 1


async def test_ping_writes_and_reads(store: DocumentStore) -> None:
    store.stats.reset()
    await store.ping()
    await store.ping()
    assert store.stats.round_trips >= 2


async def test_text_index_follows_every_write_of_the_words(store: DocumentStore) -> None:
    await store.ensure_indexes([IndexSpec("notes", ("words", "title"), text=True)])
    await store.insert(NOTES, {"_id": "nte_1", "words": ["live", "shop"], "title": ["old"]})
    await store.insert(NOTES, {"_id": "nte_2", "words": ["live"], "title": []})

    async def holding(word: str, field: str = "words") -> list[str]:
        return [d["_id"] for d in await store.find(NOTES, {field: {"$contains": word}})]

    await store.update(NOTES, "nte_1", expected_version=1, changes={"n": 1})  # words kept
    assert (await holding("shop"), await holding("old", "title")) == (["nte_1"], ["nte_1"])
    await store.update(NOTES, "nte_1", expected_version=2, changes={"words": ["coach"]})
    assert (await holding("shop"), await holding("coach"), await holding("live")) == (
        [],
        ["nte_1"],
        ["nte_2"],
    )
    await store.increment(NOTES, "nte_1", {"n": 1})
    await store.update(NOTES, "nte_1", expected_version=4, changes={"title": ["new"]})
    assert (await holding("old", "title"), await holding("new", "title")) == ([], ["nte_1"])
    (current,) = (await store.get_many(NOTES, ["nte_1"])).values()
    await store.replace_many(NOTES, [{**current, "words": ["live", "video"]}])
    assert (await holding("live"), await holding("coach")) == (["nte_1", "nte_2"], [])


async def test_text_index_answers_word_matches_and_scores(store: DocumentStore) -> None:
    await store.ensure_indexes([IndexSpec("notes", ("words", "title"), text=True)])
    texts = {
        1: (["live", "shop", "coaching"], ["live", "shop"]),
        2: (["live", "deliver"], ["deliver"]),
        3: (["shop", "café"], ["café"]),
        4: (["live", "shop"], ["other"]),
        5: (["livestream"], ["livestream"]),
    }
    for n, (words, title) in texts.items():
        await store.insert(NOTES, {"_id": f"nte_{n}", "n": n, "words": words, "title": title})

    async def ids(*wanted: str, after: list[object] | None = None) -> list[int]:
        filter = {"$and": [{"words": {"$contains": word}} for word in wanted]}
        sort = [(SCORE, DESCENDING), ("n", DESCENDING)]
        found = await store.find(
            NOTES, filter, sort=sort, score=("title", list(wanted)), after=after, limit=2
        )
        return [d["n"] for d in found]

    assert await ids("live") == [1, 4]
    assert await ids("live", after=[0, 4, "nte_4"]) == [2]
    assert await ids("live", "shop") == [1, 4]
    assert await ids("café") == [3]
    assert await ids("cafe") == []
    assert await ids("deliv") == []
    found = await store.find(NOTES, {"words": {"$contains": "shop"}, "n": {"$gt": 1}})
    assert sorted(d["n"] for d in found) == [3, 4]
    # Writes keep the index in step.
    note = (await store.get_many(NOTES, ["nte_5"]))["nte_5"]
    await store.update(
        NOTES, "nte_5", expected_version=note["version"], changes={"words": ["live"]}
    )
    assert await ids("live", after=[0, 2, "nte_2"]) == []
    assert sorted(d["n"] for d in await store.find(NOTES, {"words": {"$contains": "live"}})) == [
        1,
        2,
        4,
        5,
    ]
    await store.delete_all(NOTES)
    assert await store.find(NOTES, {"words": {"$contains": "live"}}) == []


async def test_delete_many_removes_only_the_matching_documents(store: DocumentStore) -> None:
    for number in range(1, 6):
        await store.insert(THINGS, _thing(number))
    assert await store.delete_many(THINGS, {"_id": {"$in": ["thg_001", "thg_002"]}}) == 2
    assert sorted((await store.get_many(THINGS, ["thg_001", "thg_003"])).keys()) == ["thg_003"]
    assert await store.count(THINGS) == 3

    async def rolled_back() -> None:
        await store.delete_many(THINGS, {})
        raise RuntimeError("undo")

    with pytest.raises(RuntimeError):
        await store.transaction(rolled_back)
    assert await store.count(THINGS) == 3


async def test_transactions_that_hold_what_they_checked_never_both_commit(
    store: DocumentStore,
) -> None:
    """``hold`` keeps the rule however the adapter keeps it (MongoDB writes the held document;
    SQLite, whose writing transactions never overlap, reads it): two transactions each hold a
    shared guard, wait for the other, then add a document of their own if the round has
    none; exactly one of them adds it, and a missing document is held as ``None``."""

    async def hold() -> Callable[[], Awaitable[object]]:
        guard = await store.hold(THINGS, "guard")
        assert guard is not None and guard["claimed"] == 0
        assert await store.hold(THINGS, "thg_404") is None
        return _nothing  # the hold is enough

    await _one_claim_a_round(store, hold)


async def test_a_dropped_index_is_gone_and_dropping_again_or_a_missing_one_is_no_error(
    store: DocumentStore,
) -> None:
    slugs = IndexSpec("things", ("slug",), unique=True)
    await store.insert(THINGS, _thing(1, slug="one"))
    with pytest.raises(DuplicateKeyError):
        await store.insert(THINGS, _thing(2, slug="one"))
    await store.drop_indexes([slugs, IndexSpec("things", ("never",)), IndexSpec("nothing", ("a",))])
    await store.insert(THINGS, _thing(2, slug="one"))  # the constraint went with its index
    await store.drop_indexes([slugs])
    assert [d["_id"] for d in await store.find(THINGS, {"slug": "one"})] == ["thg_001", "thg_002"]
