"""Queries of HTTP requests execute a few at a time, in arrival order; mutations never wait."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from edge.executing import ExecutionGate
from edge.view import GatewayGraphQL
from tests.conftest import GraphQLClient

REVIEW = """mutation($input: ReviewCategoryApplicationInput!) {
  reviewCategoryApplication(input: $input) { userErrors { code } } }"""


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("the condition never held")


async def test_at_most_the_limit_execute_and_the_others_enter_in_arrival_order() -> None:
    gate = ExecutionGate(2)
    entered: list[int] = []
    done = [asyncio.Event() for _ in range(5)]

    async def operation(index: int) -> None:
        async with gate.turn():
            entered.append(index)
            await done[index].wait()

    tasks = []
    for index in range(5):
        tasks.append(asyncio.create_task(operation(index)))
        await asyncio.sleep(0)  # each arrives after the one before
    await _until(lambda: gate.waiting == 3)
    assert (entered, gate.executing) == ([0, 1], 2)
    for finished, expected in ((1, [0, 1, 2]), (0, [0, 1, 2, 3]), (2, [0, 1, 2, 3, 4])):
        done[finished].set()
        await _until(lambda expected=expected: entered == expected)  # type: ignore[misc]
        assert gate.executing == 2
    for event in done:
        event.set()
    await asyncio.gather(*tasks)
    assert (gate.executing, gate.waiting) == (0, 0)


def _view(http: httpx.AsyncClient) -> GatewayGraphQL:
    transport = http._transport
    assert isinstance(transport, httpx.ASGITransport)
    routes = transport.app.routes  # type: ignore[attr-defined]
    return next(r.endpoint for r in routes if isinstance(r.endpoint, GatewayGraphQL))


async def test_a_query_waits_for_a_turn_and_a_mutation_does_not(
    http: httpx.AsyncClient, gql: GraphQLClient, admin: str
) -> None:
    gate = _view(http).executions
    holders = [gate.turn() for _ in range(gate.limit)]
    for holder in holders:
        await holder.__aenter__()
    try:
        query = asyncio.create_task(gql.post("{ viewer { role } }", as_=admin))
        await _until(lambda: gate.waiting == 1)
        assert not query.done()
        mutation = await gql.post(
            REVIEW, {"input": {"id": "cap_x", "decision": "APPROVE"}}, as_=admin
        )
        assert mutation.status_code == 200
        assert gate.waiting == 1 and not query.done()
    finally:
        for holder in holders:
            await holder.__aexit__(None, None, None)
    answered = await query
    assert answered.status_code == 200
    assert answered.json()["data"]["viewer"]["role"] == "ADMIN"


@pytest.mark.parametrize("limit", ["1", "7"])
def test_the_limit_is_a_setting(limit: str) -> None:
    from edge.settings import TransportSettings

    assert TransportSettings.from_env({"TSP_MAX_EXECUTING": limit}).max_executing == int(limit)
