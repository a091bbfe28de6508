"""The README and docs/ stay true about error codes: every code they quote (`SOME_CODE`) is
defined in the source and asserted by a test, and every HTTP status quoted right before a code
("413 `PAYLOAD_TOO_LARGE`", a table row "| 413 | `PAYLOAD_TOO_LARGE` |") is asserted together
with it, in one parametrized case or one test function. A code renamed in the source, or a
claim added to the docs without a test, fails here."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from graphql import GraphQLEnumType, build_schema

ROOT = Path(__file__).resolve().parent.parent
DOCS = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
SOURCE = (
    ROOT / "gateway.py",
    *(
        p
        for d in ("edge", "resolvers", "schema", "datastore", "web")
        for p in (ROOT / d).rglob("*.py")
    ),
)
TESTS = tuple(
    p for p in sorted((ROOT / "tests").glob("test_*.py")) if p.name != Path(__file__).name
)
NODE_TESTS = tuple(sorted((ROOT / "tests" / "clients").glob("*.test.mjs")))

_WORD = r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*"
_QUOTED = re.compile(rf"`({_WORD})`")
_STATUS_AND_CODE = re.compile(rf"\b([1-5][0-9]{{2}})\s*(?:\|\s*)?`({_WORD})`")

# Upper-case words the docs quote that are not error codes. Environment variables, HTTP methods
# and the values of the schema's enums (other than its error-code enums) are told apart below.
NOT_CODES = {
    "AD_HOC_DOCUMENT_AUDITS": "a list in tests/test_clients.py",
    "ADAPTERS": "the store adapters the tests run on (tests/stores.py)",
    "COLLSCAN": "a MongoDB query plan stage",
    "SORT": "a MongoDB query plan stage",
    "COMPARED_GOAL": "the checked-execution report's goal (tests/conftest.py)",
    "ERROR_CODES": "the table of userError code descriptions",
    "CODE_DESCRIPTIONS": "the userError code descriptions' table (schema/mutations.py)",
    "NOT_ARCHIVED": "the walk-through's example code in docs/developing.md (added, then reverted)",
    "TYPE_CHECKING": "typing.TYPE_CHECKING",
    "INDEXES": "the store's index list (datastore/collections.py)",
    "PARTS": "a connection's declared parts (schema/pagination.py)",
    "SETTINGS": "the test suite's settings (tests/conftest.py)",
    "STORE_KINDS": "the store kinds the tests run on (tests/stores.py)",
    "SUBJECT_COLLECTIONS": "the event subjects' collections (resolvers/events.py)",
    "FORWARDED_ALLOW_IPS": "uvicorn's environment variable (the proxies it trusts)",
    "HOST": "an environment variable",
    "PORT": "an environment variable",
}
# Codes the README's changes name as gone: no longer answered by anything.
RETIRED = {"PRIVATE_ADDRESS": "replaced by WEBHOOK_URL_NOT_ALLOWED"}
_ENVIRONMENT = ("TSP_", "OTEL_", "MONGODB_", "PROMETHEUS_")
_METHODS = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"}


def _docs_text() -> Iterator[tuple[str, str]]:
    for path in DOCS:
        yield path.name, path.read_text(encoding="utf-8")


@cache
def _schema_values() -> tuple[frozenset[str], frozenset[str]]:
    """The schema's error-code enum values, and the values of its other enums."""
    schema = build_schema((ROOT / "schema.graphql").read_text(encoding="utf-8"))
    codes: set[str] = set()
    others: set[str] = set()
    for named in schema.type_map.values():
        if isinstance(named, GraphQLEnumType) and not named.name.startswith("__"):
            (codes if named.name.endswith("ErrorCode") else others).update(named.values)
    return frozenset(codes), frozenset(others - codes)


def quoted_codes() -> dict[str, set[str]]:
    """Every error code the docs quote, with the files quoting it."""
    schema_codes, other_values = _schema_values()
    found: dict[str, set[str]] = {}
    for name, text in _docs_text():
        for word in _QUOTED.findall(text):
            not_a_code = (
                word in NOT_CODES
                or word in _METHODS
                or word.startswith(_ENVIRONMENT)
                or (word in other_values and word not in schema_codes)
            )
            if not not_a_code:
                found.setdefault(word, set()).add(name)
    return found


def quoted_statuses() -> set[tuple[int, str]]:
    """Every (HTTP status, code) pair the docs quote, the status right before the code."""
    return {
        (int(status), code)
        for _name, text in _docs_text()
        for status, code in _STATUS_AND_CODE.findall(text)
    }


