"""The worst documents for the work done before execution (parsing, validation and the query
cost's walk), each grown to the largest size the limits admit, timed in-process through the
real schema and the real rules (no cache).

Run ``python -m bench.abuse_shapes [--repeats 7]`` (``python -m bench.abuse`` runs it first).
For each shape it grows the document (doubling, then bisecting) to the largest size the
gateway admits at its defaults, then prints the parse + validation + cost time (the maximum over the
repeats, and the median) against the 50 ms goal, and what the gateway answers: admitted
(``valid`` or the validation error's first words) or refused with its code. A second row shows
the next size up (or the issue's own document) is refused, and how fast.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from graphql import GraphQLError, get_introspection_query, parse

from edge.cost import requested_cost, select_operation
from edge.limits import Limits, length_problem, structural_problems
from edge.validation import RULES, validate_rules
from schema.api import schema

GOAL_MS = 50.0
SCHEMA = schema._schema

Shape = Callable[[int], str]


def _nested(levels: int, width: int) -> str:
    """``width`` identical copies of a Service > partner > services > nodes level at each of
    ``levels`` levels (width ** levels fields in all)."""
    inner = "id name"
    for _ in range(levels):
        inner = "partner { services(first: 1) { nodes { " + inner + " } } } "
        inner = inner * width
    return '{ node(id: "svc") { ... on Service { ' + inner + "} } }"


def _deepest(width: int) -> str:
    """Fields nested exactly 12 deep (the default depth limit), ``width`` at the bottom."""
    inner = "name " * width
    for _ in range(3):
        inner = f"partner {{ services(first: 1) {{ nodes {{ {inner} }} }} }}"
    return '{ node(id: "svc") { ... on Service { ' + inner + " } } }"


def _input_object(fields: str) -> str:
    return f"mutation {{ createServiceOffer(input: {{{fields}}}) {{ __typename }} }}"


SHAPES: dict[str, Shape] = {
    "duplicated fields { viewer { partner { id } x n } }": lambda n: (
        "{ viewer { " + "partner { id } " * n + "} }"
    ),
    "identical fields repeated at every depth": lambda n: _nested(3, n),
    "n distinct fragments with the same fields, spread together": lambda n: (
        "{ viewer { partner { "
        + " ".join(f"...P{i}" for i in range(n))
        + " } } } "
        + " ".join(
            f"fragment P{i} on Partner {{ id name services(first: 1) {{ totalCount }} }}"
            for i in range(n)
        )
    ),
    "one fragment spread in n places": lambda n: (
        "{ viewer { partner { "
        + "services(first: 1) { nodes { partner { ...P } } } " * n
        + "} } } fragment P on Partner { id name description }"
    ),
    "a chain of n fragments, each spreading the next": lambda n: (
        "{ viewer { ...F0 } } "
        + " ".join(f"fragment F{i} on Viewer {{ role ...F{i + 1} }}" for i in range(n))
        + f" fragment F{n} on Viewer {{ role }}"
    ),
    # Each spread twice: execution collects a fragment once per selection, and the cost walk
    # expanding every spread afresh took 2^n steps (24 s at n = 22).
    "a chain of n fragments, each spreading the next twice": lambda n: (
        "{ viewer { ...F0 } } "
        + " ".join(f"fragment F{i} on Viewer {{ ...F{i + 1} ...F{i + 1} }}" for i in range(n))
        + f" fragment F{n} on Viewer {{ role }}"
    ),
    "same arguments repeated (merge compares them)": lambda n: (
        "{ viewer { partner { "
        + 'services(first: 1, after: "abc") { totalCount nodes { id } } ' * n
        + "} } }"
    ),
    "conflicting arguments (graphql-core reports)": lambda n: (
        "{ viewer { partner { "
        + " ".join(f"services(first: {i % 2 + 1}) {{ totalCount }}" for i in range(n))
        + " } } }"
    ),
    "many variables": lambda n: (
        "query("
        + " ".join(f"$v{i}: ID!" for i in range(n))
        + ") { nodes(ids: ["
        + " ".join(f"$v{i}" for i in range(n))
        + "]) { id } }"
    ),
    "a long string argument": lambda n: '{ partner(id: "' + "x" * n + '") { id } }',
    "a long comment": lambda n: "# " + "x" * n + "\n{ viewer { role } }",
    "a long list argument": lambda n: "{ nodes(ids: [" + '"a" ' * n + "]) { id } }",
    "nesting at the depth limit, n fields at the bottom": _deepest,
    "many operations": lambda n: " ".join(
        f"query Q{i} {{ viewer {{ role partner {{ id name }} }} }}" for i in range(n)
    ),
    "many root fields": lambda n: "{ " + "viewer { role } " * n + "}",
    "directives on every field": lambda n: (
        "{ viewer { " + "role @include(if: true) @skip(if: false) " * n + "} }"
    ),
    "unknown fields (validation errors)": lambda n: (
        "{ viewer { " + " ".join(f"nope{i}" for i in range(n)) + " } }"
    ),
    # Each error about an input object quotes it (edge/input_values.py): every unknown field's
    # error quoted all of it, and the quote held whatever long value the object held.
    "unknown fields in an input object": lambda n: _input_object(
        " ".join(f"a{i}:1" for i in range(n))
    ),
    "a long list beside 20 unknown fields in an input object": lambda n: _input_object(
        " ".join(f"a{i}:1" for i in range(20)) + " serviceIds: [" + "1 " * n + "]"
    ),
    "a long string beside 20 unknown fields in an input object": lambda n: _input_object(
        " ".join(f"a{i}:1" for i in range(20)) + ' idempotencyKey: "' + "x" * n + '"'
    ),
}

ISSUE_DOCUMENTS = {
    "the issue's { viewer { partner { id } x 600 } }": "{ viewer { "
    + "partner { id } " * 600
    + "} }",
    "the issue's { viewer { role } x 1000 }": "{ " + "viewer { role } " * 1000 + "}",
    "issue 21's input object of 320 unknown fields": _input_object(
        " ".join(f"a{i}:1" for i in range(320))
    ),
    "issue 21's { viewer { __typename x 990 nosuch } }": "{ viewer { "
    + "__typename " * 990
    + "nosuch } }",
}


@dataclass(frozen=True)
class Outcome:
    refused: str | None  # the limit's code, when a limit refused it
    errors: list[GraphQLError]


def check(text: str, limits: Limits) -> Outcome:
    """What a request with ``text`` meets, in the gateway's order: the length, the parser's
    token limit, the structural limits, the specification's rules, then the query cost."""
    too_long = length_problem(text, limits)
    if too_long is not None:
        return Outcome("MAX_DOCUMENT_LENGTH_EXCEEDED", [too_long])
    try:
        document = parse(text, max_tokens=limits.max_tokens)
    except GraphQLError as error:
        code = "MAX_TOKENS_EXCEEDED" if "tokens" in error.message else "GRAPHQL_PARSE_FAILED"
        return Outcome(code, [error])
    problems = structural_problems(document, limits)
    if problems:
        return Outcome(str((problems[0].extensions or {})["code"]), problems)
    errors = validate_rules(SCHEMA, document, RULES)
    operation = select_operation(document, None)
    if not errors and operation is not None:
        requested_cost(SCHEMA, document, operation, None)
    return Outcome(None, errors)


