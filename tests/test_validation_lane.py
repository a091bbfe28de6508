"""Large fresh documents are parsed and validated in the validation lane, off the event loop:
the loop keeps serving meanwhile, a caller has one document in the lane at a time, a caller
who cannot pay for validating is refused before any of it, and the errors are graphql-core's.

Nothing here times anything: that the loop stays free is shown by order of events (a small
request answered while a large one waits in a lane held by the test)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest
from graphql import GraphQLError, parse, validate

from datastore.store import DocumentStore
from edge.engine import STRAWBERRY_VALIDATION_RULES
from edge.extension import CACHED_LENGTH, LANE_SELECTIONS, GatewayPolicy
from edge.throttle import ThrottlePolicy
from edge.validation import MAX_VALIDATION_ERRORS, RULES, validate_rules
from edge.validation_lane import LaneRefusal, ValidationLane
from gateway import create_app
from schema.api import plain_schema
from tests.conftest import SETTINGS

SCHEMA = plain_schema()._schema
_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")
# However slow the machine: every wait below polls for an event.
PATIENCE_SECONDS = 60.0


def _large(extra: str = "") -> str:
    """A document no cache knows, of more than LANE_SELECTIONS selections and longer than the
    parser cache keeps (so both its parsing and its validation go to the lane)."""
    alias = "t" + uuid.uuid4().hex
    text = f"{{ {alias}: __typename viewer {{ {'partner { id } ' * 140}{extra}}} }}"
    assert len(text) > CACHED_LENGTH and LANE_SELECTIONS < 2 * 140
    return text


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(int(PATIENCE_SECONDS / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the awaited event did not happen")


@dataclass
class _Gateway:
    lane: ValidationLane
    client: Callable[[str], httpx.AsyncClient]


@contextlib.asynccontextmanager
async def _gateway(store: DocumentStore, policy: GatewayPolicy) -> AsyncIterator[_Gateway]:
    """One app; ``client(address)`` talks to it from that client address."""
    app = create_app(replace(SETTINGS, policy=policy), store=store)
    async with app.router.lifespan_context(app), contextlib.AsyncExitStack() as clients:

        def client(address: str) -> httpx.AsyncClient:
            transport = httpx.ASGITransport(app=app, client=(address, 50000))
            http = httpx.AsyncClient(transport=transport, base_url="http://gateway")
            clients.push_async_callback(http.aclose)
            return http

        yield _Gateway(app.state.validation_lane, client)


@contextlib.asynccontextmanager
async def _held(lane: ValidationLane) -> AsyncIterator[None]:
    """The lane's one thread busy with the test's own work until the block ends."""
    release, started = threading.Event(), threading.Event()

    def hold() -> None:
        started.set()
        release.wait(PATIENCE_SECONDS)

    holding = asyncio.ensure_future(lane.run("the test", hold))
    try:
        await _until(started.is_set)
        yield
    finally:
        release.set()
        await holding


def _unthrottled() -> GatewayPolicy:
    return GatewayPolicy(throttle=ThrottlePolicy(enabled=False))


def _code(body: dict[str, Any]) -> Any:
    return body["errors"][0]["extensions"]["code"]


async def test_a_large_fresh_document_waits_in_the_lane_while_the_loop_serves_others(
    store: DocumentStore,
) -> None:
    async with _gateway(store, _unthrottled()) as gateway:
        large = asyncio.ensure_future(
            gateway.client("10.3.0.1").post("/graphql", json={"query": _large()})
        )
        async with _held(gateway.lane):
            # Its parsing waits behind the test's work, off the loop...
            await _until(lambda: gateway.lane.pending == 2)
            # ...which meanwhile answers another caller.
            small = await gateway.client("10.3.0.2").post(
                "/graphql", json={"query": "{ viewer { role } }"}
            )
            assert small.json()["data"] == {"viewer": {"role": None}}
            assert not large.done()
        body = (await large).json()
    assert "errors" not in body and body["data"]["viewer"] == {"partner": None}


# GraphQL over HTTP: a request error is a 4xx under application/graphql-response+json, here the
# one clients' retry logic reads with Retry-After; application/json keeps 200.
@pytest.mark.parametrize(
    ("accept", "status"),
    [("application/json", 200), ("application/graphql-response+json", 429)],
)
async def test_a_caller_has_one_document_in_the_lane_at_a_time(
    store: DocumentStore, accept: str, status: int
) -> None:
    async with _gateway(store, _unthrottled()) as gateway:
        caller = gateway.client("10.3.1.1")
        async with _held(gateway.lane):
            first = asyncio.ensure_future(caller.post("/graphql", json={"query": _large()}))
            await _until(lambda: gateway.lane.pending == 2)
            second = await caller.post(
                "/graphql", json={"query": _large()}, headers={"Accept": accept}
            )
            # Another caller is not held back by it.
            other = asyncio.ensure_future(
                gateway.client("10.3.1.2").post("/graphql", json={"query": _large()})
            )
            await _until(lambda: gateway.lane.pending == 3)
        assert "errors" not in (await first).json()
        assert "errors" not in (await other).json()
    assert second.status_code == status
    assert _code(second.json()) == "VALIDATION_IN_PROGRESS"
    assert second.json()["errors"][0]["extensions"]["retryAfterSeconds"] == 1
    assert second.headers["retry-after"] == "1"


@pytest.mark.parametrize(
    ("accept", "status"),
    [("application/json", 200), ("application/graphql-response+json", 503)],
)
async def test_a_full_lane_is_the_gateway_s_load(
    store: DocumentStore, accept: str, status: int
) -> None:
    async with _gateway(store, _unthrottled()) as gateway:
        gateway.lane.max_pending = 2
        async with _held(gateway.lane):
            first = asyncio.ensure_future(
                gateway.client("10.3.2.1").post("/graphql", json={"query": _large()})
            )
            await _until(lambda: gateway.lane.pending == 2)
            refused = await gateway.client("10.3.2.2").post(
                "/graphql", json={"query": _large()}, headers={"Accept": accept}
            )
        assert "errors" not in (await first).json()
    assert refused.status_code == status
    assert _code(refused.json()) == "VALIDATION_QUEUE_FULL"
    assert refused.headers["retry-after"] == "1"


async def test_the_lane_refuses_past_its_bound_with_a_code() -> None:
    lane = ValidationLane(max_pending=2)
    release = threading.Event()
    try:
        held = [asyncio.ensure_future(lane.run(f"c{i}", release.wait)) for i in range(2)]
        await _until(lambda: lane.pending == 2)
        with pytest.raises(LaneRefusal) as full:
            await lane.run("c3", lambda: None)
        with pytest.raises(LaneRefusal) as busy:
            await lane.run("c0", lambda: None)
    finally:
        release.set()
    await asyncio.gather(*held)
    assert full.value.error.extensions == {
        "code": "VALIDATION_QUEUE_FULL",
        "maximum": 2,
        "retryAfterSeconds": 1,
    }
    assert (busy.value.error.extensions or {})["code"] == "VALIDATION_IN_PROGRESS"
    # A document leaves the lane when its work ends: the callers may come back.
    assert lane.pending == 0
    assert await lane.run("c0", lambda: 42) == 42
    lane.close()


async def test_a_caller_who_cannot_pay_for_validating_is_refused_before_any_of_it(
    store: DocumentStore,
) -> None:
    # Validating the document costs the single-query maximum; the bucket holds 100.
    throttle = ThrottlePolicy(capacity=100, restore_rate=0.01, sync_wait_seconds=60)
    # A short document (its parsing stays on the loop) of ~1000 selections, a chain of
    # fragments, so only its validation would go to the lane.
    links = " ".join(
        f"fragment F{i} on Viewer {{ role partner {{ id }} ...F{i + 1} }}" for i in range(24)
    )
    text = f"{{ t{uuid.uuid4().hex}: __typename viewer {{ ...F0 }} }} {links} "
    text += "fragment F24 on Viewer { role }"
    assert len(text) <= CACHED_LENGTH
    async with (
        _gateway(store, GatewayPolicy(throttle=throttle)) as gateway,
        _held(gateway.lane),
    ):
        # Answered while the lane is held: it never went there.
        refused = await gateway.client("10.3.2.1").post("/graphql", json={"query": text})
        assert gateway.lane.pending == 1
    body = refused.json()
    assert _code(body) == "THROTTLED"
    assert "validating this document" in body["errors"][0]["message"]
    assert int(refused.headers["retry-after"]) >= 1
    # Nothing was spent on it.
    assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 100


def _graphql_core(text: str) -> list[tuple[str, Any]]:
    """graphql-core's errors for ``text`` as the gateway words them (without suggestions,
    which would map the schema for a client that may not introspect it)."""
    errors: list[GraphQLError] = validate(
        SCHEMA,
        parse(text),
        (*RULES, *STRAWBERRY_VALIDATION_RULES),
        max_errors=MAX_VALIDATION_ERRORS,
    )
    return [
        (_SUGGESTION.sub("", error.message), [loc._asdict() for loc in error.locations or ()])
        for error in errors
    ]


async def test_the_lane_answers_the_errors_the_loop_would(store: DocumentStore) -> None:
    wrong = _large("nope partner { id: name } ")
    broken = _large("partner { id ")
    async with _gateway(store, _unthrottled()) as gateway:
        http = gateway.client("10.3.3.1")
        answered = (await http.post("/graphql", json={"query": wrong})).json()
        syntax = (await http.post("/graphql", json={"query": broken})).json()
    got = [(e["message"], e["locations"]) for e in answered["errors"]]
    assert got == _graphql_core(wrong) and len(got) == 2
    with pytest.raises(GraphQLError) as expected:
        parse(broken)
    [error] = syntax["errors"]
    assert error["message"] == expected.value.message
    assert error["locations"] == [loc._asdict() for loc in expected.value.locations or ()]


VARIABLE_DOCUMENTS = [
    "{ viewer { role } }",
    "query($p: ID!) { partner(id: $p) { id } }",
    "query($p: ID!, $unused: Int) { partner(id: $p) { id } }",
    "{ partner(id: $undefined) { id } }",
    "query($n: String) { services(first: $n) { totalCount } }",
    "query A($p: ID!) { ...F } query B { ...F } fragment F on Query { partner(id: $p) { id } }",
    '{ partner(id: "$ in a string") { id } nope }',
    "# $ in a comment\n{ viewer { nope } }",
    "{ viewer { " + "partner { id } " * 40 + "} }",
]


@pytest.mark.parametrize("text", VARIABLE_DOCUMENTS)
def test_leaving_out_the_variable_rules_changes_no_error(text: str) -> None:
    ours: list[GraphQLError] = validate_rules(SCHEMA, parse(text))
    assert [(e.message, e.locations) for e in ours] == [
        (e.message, e.locations)
        for e in validate(
            SCHEMA,
            parse(text),
            (*RULES, *STRAWBERRY_VALIDATION_RULES),
            max_errors=MAX_VALIDATION_ERRORS,
        )
    ]
