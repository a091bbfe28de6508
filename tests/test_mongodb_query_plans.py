"""Every sort the MongoDB adapter issues is served by an index: the ``explain`` of each read it
sends while the API answers the representative reads of ``tests/test_query_plans.py`` (and the
event log's own reads) has no in-memory SORT and no COLLSCAN in its winning plan.

Exceptions, each bounded by what it sorts, never by the collection:

- a store search (``$text``, or a computed score) ranks its matches, as on SQLite;
- a SORT over point lookups of a unique index sorts what the keys found (one document each);
- the ``$sort`` that merges a grouped read's pages after ``$unionWith`` sorts at most
  ``limit_per_group`` documents per group;
- counting a whole collection reads it (``count`` with no filter).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from datastore import collections as c
from datastore.ids import new_id
from datastore.mongodb import MongoStore
from datastore.store import ASCENDING, DocumentStore
from resolvers import events
from tests.conftest import (
    GraphQLClient,
    Make,
)
from tests.stores import READ_COMMANDS, mongodb_only
from tests.test_query_plans import answer_representative_reads


@mongodb_only
async def test_every_sort_the_adapter_issues_is_served_by_an_index(
    store: DocumentStore, gql: GraphQLClient, make: Make
) -> None:
    assert isinstance(store, MongoStore)
    with READ_COMMANDS.recording() as reads:
        await answer_representative_reads(store, gql, make)
        await events.last_position(store)
        # What the event hub and a feed's replay read.
        await store.find(
            c.EVENTS, {"position": {"$gt": 0}}, sort=[("position", ASCENDING)], limit=100
        )
        await store.find(
            c.EVENTS,
            {"partnerId": "ptn_x", "position": {"$gt": 0, "$lte": 10}},
            sort=[("position", ASCENDING)],
            limit=100,
        )
    assert any(read.get("find") == "authorizations" for read in reads)
    assert any(read.get("aggregate") for read in reads)  # grouped reads and counts
    problems: list[str] = []
    for read in _distinct(reads):
        if _is_search(read):
            continue
        for problem in plan_problems(await _explain(store, read)):
            if problem.startswith("reads every document") and _counts_everything(read):
                continue
            problems.append(f"{problem}\n    in {read}")
    assert not problems, "\n".join(problems)


@mongodb_only
async def test_the_newest_event_is_read_from_an_index(store: DocumentStore) -> None:
    """``last_position`` (the event hub's start, inside the create-webhook transaction) walks
    an index from its end: the unique index on ``position`` is partial, which MongoDB does not
    use for an unfiltered sort, so a plain one serves it."""
    assert isinstance(store, MongoStore)
    await events.ensure_sequence(store)
    subject = {"_id": new_id("aut"), "partnerId": "ptn_a", "sellerId": "slr_a"}
    for _ in range(5):
        await events.append(store, events.EventType.AUTHORIZATION_RENEWED, subject, {})
    with READ_COMMANDS.recording() as reads:
        assert await events.last_position(store) == 5
    (read,) = [r for r in reads if r.get("find") == "events" and r.get("limit") == 1]
    explained = await _explain(store, read)
    assert plan_problems(explained) == []
    assert "ix_events_position__id" in _index_names(explained)


def plan_problems(explained: Mapping[str, Any]) -> list[str]:
    """What in an ``explain`` answer reads a whole collection or sorts in memory."""
    problems: list[str] = []
    for plan in _winning_plans(explained):
        for stage in _stages(plan):
            name = str(stage.get("stage", ""))
            if name == "COLLSCAN":
                problems.append(f"reads every document: {_summary(stage)}")
            if name.startswith("SORT") and not _sorts_found_keys(stage):
                problems.append(f"sorts in memory: {_summary(stage)}")
    for stages in _pipelines(explained):
        merged = False
        for stage in stages:
            merged = merged or "$unionWith" in stage
            if "$sort" in stage and not merged:
                problems.append(f"sorts in the pipeline: {stage['$sort']}")
    return problems


async def _explain(store: MongoStore, read: Mapping[str, Any]) -> dict[str, Any]:
    command = {key: value for key, value in read.items() if key != "database"}
    database = store._require_client()[read["database"]]
    explained: dict[str, Any] = await database.command(
        {"explain": command, "verbosity": "queryPlanner"}
    )
    return explained


def _distinct(reads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for read in reads:
        seen.setdefault(repr(read), read)
    return list(seen.values())


def _mentions(value: Any, *names: str) -> bool:
    if isinstance(value, Mapping):
        return any(k in names or _mentions(v, *names) for k, v in value.items())
    if isinstance(value, list):
        return any(_mentions(item, *names) for item in value)
    return False


def _is_search(read: Mapping[str, Any]) -> bool:
    return _mentions(read, "$text", "_score")


def _counts_everything(read: Mapping[str, Any]) -> bool:
    pipeline = read.get("pipeline") or []
    return (
        bool(pipeline)
        and all("$match" in s or "$group" in s for s in pipeline)
        and all(s["$match"] in ({}, {"$and": [{}]}) for s in pipeline if "$match" in s)
    )


def _walk(node: Any) -> list[Mapping[str, Any]]:
    """Every mapping inside ``node``, skipping rejected plans and the engine's own plan."""
    found: list[Mapping[str, Any]] = []
    if isinstance(node, Mapping):
        found.append(node)
        for key, value in node.items():
            if key not in ("rejectedPlans", "slotBasedPlan"):
                found += _walk(value)
    elif isinstance(node, list):
        for item in node:
            found += _walk(item)
    return found


def _winning_plans(explained: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [
        node["winningPlan"]
        for node in _walk(explained)
        if isinstance(node.get("winningPlan"), Mapping)
    ]


def _stages(plan: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [node for node in _walk(plan) if "stage" in node]


def _pipelines(explained: Mapping[str, Any]) -> list[list[Mapping[str, Any]]]:
    """The aggregation stages MongoDB did not push into a query plan, per pipeline."""
    return [
        [stage for stage in node["stages"] if isinstance(stage, Mapping)]
        for node in _walk(explained)
        if isinstance(node.get("stages"), list)
    ]


def _index_names(explained: Mapping[str, Any]) -> set[str]:
    return {
        str(stage["indexName"])
        for plan in _winning_plans(explained)
        for stage in _stages(plan)
        if "indexName" in stage
    }


def _sorts_found_keys(sort: Mapping[str, Any]) -> bool:
    """Whether a SORT stage only sorts what point lookups of unique indexes found."""
    scans = [stage for stage in _stages(sort) if stage.get("stage") == "IXSCAN"]
    return bool(scans) and all(
        scan.get("isUnique") is True
        and all(
            _is_point(bound)
            for bounds in (scan.get("indexBounds") or {}).values()
            for bound in bounds
        )
        for scan in scans
    )


def _is_point(bound: str) -> bool:
    """``'["a", "a"]'``: an interval holding one key."""
    half = (len(bound) - 4) // 2
    return (
        half >= 0
        and bound.startswith("[")
        and bound.endswith("]")
        and bound[1 + half : 3 + half] == ", "
        and bound[1 : 1 + half] == bound[3 + half : -1]
    )


def _summary(stage: Mapping[str, Any]) -> str:
    keys = ("stage", "indexName", "sortPattern", "filter")
    return str({key: stage[key] for key in keys if key in stage})


def test_the_plan_reader_finds_sorts_and_scans() -> None:
    """The checks above, on explain answers shaped as MongoDB 7 documents them (so they are
    tried on every machine, not only where a server runs)."""
    unique_point = {
        "stage": "SORT",
        "sortPattern": {"_id": 1},
        "inputStage": {
            "stage": "FETCH",
            "inputStage": {
                "stage": "IXSCAN",
                "indexName": "ux_service_offers_linkToken",
                "isUnique": True,
                "indexBounds": {"linkToken": ['["tok", "tok"]']},
            },
        },
    }
    range_sort = {
        "stage": "SORT",
        "sortPattern": {"position": -1, "_id": -1},
        "inputStage": {"stage": "COLLSCAN"},
    }
    classic = {"queryPlanner": {"winningPlan": unique_point, "rejectedPlans": [range_sort]}}
    assert plan_problems(classic) == []
    sbe = {"queryPlanner": {"winningPlan": {"queryPlan": range_sort, "slotBasedPlan": {}}}}
    assert plan_problems(sbe) == [
        "sorts in memory: {'stage': 'SORT', 'sortPattern': {'position': -1, '_id': -1}}",
        "reads every document: {'stage': 'COLLSCAN'}",
    ]
    union = {
        "stages": [
            {"$cursor": {"queryPlanner": {"winningPlan": {"stage": "IXSCAN"}}}},
            {"$unionWith": {"coll": "history", "pipeline": []}},
            {"$sort": {"sortKey": {"createdAt": -1}}},
        ]
    }
    assert plan_problems(union) == []
    unmerged = {"stages": [{"$cursor": {}}, {"$sort": {"sortKey": {"at": 1}}}]}
    assert plan_problems(unmerged) == ["sorts in the pipeline: {'sortKey': {'at': 1}}"]
    assert _is_point('["a, b", "a, b"]') and not _is_point("[MinKey, MaxKey]")
