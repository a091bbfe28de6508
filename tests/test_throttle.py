"""Throttling: a leaky bucket per caller, refusing with THROTTLED and Retry-After, shared by
every process serving one store."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from datastore import collections as c
from datastore.sqlite import SQLiteStore
from datastore.store import DocumentStore
from edge.extension import (
    VALIDATION_FREE_SELECTIONS,
    VALIDATION_POINTS_PER_SELECTION,
    GatewayPolicy,
    refusal_cost,
    validation_cost,
)
from edge.limits import Limits
from edge.throttle import Throttle, ThrottlePolicy, bucket_id
from resolvers.identity import Role, issue_token
from tests.conftest import SETTINGS, serving, token
from tests.polling import until
from tests.servers import SECRET, running_gateway
from tests.stores import write_locked

# 2 for the page + 8 categories: a query of cost 10.
TEN = {"query": "{ serviceCategories(first: 8) { nodes { name } } }"}


# However slow the machine, a request waits for its caller's exchange with the store rather
# than decide from the fair share, which is for a store that cannot be reached (tested apart).
PATIENT = 60.0


def _policy(capacity: float, rate: float = 0.01, **fields: Any) -> GatewayPolicy:
    fields.setdefault("sync_wait_seconds", PATIENT)
    return GatewayPolicy(throttle=ThrottlePolicy(capacity=capacity, restore_rate=rate, **fields))


async def test_a_caller_is_throttled_with_retry_after_when_the_bucket_is_empty(
    store: DocumentStore,
) -> None:
    settings = replace(SETTINGS, policy=_policy(capacity=35, rate=1))
    async with serving(store, settings) as http:
        answers = [await http.post("/graphql", json=TEN) for _ in range(4)]
    granted, refused = answers[:3], answers[3]
    assert all("errors" not in a.json() for a in granted)
    available = [
        a.json()["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] for a in granted
    ]
    assert available == sorted(available, reverse=True) and available[-1] < 10
    assert refused.status_code == 200
    body = refused.json()
    assert "data" not in body  # refused before execution: a request error
    [error] = body["errors"]
    assert error["extensions"]["code"] == "THROTTLED"
    retry = int(refused.headers["retry-after"])
    assert retry >= 1 and error["extensions"]["retryAfterSeconds"] == retry
    assert body["extensions"]["cost"]["throttleStatus"]["maximumAvailable"] == 35


async def test_a_client_preferring_graphql_response_json_is_answered_429_when_throttled(
    store: DocumentStore,
) -> None:
    """GraphQL over HTTP: under application/graphql-response+json a request error is a 4xx,
    and 429 is what clients' retry logic reads with Retry-After (application/json keeps 200)."""
    settings = replace(SETTINGS, policy=_policy(capacity=10, rate=1))
    spec = {"Accept": "application/graphql-response+json"}
    async with serving(store, settings) as http:
        assert "errors" not in (await http.post("/graphql", json=TEN, headers=spec)).json()
        refused = await http.post("/graphql", json=TEN, headers=spec)
        # Refused again before any parsing while the caller waits out its Retry-After.
        cooling = await http.get("/graphql", params={"query": "{ __typename }"}, headers=spec)
    for answer in (refused, cooling):
        assert answer.status_code == 429, answer.text
        assert answer.headers["content-type"] == "application/graphql-response+json"
        assert int(answer.headers["retry-after"]) >= 1
        [error] = answer.json()["errors"]
        assert error["extensions"]["code"] == "THROTTLED"
        assert "data" not in answer.json()


