"""``GET /metrics``: operations by name and outcome, latency, cost, refusals, store round trips
and requests in flight, read back the way Prometheus reads them."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from edge import metrics
from tests.conftest import GraphQLClient, Make


async def scrape(http: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_operations_are_counted_by_name_and_outcome(
    http: httpx.AsyncClient, gql: GraphQLClient
) -> None:
    before = await scrape(http)
    await gql("query MetricsProbe { __typename }")
    await gql("query MetricsProbe { __typename }")
    await gql("{ __typename }")
    await http.post("/graphql", json={"query": "query MetricsBroken { nope }"})
    await http.post("/graphql", json={"query": "query MetricsUnparsable {"})
    await gql('query MetricsMissing { partner(id: "ptn_01abcdefabcdefabcdefabcdef") { id } }')
    after = await scrape(http)

    def delta(operation: str, outcome: str) -> float:
        name = "tsp_graphql_operations_total"
        return value(after, name, operation=operation, outcome=outcome) - value(
            before, name, operation=operation, outcome=outcome
        )

    assert delta("MetricsProbe", "ok") == 2
    assert delta("anonymous", "ok") == 1
    assert delta("MetricsBroken", "GRAPHQL_VALIDATION_FAILED") == 1
    # The name of an operation that does not parse is unknown.
    assert delta("anonymous", "GRAPHQL_PARSE_FAILED") == 1
    assert delta("MetricsMissing", "NOT_FOUND") == 1


async def test_latency_and_round_trips_per_request_by_route(
    http: httpx.AsyncClient, gql: GraphQLClient, make: Make
) -> None:
    partner = await make.partner()
    before = await scrape(http)
    await gql("{ __typename }")
    await gql("query($id: ID!) { partner(id: $id) { id name } }", {"id": partner["_id"]})
    after = await scrape(http)
    route = {"route": "/graphql"}
    count = "tsp_http_request_duration_seconds_count"
    assert value(after, count, **route) - value(before, count, **route) == 2
    trips = "tsp_store_round_trips_per_request"
    assert value(after, f"{trips}_count", **route) - value(before, f"{trips}_count", **route) == 2
    # { __typename } reads nothing; the partner query reads the partner once.
    added = value(after, f"{trips}_sum", **route) - value(before, f"{trips}_sum", **route)
    assert added == 1
    zero = value(after, f"{trips}_bucket", le="0.0", **route) - value(
        before, f"{trips}_bucket", le="0.0", **route
    )
    assert zero == 1
    assert value(after, "tsp_http_requests_in_flight") == 1  # the scrape itself


async def test_referral_route_label_is_the_template(http: httpx.AsyncClient) -> None:
    await http.get("/r/some-unknown-code")
    await http.get("/no/such/page")
    samples = await scrape(http)
    routes = {
        dict(labels).get("route")
        for (name, labels) in samples
        if name == "tsp_http_request_duration_seconds_count"
    }
    assert "/r/{code}" in routes
    assert "/r/some-unknown-code" not in routes
    assert "unmatched" in routes


async def test_observe_cost_and_count_refusal(http: httpx.AsyncClient) -> None:
    before = await scrape(http)
    metrics.observe_cost(requested=12, actual=7)
    metrics.count_refusal("THROTTLED")
    metrics.count_refusal("THROTTLED")
    metrics.count_refusal("not a code\n")
    # An error without a code (or with one that is not a code) is counted as ERROR.
    metrics.count_operation("MetricsUncoded", "not a code\n")
    after = await scrape(http)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("tsp_graphql_query_cost_sum", kind="requested") == 12
    assert delta("tsp_graphql_query_cost_sum", kind="actual") == 7
    assert delta("tsp_graphql_query_cost_bucket", kind="actual", le="10.0") == 1
    assert delta("tsp_graphql_query_cost_bucket", kind="actual", le="5.0") == 0
    assert delta("tsp_requests_refused_total", code="THROTTLED") == 2
    assert delta("tsp_requests_refused_total", code="OTHER") == 1
    assert delta("tsp_graphql_operations_total", operation="MetricsUncoded", outcome="ERROR") == 1


async def test_transport_refusals_are_counted_by_code(http: httpx.AsyncClient) -> None:
    before = await scrape(http)
    big = await http.post(
        "/graphql",
        content=b" " * (1024 * 1024 + 1),
        headers={"Content-Type": "application/json"},
    )
    assert big.status_code == 413
    after = await scrape(http)
    name = "tsp_requests_refused_total"
    code = {"code": "PAYLOAD_TOO_LARGE"}
    assert value(after, name, **code) - value(before, name, **code) == 1


def test_operation_names_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "_seen_names", set())
    monkeypatch.setattr(metrics, "MAX_OPERATION_NAMES", 3)
    assert [metrics.operation_label(f"Op{i}") for i in range(5)] == [
        "Op0",
        "Op1",
        "Op2",
        "other",
        "other",
    ]
    assert metrics.operation_label("Op1") == "Op1"  # a name already seen keeps its label
    assert metrics.operation_label(None) == "anonymous"
    assert metrics.operation_label("x" * 65) == "other"


async def test_executions_are_counted_planned_fallen_back_and_unplanned_with_why(
    http: httpx.AsyncClient, gql: GraphQLClient
) -> None:
    before = await scrape(http)
    await gql("{ serviceCategories(first: 1) { nodes { name } } }")
    await http.post("/graphql", json={"query": '{ node(id: "aut_nothing") { id } }'})
    await http.post("/graphql", json={"query": "mutation { __typename }"})
    after = await scrape(http)

    def delta(execution: str, reason: str) -> float:
        name = "tsp_graphql_executions_total"
        return value(after, name, execution=execution, reason=reason) - value(
            before, name, execution=execution, reason=reason
        )

    assert delta("planned", "") == 1
    assert delta("fallen_back", "error") == 1
    assert delta("unplanned", "mutation") == 1
    assert delta("fallen_back", "bug") == 0