def _strings(tree: ast.AST) -> Iterator[str]:
    """The string constants under ``tree``, docstrings left out (they assert nothing)."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if id(node) in docstrings or not isinstance(node, ast.Constant):
            continue
        if isinstance(node.value, str):
            yield node.value


def _names(strings: Iterator[str]) -> frozenset[str]:
    """The upper-case words (codes, as a whole string or within a message) of ``strings``."""
    return frozenset(
        word
        for text in strings
        for word in re.findall(rf"(?<![A-Za-z0-9_]){_WORD}(?![A-Za-z0-9_])", text)
    )


@cache
def _parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


@cache
def defined_in_source() -> frozenset[str]:
    return frozenset().union(*(_names(_strings(_parsed(p))) for p in SOURCE))


@cache
def asserted_by_tests() -> frozenset[str]:
    python = frozenset().union(*(_names(_strings(_parsed(p))) for p in TESTS))
    node = frozenset(
        re.findall(
            rf"['\"`]({_WORD})['\"`]", "".join(p.read_text(encoding="utf-8") for p in NODE_TESTS)
        )
    )
    return python | node


def _scopes(tree: ast.Module) -> Iterator[tuple[ast.AST, ast.AST]]:
    """Where a status and a code asserted together sit, as (where the status is, where the
    code is): one tuple or list literal (a parametrized case), or one test function, whose
    body asserts the status for the codes of its body or its parametrized cases."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Tuple | ast.List):
            yield node, node
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield ast.Module(body=node.body, type_ignores=[]), node


_STATUS_LINE = re.compile(r"HTTP/1\.[01] ([1-5][0-9]{2})\b")


def _statuses(scope: ast.AST) -> set[int]:
    """The HTTP statuses ``scope`` names: a number, or a raw response's status line."""
    found: set[int] = set()
    for node in ast.walk(scope):
        if not isinstance(node, ast.Constant):
            continue
        if type(node.value) is int and 100 <= node.value < 600:
            found.add(node.value)
        elif isinstance(node.value, str | bytes):
            text = node.value if isinstance(node.value, str) else node.value.decode("latin-1")
            found.update(int(status) for status in _STATUS_LINE.findall(text))
    return found


@cache
def asserted_statuses() -> frozenset[tuple[int, str]]:
    pairs: set[tuple[int, str]] = set()
    for path in TESTS:
        for status_scope, code_scope in _scopes(_parsed(path)):
            statuses = _statuses(status_scope)
            if statuses:
                codes = _names(_strings(code_scope))
                pairs.update((status, code) for status in statuses for code in codes)
    return frozenset(pairs)


@pytest.mark.parametrize("code", sorted(quoted_codes()))
def test_every_quoted_code_is_defined_in_the_source_and_asserted_by_a_test(code: str) -> None:
    where = ", ".join(sorted(quoted_codes()[code]))
    if code in RETIRED:
        if code in defined_in_source():
            pytest.fail(f"{where} say {code} is gone ({RETIRED[code]}), but the source has it")
        return
    if code not in defined_in_source():
        pytest.fail(f"{where} quote {code}, which no source file defines")
    if code not in asserted_by_tests():
        pytest.fail(f"{where} quote {code}, which no test asserts")


@pytest.mark.parametrize(("status", "code"), sorted(quoted_statuses()))
def test_every_status_quoted_with_a_code_is_asserted_with_it(status: int, code: str) -> None:
    if (status, code) not in asserted_statuses():
        pytest.fail(f"the docs say {status} {code}; no test asserts that status with that code")


def test_the_guard_sees_what_the_docs_quote() -> None:
    # The extraction itself: a regular expression that matched nothing would pass everything.
    codes = quoted_codes()
    assert {"PAYLOAD_TOO_LARGE", "INTROSPECTION_DISABLED", "NOT_FOUND"} <= set(codes)
    assert not {"TSP_DEMO", "ACTIVE", "GET", "AUTHORIZATION_GRANTED"} & set(codes)
    assert {(413, "PAYLOAD_TOO_LARGE"), (405, "METHOD_NOT_ALLOWED")} <= quoted_statuses()
    # Every word listed as not a code is still quoted (a stale entry would hide a code).
    quoted = {word for _name, text in _docs_text() for word in _QUOTED.findall(text)}
    assert set(NOT_CODES) | set(RETIRED) <= quoted