async def test_a_document_validated_afresh_pays_for_its_selections_and_a_repeated_one_twice(
    store: DocumentStore,
) -> None:
    settings = replace(SETTINGS, policy=_policy(capacity=2000))

    def duplicated() -> str:
        # 202 field selections: an aliased __typename, viewer, then 100 times partner and its
        # id. The alias is new each time (graphql-core's documents compare without locations,
        # so a new comment alone would find the validation cache's answer).
        alias = "t" + uuid.uuid4().hex
        return f"{{ {alias}: __typename viewer {{ " + "partner { id } " * 100 + "} }"

    work = validation_cost(202, 1_000)
    assert work == (202 - VALIDATION_FREE_SELECTIONS) * VALIDATION_POINTS_PER_SELECTION
    repeated = duplicated()
    async with serving(store, settings) as http:
        first = (await http.post("/graphql", json={"query": repeated})).json()
        second = (await http.post("/graphql", json={"query": repeated})).json()
        again = (await http.post("/graphql", json={"query": repeated})).json()
        varied = [
            (await http.post("/graphql", json={"query": duplicated()})).json() for _ in range(4)
        ]
    cost, cached = first["extensions"]["cost"], again["extensions"]["cost"]
    # The cache keeps a document from its second time (validated afresh again, and paid):
    # from the third, the fields' cost alone.
    assert second["extensions"]["cost"]["requestedQueryCost"] == cost["requestedQueryCost"]
    assert cost["requestedQueryCost"] == cached["requestedQueryCost"] + work
    assert cost["actualQueryCost"] == cached["actualQueryCost"] + work
    assert cached["requestedQueryCost"] < 5
    # Each new document is validated again, and paid for, until the bucket is empty.
    codes = [(body.get("errors") or [{}])[0].get("extensions", {}).get("code") for body in varied]
    assert codes == [None, None, None, "THROTTLED"]


async def test_a_throttled_caller_waits_out_retry_after_without_costing_the_gateway(
    store: DocumentStore,
) -> None:
    settings = replace(SETTINGS, policy=_policy(capacity=10, rate=1))
    async with serving(store, settings) as http:
        await http.post("/graphql", json=TEN)
        refused = await http.post("/graphql", json=TEN)
        assert refused.json()["errors"][0]["extensions"]["code"] == "THROTTLED"
        store.stats.reset()
        # Even a free query is refused until Retry-After has passed, and nothing is read.
        again = await http.post("/graphql", json={"query": "{ __typename }"})
        assert again.json()["errors"][0]["extensions"]["code"] == "THROTTLED"
        assert int(again.headers["retry-after"]) >= 1
        assert again.json()["extensions"]["cost"]["throttleStatus"]["maximumAvailable"] == 10
        assert store.stats.round_trips == 0
        async with serving(store, settings, client=("10.1.1.1", 1)) as other:
            assert "errors" not in (await other.post("/graphql", json=TEN)).json()


async def test_the_unused_part_of_the_requested_cost_is_refunded(store: DocumentStore) -> None:
    settings = replace(SETTINGS, policy=_policy(capacity=100))
    categories = "serviceCategories(first: 50, partnerType: AFFILIATE_PARTNER)"
    query = {"query": f"{{ {categories} {{ nodes {{ name }} }} }}"}
    async with serving(store, settings) as http:
        body = (await http.post("/graphql", json=query)).json()
    cost = body["extensions"]["cost"]
    assert cost["actualQueryCost"] < cost["requestedQueryCost"] == 52
    available = cost["throttleStatus"]["currentlyAvailable"]
    assert available == pytest.approx(100 - cost["actualQueryCost"], abs=1)


async def test_callers_have_their_own_buckets_and_admins_a_larger_one(
    store: DocumentStore,
) -> None:
    settings = replace(SETTINGS, policy=_policy(capacity=10, admin_capacity=1000))
    async with serving(store, settings) as http:
        partner = {"Authorization": f"Bearer {token(Role.PARTNER, 'ptn_a')}"}
        other = {"Authorization": f"Bearer {token(Role.PARTNER, 'ptn_b')}"}
        admin = {"Authorization": f"Bearer {token(Role.ADMIN)}"}
        assert "errors" not in (await http.post("/graphql", json=TEN, headers=partner)).json()
        throttled = (await http.post("/graphql", json=TEN, headers=partner)).json()
        assert throttled["errors"][0]["extensions"]["code"] == "THROTTLED"
        assert "errors" not in (await http.post("/graphql", json=TEN, headers=other)).json()
        for _ in range(5):
            assert "errors" not in (await http.post("/graphql", json=TEN, headers=admin)).json()


