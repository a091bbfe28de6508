"""A request's variables, checked before the operation is costed or run: a value that does not
fit its declared type is the client's mistake (``BAD_USER_INPUT``), never a cost, and variables
holding more values than the limit are refused naming it, before graphql-core words an error
with each whole value."""

from __future__ import annotations

import json
from typing import Any

import httpx

from edge.limits import Limits

RANKED = "query($n: Int!) { serviceCategories(first: $n) { nodes { name } } }"


async def _post(http: httpx.AsyncClient, payload: dict[str, Any]) -> tuple[dict[str, Any], int]:
    body = json.dumps(payload).encode()
    answer = await http.post("/graphql", content=body, headers={"Content-Type": "application/json"})
    return answer.json(), len(body)


async def test_an_int_beyond_32_bits_is_bad_user_input_not_a_cost(
    http: httpx.AsyncClient,
) -> None:
    for value in (2**31, 10**400):
        body, _ = await _post(http, {"query": RANKED, "variables": {"n": value}})
        [error] = body["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
        assert "32-bit" in error["message"]
        # Never costed as sent (what the bucket is charged: tests/test_throttle.py).
        assert body["extensions"]["cost"]["requestedQueryCost"] == 0


async def test_variables_over_the_limit_are_refused_naming_it(http: httpx.AsyncClient) -> None:
    maximum = Limits().max_variable_values
    # A list and its items: at the limit, then one over (undeclared variables still count).
    at_limit, _ = await _post(
        http, {"query": "{ __typename }", "variables": {"extra": [1] * (maximum - 1)}}
    )
    assert at_limit["data"] == {"__typename": "Query"}
    over, _ = await _post(http, {"query": "{ __typename }", "variables": {"extra": [1] * maximum}})
    [error] = over["errors"]
    assert error["extensions"] == {
        "code": "MAX_VARIABLE_VALUES_EXCEEDED",
        "limit": "variable values",
        "maximum": maximum,
        "found": maximum + 1,
    }
    assert "data" not in over


async def test_an_input_object_of_many_unknown_fields_is_refused_at_the_limit(
    http: httpx.AsyncClient,
) -> None:
    mutation = """mutation($i: CreateServiceOfferInput!) {
      createServiceOffer(input: $i) { serviceOffer { id } } }"""
    wide = {f"k{n}": 1 for n in range(50_000)}
    body, _ = await _post(http, {"query": mutation, "variables": {"i": wide}})
    assert body["errors"][0]["extensions"]["code"] == "MAX_VARIABLE_VALUES_EXCEEDED"
    narrow = {f"k{n}": 1 for n in range(3)}
    body, _ = await _post(http, {"query": mutation, "variables": {"i": narrow}})
    codes = {error["extensions"]["code"] for error in body["errors"]}
    assert codes == {"BAD_USER_INPUT"}
