"""Field merging: the gateway's near-linear rule reports exactly graphql-core's errors, on
hand-written conflicts and on random documents over the real schema, and answers documents
graphql-core's rule gives up on."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

import pytest
from graphql import (
    GraphQLError,
    GraphQLNamedType,
    OverlappingFieldsCanBeMergedRule,
    get_named_type,
    is_abstract_type,
    is_composite_type,
    is_interface_type,
    is_object_type,
    parse,
    validate,
)

from datastore.store import DocumentStore
from edge.extension import GatewayPolicy
from edge.field_merging import FieldsCanMergeRule, merges_cleanly
from edge.limits import Limits
from edge.throttle import ThrottlePolicy
from schema.api import schema
from tests.conftest import SETTINGS, serving

SCHEMA = schema._schema

CONFLICTS = [
    # aliases naming different fields
    "{ viewer { x: role x: partner { id } } }",
    "{ node(id: 1) { ... on Partner { x: name } ... on Partner { x: description } } }",
    # arguments
    "{ a: partner(id: 1) { id } a: partner(id: 2) { id } }",
    '{ partner(id: "1") { id } partner(id: 1) { id } }',
    "query($p: ID!) { partner(id: $p) { id } partner(id: 1) { id } }",
    "{ p: partner(id: 1) { services(first: 1) { totalCount } services { totalCount } } "
    "p: partner(id: 1) { id } }",
    # nested: sub-fields conflict
    "{ viewer { partner { x: id } partner { x: name } } }",
    "{ viewer { partner { services(first: 1) { nodes { n: name } } } "
    "partner { services(first: 1) { nodes { n: description } } } } }",
    # fragments: with fields, with each other, nested
    "{ viewer { partner { x: id ...P } } } fragment P on Partner { x: name }",
    "{ viewer { partner { ...A ...B } } } fragment A on Partner { x: id } "
    "fragment B on Partner { x: name }",
    "{ viewer { partner { ...A } } } fragment A on Partner { ...B x: id } "
    "fragment B on Partner { x: website }",
    "{ viewer { ...V } } fragment V on Viewer { partner { ...A } partner { ...B } } "
    "fragment A on Partner { x: id } fragment B on Partner { x: name }",
    # types: mutually exclusive parents may differ in name, never in shape
    "{ node(id: 1) { ... on Partner { x: name } ... on Service { x: description } } }",
    "{ node(id: 1) { ... on Partner { x: targetMarkets } ... on Service { x: market } } }",
    "{ node(id: 1) { ... on Partner { x: id } ... on Service { x: name } } }",
    "{ node(id: 1) { id ... on Partner { id: name } } }",
    # the same conflicts in an unused fragment and in a second operation
    "fragment U on Partner { x: id x: name } query A { viewer { role } }",
    "query A { viewer { role } } query B { viewer { r: role r: partner { id } } }",
    # many repeats with one conflict
    "{ viewer { " + "partner { id } " * 30 + "partner { id: name } } }",
]

CLEAN = [
    "{ viewer { role role partner { id } partner { name } } }",
    "{ viewer { " + "partner { id } " * 40 + "} }",
    "{ node(id: 1) { ... on Partner { x: name } ... on Service { x: name } } }",
    "{ node(id: 1) { ... on Partner { x: name } ... on Seller { x: name } } }",
    "{ a: partner(id: 1) { id } a: partner(id: 1) { name } }",
    "query($p: ID!) { partner(id: $p) { id } partner(id: $p) { id } }",
    "{ viewer { partner { ...P ...P } ...V } } fragment P on Partner { id name } "
    "fragment V on Viewer { partner { ...P id } }",
    "{ services(first: 1, filter: {market: US, type: PUBLIC}) { totalCount } "
    "services(first: 1, filter: {type: PUBLIC, market: US}) { totalCount } }",
]

ODD = [
    # cycles, unknown fragments, unknown fields and types, duplicate arguments, @stream
    "{ viewer { ...A } } fragment A on Viewer { ...B } fragment B on Viewer { ...A role }",
    "{ viewer { ...Missing role } }",
    "{ viewer { nope { id } nope { name } x: nope x: role } }",
    "{ node(id: 1) { ... on Nope { x: id } ... on Partner { x: name } } }",
    "{ partner(id: 1, id: 2) { id } partner(id: 2, id: 2) { id } }",
    "{ partner(id: 2, id: 2) { id } partner(id: 1, id: 2) { id } }",
    "{ viewer { partner { id @stream } partner { id } } }",
    "fragment F on Partner { id } fragment F on Partner { x: id x: name } { viewer { role } }",
]


def _errors(rule: Any, text: str) -> list[tuple[str, Any]]:
    errors: list[GraphQLError] = validate(SCHEMA, parse(text), [rule])
    return [(error.message, error.locations) for error in errors]


@pytest.mark.parametrize("text", CONFLICTS + CLEAN + ODD)
def test_the_same_errors_as_graphql_core(text: str) -> None:
    assert _errors(FieldsCanMergeRule, text) == _errors(OverlappingFieldsCanBeMergedRule, text)


@pytest.mark.parametrize("text", CONFLICTS)
def test_conflicts_are_reported(text: str) -> None:
    assert _errors(FieldsCanMergeRule, text)
    assert not merges_cleanly(SCHEMA, parse(text))


@pytest.mark.parametrize("text", CLEAN)
def test_clean_documents_skip_graphql_core(text: str) -> None:
    assert _errors(OverlappingFieldsCanBeMergedRule, text) == []
    assert merges_cleanly(SCHEMA, parse(text))


class _Documents:
    """Random documents over the real schema, with few names so that fields collide."""

    ALIASES = (None, None, None, "x", "y")

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.fragments: list[tuple[str, GraphQLNamedType]] = []

    def document(self) -> str:
        self.fragments = []
        definitions = []
        for index in range(self.rng.randint(0, 3)):
            on = SCHEMA.get_type(self.rng.choice(["Partner", "Service", "Node", "Viewer"]))
            assert on is not None
            body = self.selection(on, 0)
            self.fragments.append((f"F{index}", on))
            definitions.append(f"fragment F{index} on {on.name} {body}")
        query = SCHEMA.query_type
        definitions.append("query($v: ID, $n: Int) " + self.selection(query, 0))
        return " ".join(definitions)

    def selection(self, parent: Any, depth: int) -> str:
        parts = [self.one(parent, depth) for _ in range(self.rng.randint(1, 4))]
        return "{ " + " ".join(parts) + " }"

    def one(self, parent: Any, depth: int) -> str:
        roll = self.rng.random()
        if roll < 0.15 and is_abstract_type(parent):
            on = self.rng.choice(list(SCHEMA.get_possible_types(parent)))
            return f"... on {on.name} {self.selection(on, depth)}"
        if roll < 0.25 and self.fragments and depth > 0:
            name, _ = self.rng.choice(self.fragments)
            return f"...{name}"
        if roll < 0.3 and is_object_type(parent) and parent.interfaces:
            interface = self.rng.choice(parent.interfaces)
            return f"... on {interface.name} {self.selection(parent, depth)}"
        return self.field(parent, depth)

    def field(self, parent: Any, depth: int) -> str:
        if not (is_object_type(parent) or is_interface_type(parent)):
            return "__typename"
        name, definition = self.rng.choice(list(parent.fields.items())[:8])
        alias = self.rng.choice(self.ALIASES)
        text = f"{alias}: {name}" if alias else name
        if definition.args:
            argument = self.rng.choice(list(definition.args))
            value = self.rng.choice(["1", "2", '"a"', "$v", "$n"])
            if self.rng.random() < 0.8:
                text += f"({argument}: {value})"
        inner = get_named_type(definition.type)
        if is_composite_type(inner) and depth < 3:
            text += " " + self.selection(inner, depth + 1)
        return text


def test_random_documents_give_the_same_errors_as_graphql_core() -> None:
    documents = _Documents(seed=21)
    conflicting = clean = 0
    for _ in range(600):
        text = documents.document()
        expected = _errors(OverlappingFieldsCanBeMergedRule, text)
        assert _errors(FieldsCanMergeRule, text) == expected, text
        if expected:
            conflicting += 1
        else:
            clean += 1
            # Conflict-free documents take the near-linear path, not graphql-core's rule.
            assert merges_cleanly(SCHEMA, parse(text)), text
    # The generator exercises both outcomes.
    assert conflicting > 50 and clean > 50


async def test_repeated_fields_beyond_graphql_cores_budget_are_answered(
    store: DocumentStore,
) -> None:
    # 800 repeats: graphql-core's rule exhausts its complexity budget ("Validation aborted.").
    text = "{ viewer { role " + "partner { id } " * 800 + "} }"
    assert [m for m, _ in _errors(OverlappingFieldsCanBeMergedRule, text)] == [
        "Validation aborted."
    ]
    limits = Limits(max_tokens=10_000, max_selections=2_000, max_document_length=50_000)
    policy = GatewayPolicy(limits=limits, throttle=ThrottlePolicy(enabled=False))
    async with serving(store, replace(SETTINGS, policy=policy)) as http:
        body = (await http.post("/graphql", json={"query": text})).json()
    assert body.get("errors") is None
    assert body["data"] == {"viewer": {"role": None, "partner": None}}


def test_a_conflict_among_too_many_fields_is_reported_within_a_budget() -> None:
    text = "{ viewer { " + "partner { id } " * 800 + "partner { id: name } } }"
    [(message, _)] = _errors(FieldsCanMergeRule, text)
    assert "conflict" in message and "aliases" in message
