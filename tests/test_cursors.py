"""Cursors are client input that reaches store filters: they carry values, never operators."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.conftest import GraphQLClient, Make

PARTNERS = """query($after: String, $before: String) {
  partners(first: 5, after: $after, before: $before) {
    edges { node { id } } pageInfo { endCursor } } }"""


def _forge(payload: Any) -> str:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(cursor: str) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    )
    return decoded


@pytest.mark.parametrize(
    "value",
    [
        {"$gt": ""},
        {"$ne": None},
        {"$where": "sleep(1000)"},
        {"nested": "object"},
        ["a", "list"],
        [],
        2**70,
        -(2**64),
    ],
    ids=["gt", "ne", "where", "object", "list", "empty-list", "huge", "huge-negative"],
)
async def test_a_cursor_holding_anything_but_a_value_is_refused(
    gql: GraphQLClient, make: Make, admin: str, value: Any
) -> None:
    await make.partner()
    real = _decode((await gql(PARTNERS, as_=admin))["data"]["partners"]["pageInfo"]["endCursor"])
    keys = real["k"]
    for position in range(len(keys)):
        forged = [*keys[:position], value, *keys[position + 1 :]]
        for argument in ("after", "before"):
            cursor = _forge({"k": forged, "t": real["t"]})
            result = await gql(PARTNERS, {argument: cursor}, as_=admin)
            assert result["data"] is None or result["data"]["partners"] is None
            assert result["errors"][0]["extensions"]["code"] == "INVALID_CURSOR", result
            assert argument in result["errors"][0]["message"]


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
async def test_a_cursor_holding_a_non_finite_number_is_refused(
    gql: GraphQLClient, make: Make, admin: str, number: str
) -> None:
    await make.partner()
    real = _decode((await gql(PARTNERS, as_=admin))["data"]["partners"]["pageInfo"]["endCursor"])
    text = json.dumps({"k": [real["k"][0], "__N__"], "t": real["t"]}).replace('"__N__"', number)
    result = await gql(PARTNERS, {"after": _forge(text)}, as_=admin)
    assert result["errors"][0]["extensions"]["code"] == "INVALID_CURSOR", result


async def test_a_forged_cursor_of_plain_values_still_pages(
    gql: GraphQLClient, make: Make, admin: str
) -> None:
    """Values of the right kinds are accepted, even if no document has them."""
    await make.partner()
    await make.partner()
    real = _decode((await gql(PARTNERS, as_=admin))["data"]["partners"]["pageInfo"]["endCursor"])
    forged = _forge({"k": [real["k"][0], "zzz"], "t": real["t"]})
    result = await gql(PARTNERS, {"after": forged}, as_=admin)
    assert "errors" not in result, result
    assert isinstance(result["data"]["partners"]["edges"], list)


async def test_the_catalog_refuses_another_lists_cursor(
    gql: GraphQLClient, make: Make, admin: str
) -> None:
    # A partners cursor holds a date where the catalog sorts by a number: compared, it was an
    # unexpected TypeError (INTERNAL).
    await make.partner()
    cursor = (await gql(PARTNERS, as_=admin))["data"]["partners"]["pageInfo"]["endCursor"]
    result = await gql(
        "query($after: String) { serviceCategories(first: 1, after: $after) { nodes { id } } }",
        {"after": cursor},
        as_=admin,
    )
    assert [e["extensions"]["code"] for e in result["errors"]] == ["INVALID_CURSOR"], result
    assert "`after` is not a cursor of this list" in result["errors"][0]["message"]