async def test_anonymous_callers_are_keyed_by_address(store: DocumentStore) -> None:
    settings = replace(SETTINGS, policy=_policy(capacity=10))
    async with serving(store, settings, client=("10.0.0.1", 1)) as first:
        assert "errors" not in (await first.post("/graphql", json=TEN)).json()
        assert "errors" in (await first.post("/graphql", json=TEN)).json()
    async with serving(store, settings, client=("10.0.0.2", 1)) as second:
        assert "errors" not in (await second.post("/graphql", json=TEN)).json()


async def test_a_huge_or_odd_token_subject_makes_an_ordinary_bucket(
    store: DocumentStore,
) -> None:
    subject = "ptn_" + "é\u0000/$." * 20_000
    assert len(bucket_id(f"PARTNER:{subject}")) == len(bucket_id("x"))
    settings = replace(SETTINGS, policy=_policy(capacity=100))
    async with serving(store, settings) as http:
        headers = {"Authorization": f"Bearer {token(Role.PARTNER, subject)}"}
        body = (await http.post("/graphql", json=TEN, headers=headers)).json()
    assert body["extensions"]["cost"]["actualQueryCost"] == 10


async def test_referral_links_are_throttled_per_address(store: DocumentStore) -> None:
    settings = replace(SETTINGS, policy=_policy(capacity=2))
    async with serving(store, settings) as http:
        answers = [await http.get("/r/unknown-code") for _ in range(3)]
    assert [a.status_code for a in answers] == [404, 404, 429]
    assert int(answers[2].headers["retry-after"]) >= 1
    async with serving(store, settings, client=("10.0.0.9", 1)) as elsewhere:
        assert (await elsewhere.get("/r/unknown-code")).status_code == 404


async def test_concurrent_spends_never_exceed_the_bucket(store: DocumentStore) -> None:
    policy = ThrottlePolicy(capacity=100, restore_rate=0.001, sync_wait_seconds=PATIENT)
    async with _throttles(store, policy, 3) as throttles:
        for _ in range(5):
            await store.delete_all("throttle_buckets")
            caller = f"SELLER:slr_{time.monotonic_ns()}"
            spends = (throttles[i % 3].spend(caller, 7) for i in range(40))
            decisions = await asyncio.gather(*spends)
            spent = 7 * sum(d.granted for d in decisions)
            assert 100 - 3 * 7 <= spent <= 100


@contextlib.asynccontextmanager
async def _throttles(
    store: DocumentStore, policy: ThrottlePolicy, count: int
) -> AsyncIterator[list[Throttle]]:
    throttles = [Throttle(store, policy) for _ in range(count)]
    try:
        yield throttles
    finally:
        for throttle in throttles:
            await throttle.close()


async def _exchanges_settled(throttles: list[Throttle]) -> None:
    """Wait (bounded) until no lease exchange is in flight in any of ``throttles``."""
    await until(lambda: not any(t._tasks for t in throttles), "the lease exchanges settling")


async def test_exchanges_beside_spending_and_refunds_never_give_tokens_back_twice(
    store: DocumentStore,
) -> None:
    """Leases refreshed after every spend (a lease period of 0) give their unspent tokens
    back while other requests keep spending and refunding from them: the bucket is never
    exceeded."""
    policy = ThrottlePolicy(
        capacity=100, restore_rate=0.001, lease_seconds=0, sync_wait_seconds=PATIENT
    )
    async with _throttles(store, policy, 3) as throttles:
        for _ in range(3):
            await store.delete_all("throttle_buckets")
            caller = f"SELLER:slr_{time.monotonic_ns()}"

            async def client(throttle: Throttle, caller: str) -> float:
                spent = 0.0
                for _ in range(40):
                    if (await throttle.spend(caller, 3)).granted:
                        await asyncio.sleep(0)
                        throttle.refund(caller, 1)
                        spent += 2
                    await asyncio.sleep(0.001)
                return spent

            clients = (client(throttles[i % 3], caller) for i in range(12))
            spent = sum(await asyncio.gather(*clients))
            await _exchanges_settled(throttles)
            assert 100 - 3 * 10 <= spent <= 100 + 1


