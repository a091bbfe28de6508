"""Values of the wrong type are answered with graphql-core's errors, each naming the field and
the rule, but no error quotes a large value whole (``edge/input_values.py``)."""

from __future__ import annotations

import httpx
import pytest
from graphql import GraphQLError, ValuesOfCorrectTypeRule, build_schema, parse, validate

from edge.input_values import QUOTED_CHARACTERS, InputValuesRule
from edge.validation import MAX_VALIDATION_ERRORS, RULES

UNKNOWN_FIELDS = (
    "mutation Q { createServiceOffer(input: {"
    + " ".join(f"a{i}:1" for i in range(320))
    + "}) { __typename } }"
)
"""The outside check's document: 2.2 KB, within every limit, 320 fields its input type lacks."""

LONGEST_MESSAGE = QUOTED_CHARACTERS + 200
"""A message: the rule's words, the type's and the field's names, and the value quoted."""


async def test_an_input_object_of_unknown_fields_is_answered_without_quoting_it_whole(
    http: httpx.AsyncClient,
) -> None:
    response = await http.post("/graphql", json={"query": UNKNOWN_FIELDS})
    errors = response.json()["errors"]
    assert len(errors) == MAX_VALIDATION_ERRORS + 1  # then "Validation aborted"
    assert {e["extensions"]["code"] for e in errors} == {"GRAPHQL_VALIDATION_FAILED"}
    messages = [e["message"] for e in errors[:-1]]
    assert messages[0].startswith(
        "Expected value of type 'CreateServiceOfferInput' to include required field "
        "'serviceIds', found: "
    )
    assert messages[4].startswith(
        "Expected value of type 'CreateServiceOfferInput' not to include unknown field 'a0'"
    )
    assert all(len(message) <= LONGEST_MESSAGE for message in messages), messages
    # Twenty quotes of the 2.2 KB object made a 72 KB answer.
    assert len(response.content) < len(UNKNOWN_FIELDS) * 5


SCHEMA = build_schema("""
    input Item { id: ID! size: Int tags: [String!] }
    input Order { name: String! items: [Item!]! note: String }
    input Pick @oneOf { id: ID name: String }
    type Query { order(input: Order!): Int pick(by: Pick!): Int ids(ids: [ID!]): Int }
""")


def _object(count: int) -> str:
    return "{" + " ".join(f"x{i}: 1" for i in range(count)) + "}"


def _items(count: int, item: str) -> str:
    return "[" + " ".join(item for _ in range(count)) + "]"


DOCUMENTS = {
    "unknown fields": "{ order(input: " + _object(60) + ") }",
    "unknown fields beside a good list": (
        '{ order(input: {name: "n" items: ' + _items(80, '{id: "a"}') + " x: 1 y: 2}) }"
    ),
    "bad items in a large list": (
        '{ order(input: {name: "n" items: ' + _items(40, '{id: "a" size: "big" z: 1}') + "}) }"
    ),
    "a large list of wrong leaves": "{ ids(ids: " + _items(100, "{a: 1}") + ") }",
    "a large object where a list is wanted": "{ ids(ids: " + _object(60) + ") }",
    "a large list where an object is wanted": "{ order(input: " + _items(90, "1") + ") }",
    "nulls where values are required": (
        "{ order(input: {name: null items: " + _items(70, "{id: null}") + "}) }"
    ),
    "a large OneOf value": '{ pick(by: {id: "a" name: "b" ' + "x: 1 " * 50 + "}) }",
    "a small OneOf value": '{ pick(by: {id: "a" name: "b"}) }',
    "small values": '{ order(input: {items: [{id: 1, size: "s"}] zz: 1}) }',
}


def _found(error: GraphQLError) -> tuple[str, object]:
    """The error but for its quote of the value."""
    head = error.message.split(" found: ")[0].split(" Found: ")[0]
    return head, error.locations


@pytest.mark.parametrize("text", DOCUMENTS.values(), ids=DOCUMENTS.keys())
def test_the_rule_reports_what_graphql_core_s_reports(text: str) -> None:
    document = parse(text)
    theirs = validate(SCHEMA, document, [ValuesOfCorrectTypeRule])
    ours = validate(SCHEMA, document, [InputValuesRule])
    assert theirs, "each document has errors"
    assert [_found(e) for e in ours] == [_found(e) for e in theirs]
    for mine, their in zip(ours, theirs, strict=True):
        if len(their.message) <= LONGEST_MESSAGE:
            assert mine.message == their.message  # small values: word for word
        assert len(mine.message) <= max(LONGEST_MESSAGE, len(their.message))


def test_the_gateway_runs_the_rule_in_place_of_graphql_core_s() -> None:
    assert InputValuesRule in RULES and ValuesOfCorrectTypeRule not in RULES
