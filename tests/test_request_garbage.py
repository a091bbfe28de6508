"""What a request leaves for the garbage collector: reference counting frees a request's
document and executor when it is answered, so young collections, which hold the event loop
while they run, stay short under fresh documents (``bench/abuse.py``)."""

from __future__ import annotations

import gc
import itertools
from collections.abc import Awaitable, Callable

import pytest
from graphql import Node

from edge import planned_execution
from edge.engine import EngineExecutor
from edge.extension import CACHED_LENGTH
from tests.conftest import GraphQLClient

_FRESH = itertools.count()


def _fresh(text: str) -> str:
    """``text`` with an alias of its own, so that no cache has seen it."""
    return f"{{ fresh{next(_FRESH)}: __typename {text.removeprefix('{')}"


SHORT = "{ serviceCategories(first: 3) { nodes { id name } } }"
LONG = "{ viewer { " + "partner { id } " * 200 + "} }"


async def _left_to_the_collector(send: Callable[[], Awaitable[object]]) -> list[object]:
    """What the collector finds unreachable after ``send``, with nothing collected before."""
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        await send()
        gc.collect()
        return list(gc.garbage)
    finally:
        gc.garbage.clear()
        gc.set_debug(0)
        gc.enable()


@pytest.mark.parametrize("text", [SHORT, LONG], ids=["short", "long"])
async def test_a_fresh_document_is_freed_with_its_request(gql: GraphQLClient, text: str) -> None:
    # Its plans, its validation's rules and its executor each held it in a reference cycle:
    # 2,000-5,000 objects each time, for a young collection to walk on the event loop.
    assert (len(_fresh(text)) > CACHED_LENGTH) == (text is LONG)

    async def send() -> None:
        await gql.ok(_fresh(text))

    await send()  # what is made once per process (the schema's caches) is made
    left = await _left_to_the_collector(send)
    assert [type(o).__name__ for o in left if isinstance(o, Node)] == []


async def test_an_answered_executor_is_freed_with_its_request(gql: GraphQLClient) -> None:
    # graphql-core binds the helpers it hands resolvers to the executor, on the executor.
    query = "{ serviceCategories(first: 3) { nodes { id name } } }"
    for _ in range(3):
        await gql.ok(query)  # kept by the parser's cache, and planned
    left = await _left_to_the_collector(lambda: gql.ok(query))
    assert [o for o in left if isinstance(o, EngineExecutor)] == []


async def test_fresh_and_kept_documents_alike_run_from_their_plans(gql: GraphQLClient) -> None:
    # A fresh document's plans are taken apart once it is answered, a kept one's kept.
    query = _fresh(SHORT)
    planned = ("planned", "")
    for sent in range(1, 5):  # fresh, then kept by the parser's cache from the second time
        before = planned_execution.executions[planned]
        await gql.ok(query)
        assert planned_execution.executions[planned] == before + 1, sent
    long_query = _fresh(LONG)  # never kept: parsed afresh each time
    for _ in range(2):
        before = planned_execution.executions[planned]
        await gql.ok(long_query)
        assert planned_execution.executions[planned] == before + 1