async def test_concurrent_requests_of_one_caller_make_one_lease_sync(
    store: DocumentStore,
) -> None:
    """Eight requests of a new caller at once share one exchange with the store: the bucket
    is written once (its version counts the writes), not once per request."""
    settings = replace(SETTINGS, policy=_policy(capacity=1e6, rate=1e3, lease_seconds=3600))
    async with serving(store, settings) as http:
        for attempt in range(5):
            subject = f"slr_one_sync_{attempt}"
            headers = {"Authorization": f"Bearer {token(Role.SELLER, subject)}"}
            answers = await asyncio.gather(
                *(http.post("/graphql", json=TEN, headers=headers) for _ in range(8))
            )
            assert all("errors" not in answer.json() for answer in answers)
            key = bucket_id(f"SELLER:{subject}")
            bucket = (await store.get_many(c.THROTTLE_BUCKETS, [key]))[key]
            assert bucket["version"] == 1


async def test_refused_requests_spend_budget_until_the_caller_is_throttled(
    store: DocumentStore,
) -> None:
    """Syntax errors, validation errors, structural limits, cost refusals, variables that do
    not fit, an unknown operation name and a body that is not JSON each cost the caller budget
    (10 + 1 per 100 characters of the request): repeated, they are answered THROTTLED with
    Retry-After, then the caller waits it out like any other."""
    ranked = "query($n: Int!) { serviceCategories(first: $n) { nodes { name } } }"
    requests: dict[str, dict[str, Any] | bytes] = {
        "syntax": {"query": "{ serviceCategories(first: 8) { nodes { name }"},
        "validation": {"query": "{ serviceCategories(first: 8) { nodes { nonsense } } }"},
        "depth": {"query": "{ viewer { partner { serviceOffers { nodes { id } } } } }"},
        "cost": {"query": "{ serviceCategories(first: 999) { nodes { name } } }"},
        "variables": {"query": ranked, "variables": {"n": 2**31}},
        "operation name": {
            "query": "query A { __typename } query B { __typename }",
            "operationName": "C",
        },
        "body": b'{"query": ' + b"x" * 300,
    }
    policy = replace(_policy(capacity=100), max_query_cost=200, limits=Limits(max_depth=3))
    settings = replace(SETTINGS, policy=policy)
    for index, (kind, request) in enumerate(requests.items()):
        body = request if isinstance(request, bytes) else json.dumps(request).encode()
        cost = refusal_cost(len(body), 200)
        async with serving(store, settings, client=(f"10.2.0.{index}", 1)) as http:
            codes = []
            for _ in range(100 // cost + 1):
                answer = await http.post(
                    "/graphql", content=body, headers={"Content-Type": "application/json"}
                )
                codes.append(answer.json()["errors"][0]["extensions"]["code"])
            assert codes[-1] == "THROTTLED", (kind, codes)
            assert "THROTTLED" not in codes[:-1], (kind, codes)
            answer = await http.post("/graphql", json=TEN)
            assert answer.json()["errors"][0]["extensions"]["code"] == "THROTTLED"
            assert int(answer.headers["retry-after"]) >= 1


# --- the store out of reach --------------------------------------------------------------------


async def test_a_throttle_whose_store_is_unreachable_grants_its_fair_share_then_settles_it(
    tmp_path: Path,
) -> None:
    """While another process holds the write lock, one of four processes grants each caller a
    quarter of its bucket (concurrently and one by one), refuses beyond it without failing,
    and charges what it granted to the bucket once the store answers again."""
    locked = SQLiteStore(tmp_path / "throttle.sqlite3", busy_timeout_ms=50)
    await locked.connect()
    policy = ThrottlePolicy(capacity=100, restore_rate=0.001, processes=4, lease_seconds=0.05)
    callers = [f"PARTNER:ptn_fair_{n}" for n in range(3)]
    try:
        async with _throttles(locked, policy, 1) as [throttle]:
            with write_locked(locked.path, "IMMEDIATE"):
                for caller in callers:
                    concurrent = await asyncio.gather(
                        *(throttle.spend(caller, 5) for _ in range(3))
                    )
                    one_by_one = [await throttle.spend(caller, 5) for _ in range(4)]
                    granted = [d.granted for d in [*concurrent, *one_by_one]]
                    assert granted == [True] * 5 + [False] * 2
                    refused = one_by_one[-1]
                    assert refused.retry_after_seconds >= 1
                    # It says what it decided from: this process's share, not the bucket.
                    assert refused.alone
                    assert refused.status.maximum_available == 25
                    assert refused.status.currently_available < 5
                    assert not throttle.store_reachable
            # Once the store answers (tried again once a lease period), the 25 granted to each
            # caller meanwhile are charged to its bucket.
            for _ in range(500):
                await throttle.spend("PARTNER:ptn_probe", 1)
                await _exchanges_settled([throttle])
                if throttle.store_reachable:
                    break
                await asyncio.sleep(0.01)
            assert throttle.store_reachable
            for caller in callers:
                key = bucket_id(caller)
                bucket = (await locked.get_many(c.THROTTLE_BUCKETS, [key]))[key]
                assert bucket["available"] <= 75
                available = throttle.status(caller).currently_available
                assert available == pytest.approx(75, abs=0.5)
    finally:
        await locked.close()


# --- two gateway processes, one store --------------------------------------------------------


@pytest.fixture
def two_gateways(tmp_path: Path) -> Iterator[list[str]]:
    """Two gateway processes serving one SQLite file, with a bucket of 100 restoring slowly."""
    env = {"TSP_THROTTLE_CAPACITY": "100", "TSP_THROTTLE_RESTORE_RATE": "0.01"}
    with contextlib.ExitStack() as stack:
        gateways = [stack.enter_context(running_gateway(tmp_path, env=env)) for _ in range(2)]
        yield [gateway.url for gateway in gateways]


def test_two_gateway_processes_on_one_store_share_one_budget(two_gateways: list[str]) -> None:
    bearer = issue_token(SECRET, Role.SELLER, "slr_one", timedelta(hours=1))
    seller = {"Authorization": f"Bearer {bearer}"}
    granted_by = {url: 0 for url in two_gateways}
    with httpx.Client(timeout=60) as client:
        for attempt in range(30):
            url = two_gateways[attempt % 2]
            body = client.post(f"{url}/graphql", json=TEN, headers=seller).json()
            if "errors" not in body:
                granted_by[url] += 1
            else:
                assert body["errors"][0]["extensions"]["code"] == "THROTTLED"
    spent = 10 * sum(granted_by.values())
    # One bucket of 100 (plus a trickle of restore) across both processes; two independent
    # buckets would have granted 200. Each process may hold one lease chunk the other cannot
    # reach, so at least capacity minus a chunk is spendable.
    assert 90 <= spent <= 110
    assert all(count > 0 for count in granted_by.values())


def test_behind_a_trusted_proxy_each_forwarded_address_has_its_own_bucket(
    tmp_path: Path,
) -> None:
    """Served as in production: a proxy on 127.0.0.1 (uvicorn's trusted default) forwards two
    anonymous visitors; each spends its own bucket of 25 (two queries of 10), not the proxy's."""
    env = {"TSP_THROTTLE_CAPACITY": "25", "TSP_THROTTLE_RESTORE_RATE": "0.01"}
    with running_gateway(tmp_path, env=env) as gateway, httpx.Client(timeout=60) as client:

        def codes(forwarded_for: str) -> list[str | None]:
            headers = {"X-Forwarded-For": forwarded_for}
            answers = [
                client.post(f"{gateway.url}/graphql", json=TEN, headers=headers).json()
                for _ in range(3)
            ]
            return [(a.get("errors") or [{}])[0].get("extensions", {}).get("code") for a in answers]

        assert codes("203.0.113.7") == [None, None, "THROTTLED"]
        assert codes("203.0.113.8") == [None, None, "THROTTLED"]