def largest_admitted(shape: Shape, limits: Limits) -> int:
    """The largest ``n`` the limits admit (doubling, then bisecting)."""
    low, high = 1, 2
    while check(shape(high), limits).refused is None and high < 1 << 22:
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        if check(shape(middle), limits).refused is None:
            low = middle
        else:
            high = middle
    return low


@dataclass(frozen=True)
class Timing:
    wall_max: float
    wall_median: float
    cpu_max: float


def timed(text: str, limits: Limits, repeats: int) -> tuple[Timing, Outcome]:
    """Milliseconds over ``repeats`` runs: wall clock (what holds the event loop, including
    time this shared machine gives to other processes) and this thread's CPU time."""
    walls, cpus = [], []
    outcome = check(text, limits)
    for _ in range(repeats):
        # A collection due from earlier garbage would be timed here instead of there.
        gc.collect()
        wall, cpu = time.perf_counter(), time.thread_time()
        outcome = check(text, limits)
        cpus.append((time.thread_time() - cpu) * 1000)
        walls.append((time.perf_counter() - wall) * 1000)
    return Timing(max(walls), statistics.median(walls), max(cpus)), outcome


def _answer(outcome: Outcome) -> str:
    if outcome.refused is not None:
        return f"refused {outcome.refused}"
    if not outcome.errors:
        return "admitted, valid"
    # The errors' length too: what the answer carries back for the document.
    characters = sum(len(error.message) for error in outcome.errors)
    return (
        f"admitted, {len(outcome.errors)} error(s) of {characters} characters:"
        f" {outcome.errors[0].message[:40]!r}"
    )


def _row(label: str, size: str, text: str, limits: Limits, repeats: int) -> bool:
    timing, outcome = timed(text, limits, repeats)
    print(
        f"  {_verdict(timing.cpu_max)} {timing.cpu_max:6.1f}  {_verdict(timing.wall_max)}"
        f" {timing.wall_max:6.1f} {timing.wall_median:6.1f}  {len(text):6d}  {size:>8}"
        f"  {label}: {_answer(outcome)}"
    )
    return timing.cpu_max <= GOAL_MS


def _verdict(milliseconds: float) -> str:
    return "ok  " if milliseconds <= GOAL_MS else "OVER"


def run(repeats: int) -> bool:
    """Every shape at its largest admitted size and one size up; ``True`` if all within goal."""
    limits = Limits()
    goal = f"goal <= {GOAL_MS:.0f} ms (defaults)"
    print(f"Parse + validation + cost in ms, {repeats} runs each, {goal}")
    print("  CPU max     wall max median   chars  size      document: answer")
    within = True
    for label, shape in SHAPES.items():
        n = largest_admitted(shape, limits)
        within &= _row(label, f"n={n}", shape(n), limits, repeats)
        within &= _row(label, f"n={n + 1}", shape(n + 1), limits, repeats)
    introspection = get_introspection_query(descriptions=True)
    demo = Limits(introspection=True)
    within &= _row("GraphiQL's introspection query (demo)", "", introspection, demo, repeats)
    for label, text in ISSUE_DOCUMENTS.items():
        within &= _row(label, "", text, limits, repeats)
    print(f"  all within {GOAL_MS:.0f} ms of CPU: {within}")
    return within


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    run(parser.parse_args().repeats)


if __name__ == "__main__":
    main()
