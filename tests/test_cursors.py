"""Cursors are client input that reaches store filters: they carry values, never operators."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.conftest import GraphQLClient, PartnerFactory

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
    gql: GraphQLClient, make_partner: PartnerFactory, admin: str, value: Any
) -> None:
    await make_partner()
    real = (await gql(PARTNERS, as_=admin))["data"]["partners"]["pageInfo"]["endCursor"]
    keys = _decode(real)["k"]
    for position in range(len(keys)):
        forged = [*keys[:position], value, *keys[position + 1 :]]
        for argument in ("after", "before"):
            result = await gql(PARTNERS, {argument: _forge({"k": forged})}, as_=admin)
            assert result["data"] is None or result["data"]["partners"] is None
            assert result["errors"][0]["extensions"]["code"] == "INVALID_CURSOR", result
            assert argument in result["errors"][0]["message"]


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
async def test_a_cursor_holding_a_non_finite_number_is_refused(
    gql: GraphQLClient, make_partner: PartnerFactory, admin: str, number: str
) -> None:
    await make_partner()
    real = (await gql(PARTNERS, as_=admin))["data"]["partners"]["pageInfo"]["endCursor"]
    keys = _decode(real)["k"]
    text = json.dumps({"k": [keys[0], "__N__"]}).replace('"__N__"', number)
    result = await gql(PARTNERS, {"after": _forge(text)}, as_=admin)
    assert result["errors"][0]["extensions"]["code"] == "INVALID_CURSOR", result


async def test_a_forged_cursor_of_plain_values_still_pages(
    gql: GraphQLClient, make_partner: PartnerFactory, admin: str
) -> None:
    """Values of the right kinds are accepted, even if no document has them."""
    await make_partner()
    await make_partner()
    real = (await gql(PARTNERS, as_=admin))["data"]["partners"]["pageInfo"]["endCursor"]
    keys = _decode(real)["k"]
    result = await gql(PARTNERS, {"after": _forge({"k": [keys[0], "zzz"]})}, as_=admin)
    assert "errors" not in result, result
    assert isinstance(result["data"]["partners"]["edges"], list)
