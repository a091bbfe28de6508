"""Planned execution: queries answered from plans made once per document, byte for byte what
graphql-core answers (the whole suite checks every query it sends both ways, see
``tests/conftest.py``; these tests check what the suite would not show on its own)."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import json
import re
import weakref
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from graphql import (
    FragmentDefinitionNode,
    OperationDefinitionNode,
    OperationType,
    get_named_type,
    is_leaf_type,
    parse,
)

from datastore import collections as c
from datastore.codec import utc_now
from datastore.documents import HistoryDocument, PartnerDocument
from datastore.ids import new_id
from datastore.store import DocumentStore
from edge import planned_execution
from edge.cost import actual_cost
from edge.engine import FragmentDetails, VariableValues
from edge.gateway_settings import Settings, SettingsError
from edge.operation_plans import Access, ObjectPlan, OperationPlan, plan_of, planned
from edge.plan_assembly import BRANCHES, branch_hooks
from edge.planned_execution import Execution, PlannedExecutor
from edge.request import GatewayContext
from resolvers.identity import Role, Viewer
from schema.api import build_schema
from schema.authorization import Authorization
from schema.document_reads import field_read
from schema.pagination import Part
from tests.conftest import (
    JWT_SECRET,
    SETTINGS,
    GraphQLClient,
    Make,
    serving,
    token,
)
from tests.test_dashboard import DASHBOARD, _accepted_offers

OPERATIONS = Path(__file__).parent.parent / "web" / "app" / "operations"
SCHEMA = build_schema(executor=PlannedExecutor)._schema


PartnerWithOffers = Callable[[int], Awaitable[PartnerDocument]]


@pytest.fixture
def partner_with_offers(gql: GraphQLClient, store: DocumentStore, make: Make) -> PartnerWithOffers:
    """A new partner whose ``count`` offers sellers accepted through the API."""

    async def build(count: int) -> PartnerDocument:
        partner = await make.partner()
        await _accepted_offers(count, gql, store, partner, make)
        return partner

    return build


def test_every_query_the_app_sends_is_planned() -> None:
    queries = 0
    for path in sorted(OPERATIONS.glob("*.graphql")):
        document = parse(path.read_text())
        fragments = {
            d.name.value: FragmentDetails(d)
            for d in document.definitions
            if isinstance(d, FragmentDefinitionNode)
        }
        for operation in document.definitions:
            if isinstance(operation, OperationDefinitionNode):
                if operation.operation is OperationType.QUERY:
                    queries += 1
                    plan = plan_of(SCHEMA, operation, fragments, VariableValues({}, {}))
                    assert isinstance(plan, OperationPlan), path.name
                else:
                    assert plan_of(SCHEMA, operation, fragments, VariableValues({}, {})) is None
    assert queries >= 5


def test_a_document_is_planned_once_per_choice_of_its_conditions() -> None:
    operation = parse("""query($full: Boolean!) { serviceCategories(first: 2) {
      edges { node { id name @include(if: $full) } } } }""").definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    full = plan_of(SCHEMA, operation, {}, VariableValues({}, {"full": True}))
    short = plan_of(SCHEMA, operation, {}, VariableValues({}, {"full": False}))
    assert full is plan_of(SCHEMA, operation, {}, VariableValues({}, {"full": True}))
    assert full is not None and short is not None and full is not short

    def node_keys(plan: OperationPlan) -> list[str]:
        connection = plan.root.fields[0].completion.object_plan
        assert connection is not None
        edge = connection.fields[0].completion.item
        assert edge is not None and edge.object_plan is not None
        node = edge.object_plan.fields[0].completion.object_plan
        assert node is not None
        return [field.key for field in node.fields]

    assert node_keys(full) == ["id", "name"]
    assert node_keys(short) == ["id"]


def test_a_documents_plans_go_with_it() -> None:
    # A plan holds its operation's nodes: kept anywhere but on the operation, it would keep
    # every document ever planned alive (and the garbage collector walking them all).
    operation = parse("{ serviceCategories(first: 2) { nodes { name } } }").definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    assert isinstance(plan_of(SCHEMA, operation, {}, VariableValues({}, {})), OperationPlan)
    gone = weakref.ref(operation)
    del operation
    gc.collect()
    assert gone() is None


def test_introspection_runs_interpreted() -> None:
    operation = parse("{ __schema { queryType { name } } }").definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    assert plan_of(SCHEMA, operation, {}, VariableValues({}, {})) is None


async def _answer(
    store: DocumentStore, execution: Execution, query: str, partner_id: str | None
) -> tuple[bytes, int]:
    """The response body to ``query`` as the partner (anonymous: ``None``) from an app
    executing as ``execution``, and the store's round trips for it."""
    caller = {"Authorization": f"Bearer {token(Role.PARTNER, partner_id)}"} if partner_id else {}
    async with serving(store, dataclasses.replace(SETTINGS, execution=execution)) as http:
        store.stats.reset()
        response = await http.post("/graphql", json={"query": query}, headers=caller)
        return response.content, store.stats.round_trips


async def test_the_dashboard_planned_is_the_interpreted_answer_in_no_more_round_trips(
    store: DocumentStore, partner_with_offers: PartnerWithOffers
) -> None:
    partner = await partner_with_offers(4)
    planned, planned_trips = await _answer(store, Execution.PLANNED, DASHBOARD, partner["_id"])
    interpreted, interpreted_trips = await _answer(
        store, Execution.INTERPRETED, DASHBOARD, partner["_id"]
    )
    assert b'"errors"' not in planned
    assert planned == interpreted
    assert planned_trips <= interpreted_trips


async def test_a_level_being_completed_lets_other_work_run_once_its_slice_is_spent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ran: list[str] = []

    async def other_request() -> None:
        ran.append("other request")

    waiting = asyncio.ensure_future(other_request())
    monkeypatch.setattr(planned_execution, "SLICE_SECONDS", 3600.0)
    await planned_execution.LoopShare().share()
    assert ran == []  # within its slice, a run keeps the loop
    monkeypatch.setattr(planned_execution, "SLICE_SECONDS", 0.0)
    await planned_execution.LoopShare().share()
    assert ran == ["other request"]
    await waiting


async def test_a_run_sharing_the_loop_after_every_object_answers_the_same(
    store: DocumentStore, partner_with_offers: PartnerWithOffers, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Three partners: each one's services and offers are a resolver's read, and the three
    # reads of a level go out in one batch however often the run shares the loop.
    partner, *_ = [await partner_with_offers(2) for _ in range(3)]
    query = """{ store(first: 10) { nodes { name partner { name
      services(first: 5) { nodes { name description pricing } }
      approvedCategories { market } } } }
      viewer { partner { serviceOffers(first: 3) { nodes { id services { name } } } } } }"""
    interpreted, _ = await _answer(store, Execution.INTERPRETED, query, partner["_id"])
    monkeypatch.setattr(planned_execution, "SLICE_SECONDS", 0.0)
    shared, trips = await _answer(store, Execution.PLANNED, query, partner["_id"])
    monkeypatch.setattr(planned_execution, "SLICE_SECONDS", 3600.0)
    whole, whole_trips = await _answer(store, Execution.PLANNED, query, partner["_id"])
    assert b'"errors"' not in shared and b'"services":{"nodes":[{"name"' in shared
    assert shared == whole == interpreted
    assert trips == whole_trips


@pytest.mark.parametrize(
    "query",
    [
        '{ node(id: "aut_nothing") { id } }',
        '{ serviceCategories(first: 1) { edges { node { id } } } node(id: "nope") { id } }',
        '{ viewer { partner { name } } serviceOfferByLink(token: "gone") { id } }',
    ],
)
async def test_an_answer_with_errors_is_the_interpreted_one(
    store: DocumentStore, make: Make, query: str
) -> None:
    partner = await make.partner()
    planned, _ = await _answer(store, Execution.PLANNED, query, partner["_id"])
    interpreted, _ = await _answer(store, Execution.INTERPRETED, query, partner["_id"])
    assert b'"errors"' in planned
    assert planned == interpreted


async def test_errors_are_graphql_cores_in_its_order_whatever_the_planned_run_loaded(
    store: DocumentStore, make: Make
) -> None:
    # The planned run loads the authorization before meeting the link's error; graphql-core,
    # run on what it loaded, would find `b`'s error first (a cold run finds `a`'s first).
    partner = await make.partner()
    seller = await make.seller()
    authorization = await make.authorization(seller, await make.service(partner))
    query = (
        '{ a: serviceOfferByLink(token: "nope") { id } '
        f'b: node(id: "{authorization["_id"]}") {{ id }} }}'
    )
    planned, _ = await _answer(store, Execution.PLANNED, query, None)
    interpreted, _ = await _answer(store, Execution.INTERPRETED, query, None)
    assert [e["path"] for e in json.loads(interpreted)["errors"]] == [["a"], ["b"]]
    assert planned == interpreted
    await _answer(store, Execution.CHECKED, query, None)  # and checked mode compares errors


async def test_no_error_is_lost_whatever_the_planned_run_loaded(
    store: DocumentStore, make: Make
) -> None:
    # `nodes` is refused for another's seller and nulls the whole answer; graphql-core, run on
    # what the planned run loaded, would stop before recording the link's error.
    partner = await make.partner()
    seller = await make.seller()
    query = (
        f'{{ serviceOfferByLink(token: "nope") {{ id }} nodes(ids: ["{seller["_id"]}"]) {{ id }} }}'
    )
    planned, _ = await _answer(store, Execution.PLANNED, query, partner["_id"])
    interpreted, _ = await _answer(store, Execution.INTERPRETED, query, partner["_id"])
    errors = json.loads(interpreted)["errors"]
    assert [e["path"] for e in errors][:1] == [["serviceOfferByLink"]], errors
    assert planned == interpreted
    await _answer(store, Execution.CHECKED, query, partner["_id"])


def test_the_execution_comes_from_the_environment() -> None:
    env = {"TSP_JWT_SECRET": JWT_SECRET}
    assert Settings.from_env(env).execution is Execution.PLANNED
    assert (
        Settings.from_env({**env, "TSP_EXECUTION": "interpreted"}).execution
        is Execution.INTERPRETED
    )
    with pytest.raises(SettingsError, match="TSP_EXECUTION must be one of planned"):
        Settings.from_env({**env, "TSP_EXECUTION": "fast"})


def _object_plans(plan: ObjectPlan) -> list[ObjectPlan]:
    found = [plan]
    for field in plan.fields:
        completion = field.completion
        while completion.item is not None:
            completion = completion.item
        if completion.object_plan is not None:
            found += _object_plans(completion.object_plan)
    return found


def test_the_dashboard_reads_its_documents_and_builds_no_typed_object() -> None:
    operation = parse(DASHBOARD).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    plan = plan_of(SCHEMA, operation, {}, VariableValues({}, {}))
    assert plan is not None
    document_plans = [p for p in _object_plans(plan.root) if p.document_class is not None]
    assert {p.object_type.name for p in document_plans} == {
        "Partner",
        "ServiceOffer",
        "Service",
        "Authorization",
        "Seller",
        "Shop",
        "TikTokAccount",
        "HistoryEntry",
    }
    for document_plan in document_plans:
        assert not document_plan.reads_typed, document_plan.object_type.name
        assert {f.access for f in document_plan.fields} <= {
            Access.DOCUMENT_ATTRIBUTE,
            Access.DOCUMENT_FIELD,
        }
    # Counted as it is filled: no abstract type makes the walk's answer differ.
    assert plan.counts_cost


async def test_a_field_without_a_read_builds_the_typed_object_and_answers_the_same(
    store: DocumentStore, partner_with_offers: PartnerWithOffers
) -> None:
    query = """{ viewer { partner { serviceOffers(first: 5) { edges { node { id
      authorizations(first: 3) { edges { node { id changesFromOffer { field }
        serviceOffer { id } } } } } } } } } }"""
    operation = parse(query).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    plan = plan_of(SCHEMA, operation, {}, VariableValues({}, {}))
    assert plan is not None
    (authorization,) = [
        p for p in _object_plans(plan.root) if p.object_type.name == "Authorization"
    ]
    assert authorization.reads_typed
    partner = await partner_with_offers(2)
    planned, _ = await _answer(store, Execution.PLANNED, query, partner["_id"])
    interpreted, _ = await _answer(store, Execution.INTERPRETED, query, partner["_id"])
    assert b'"serviceOffer":{"id"' in planned
    assert planned == interpreted


async def test_a_planned_run_counts_the_actual_cost_the_answer_walk_finds(
    store: DocumentStore, partner_with_offers: PartnerWithOffers
) -> None:
    partner = await partner_with_offers(3)
    context = GatewayContext(
        store=store, viewer=Viewer(Role.PARTNER, partner["_id"]), request_id="counted"
    )
    result = await build_schema(executor=PlannedExecutor).execute(DASHBOARD, context_value=context)
    assert result.errors is None and result.data is not None
    document = parse(DASHBOARD)
    operation = document.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    walked = actual_cost(SCHEMA, document, operation, None, result.data)
    assert walked > 3 * 3  # offers, their authorizations and what hangs off them
    assert context.gateway.counted_cost == walked


async def test_pages_of_documents_answer_cursors_page_info_and_counts_as_interpreted(
    store: DocumentStore, partner_with_offers: PartnerWithOffers
) -> None:
    # Connections read as pages of documents (offers, their authorizations, history), with
    # every part of a connection a page fills itself or hands to its typed connection.
    query = """{ viewer { partner { serviceOffers(first: 2) {
      __typename totalCount pageInfo { hasNextPage endCursor startCursor }
      edges { __typename cursor node { id
        authorizations(first: 2) { nodes { id } edges { cursor node {
          history(first: 2) { totalCount edges { cursor node { action } } } } } } } } } } } }"""
    partner = await partner_with_offers(3)
    planned, _ = await _answer(store, Execution.PLANNED, query, partner["_id"])
    interpreted, _ = await _answer(store, Execution.INTERPRETED, query, partner["_id"])
    assert b'"errors"' not in planned
    assert planned.count(b'"cursor"') >= 2 + 2 + 2
    assert b'"hasNextPage":true' in planned
    assert planned == interpreted


@pytest.mark.parametrize(
    ("action", "reason_code"),
    [("CLOSE", None), ("ACCEPTED", "absent"), ("CLOSED", "RENEWED"), ("VANISHED", "EXPIRED")],
)
@pytest.mark.parametrize("selection", ["edges { node { __typename %s } }", "nodes { %s }"])
async def test_stored_values_read_as_interpreted_whatever_was_stored(
    store: DocumentStore, make: Make, action: str, reason_code: str | None, selection: str
) -> None:
    # Plans answer a history entry inline: a stored enum value through one map of stored
    # values to names, a date coerced in place. A legacy value, a code stored as None or not
    # at all, and a value no release ever stored read as resolvers read them.
    partner = await make.partner()
    service = await make.service(partner)
    entry: HistoryDocument = {
        "version": 1,
        "_id": new_id("hst"),
        "subjectId": service["_id"],
        "action": action,
        "createdAt": utc_now(),
    }
    if reason_code != "absent":
        entry["reasonCode"] = reason_code  # type: ignore[typeddict-item]
    await store.insert(c.HISTORY, entry)
    fields = selection % "action reasonCode createdAt"
    query = f"""{{ node(id: "{service["_id"]}") {{ ... on Service {{
      history {{ {fields} }} }} }} }}"""
    planned, _ = await _answer(store, Execution.PLANNED, query, partner["_id"])
    interpreted, _ = await _answer(store, Execution.INTERPRETED, query, partner["_id"])
    # Each request has its own id, which a masked error names.
    request_id = re.compile(rb"[0-9a-f]{32}")
    assert request_id.sub(b"<id>", planned) == request_id.sub(b"<id>", interpreted)
    if action == "VANISHED":
        assert b'"errors"' in planned
    else:
        assert b'"action":"%s"' % {"CLOSE": "CLOSED"}.get(action, action).encode() in planned
        assert b'"createdAt":"' in planned


UNPLANNABLE_ROOTS: dict[str, str] = {}
"""Root query fields a plan cannot answer, and why (none: every one has a plan)."""


def test_every_root_query_field_can_be_planned() -> None:
    query_type = SCHEMA.query_type
    assert query_type is not None
    unplanned = {}
    for name, field in query_type.fields.items():
        selection = "" if is_leaf_type(get_named_type(field.type)) else " { __typename }"
        operation = parse(f"{{ {name}{selection} }}").definitions[0]
        assert isinstance(operation, OperationDefinitionNode)
        plan = planned(SCHEMA, operation, {}, VariableValues({}, {}))
        if not isinstance(plan, OperationPlan):
            unplanned[name] = str(plan)
    assert len(query_type.fields) >= 13
    assert unplanned == UNPLANNABLE_ROOTS


_BRANCH_QUERIES = [
    DASHBOARD,
    """{ viewer { __typename partner { serviceOffers(first: 5) { edges { node { id
      authorizations(first: 3) { edges { node { id channel changesFromOffer { field }
        serviceOffer { id } } } } } } } } } }""",
    """{ viewer { partner { serviceOffers(first: 2) {
      totalCount pageInfo { hasNextPage endCursor startCursor }
      edges { cursor node { id authorizations(first: 2) { nodes { id daysRemaining statusReason }
        edges { cursor node { history(first: 2) { totalCount edges { cursor node { action } } }
      } } } } } } } } }""",
    """query($id: ID!) { node(id: $id) { id ... on ServiceOffer { status } } }""",
]


def _breaks(branch: str) -> dict[str, Callable[[str], list[str]]]:
    """Two ways to break a branch: it raises, or it answers one key too many."""
    return {
        "raises": lambda indent: [f"{indent}raise LookupError('broken {branch}')"],
        "answers wrong": lambda indent: [f"{indent}out['broken'] = {branch!r}"],
    }


async def test_breaking_any_generated_branch_fails_the_checked_suite(
    store: DocumentStore, partner_with_offers: PartnerWithOffers
) -> None:
    # Planned runs answer the app's kind of queries through every branch the generator has;
    # each one broken, either way, the checked comparison reports it (and so fails tests).
    partner = await partner_with_offers(2)
    offer = (await store.find(c.SERVICE_OFFERS, {"partnerId": partner["_id"]}))[0]
    caller = {"Authorization": f"Bearer {token(Role.PARTNER, partner['_id'])}"}
    unnoticed = []
    tally = planned_execution.executions.copy()  # its deliberate bugs are not the suite's
    rounds = [(name, how) for name in ("", *BRANCHES) for how in _breaks(name)]
    for round_, (branch, how) in enumerate(rounds):
        planned_execution.mismatches.clear()
        branch_hooks.clear()
        if branch:
            branch_hooks[branch] = _breaks(branch)[how]
        try:
            async with serving(store, SETTINGS) as http:
                for query in _BRANCH_QUERIES:
                    # A text of its own: parsed, planned and generated again with the hook.
                    body = {"query": f"{query}\n# {round_}", "variables": {"id": offer["_id"]}}
                    response = await http.post("/graphql", json=body, headers=caller)
                    assert b'"errors"' not in response.content, response.content
        finally:
            branch_hooks.clear()
        found = list(planned_execution.mismatches)
        planned_execution.mismatches.clear()
        if not branch:
            assert found == [], found  # unbroken, the planned answers are the interpreted ones
        elif not found:
            unnoticed.append(f"{branch} ({how})")
    planned_execution.executions.clear()
    planned_execution.executions.update(tally)
    assert unnoticed == []


async def test_a_planned_run_ending_on_a_bug_is_answered_interpreted_and_logged_once_per_plan(
    store: DocumentStore, make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    partner = await make.partner()
    await make.service(partner)
    caller = {"Authorization": f"Bearer {token(Role.PARTNER, partner['_id'])}"}
    query = "{ viewer { partner { name services(first: 2) { nodes { name } } } } }"
    branch_hooks["exact leaf"] = lambda indent: [f"{indent}raise LookupError('broken')"]
    try:
        settings = dataclasses.replace(SETTINGS, execution=Execution.PLANNED)
        async with serving(store, settings) as http:
            answers = [
                await http.post(
                    "/graphql",
                    json={"query": query},
                    headers={**caller, "X-Request-ID": f"bug-{n}"},
                )
                for n in range(4)
            ]
    finally:
        branch_hooks.clear()
    interpreted, _ = await _answer(store, Execution.INTERPRETED, query, partner["_id"])
    assert [a.content for a in answers] == [interpreted] * 4
    logged = [r.getMessage() for r in caplog.records if "ended on a bug" in r.getMessage()]
    # The text's first document was parsed for its request alone (the parser cache keeps a
    # document from its second time): a plan of its own. The other three share one plan.
    assert [n for n in range(4) if any(f"bug-{n}:" in m for m in logged)] == [0, 1], logged
    assert all("LookupError" in m for m in logged)


async def test_a_stored_field_changed_in_its_declaration_changes_both_ways(
    store: DocumentStore,
    partner_with_offers: PartnerWithOffers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `daysRemaining` is declared once (schema.authorization): its resolver and the plans'
    # read both come from that declaration, so changing it changes every path.
    declared = field_read(_resolver_of(Authorization, "days_remaining"))
    assert declared is not None
    monkeypatch.setattr(declared, "read", lambda document, context: 4242)
    partner = await partner_with_offers(1)
    query = """{ viewer { partner { authorizations(first: 3) { nodes { daysRemaining } } } } }
    # changed"""
    planned_answer, _ = await _answer(store, Execution.PLANNED, query, partner["_id"])
    interpreted, _ = await _answer(store, Execution.INTERPRETED, query, partner["_id"])
    checked, _ = await _answer(store, Execution.CHECKED, query, partner["_id"])
    assert b'"daysRemaining":4242' in planned_answer
    assert planned_answer == interpreted == checked


def _resolver_of(type_: type, name: str) -> Callable[..., object]:
    definition = type_.__strawberry_definition__  # type: ignore[attr-defined]
    field = next(f for f in definition.fields if f.python_name == name)
    resolver: Callable[..., object] = field.base_resolver.wrapped_func
    return resolver


def test_the_engine_s_private_names_are_used_in_edge_engine_only() -> None:
    # Only the top-level packages are Strawberry's and graphql-core's API (and a few public
    # modules of Strawberry's); the executor reaches anything else through edge/engine.py.
    public = {"graphql", "graphql.language", "strawberry", "strawberry.permission"}
    imported = re.compile(r"^\s*from ((?:graphql|strawberry)(?:\.\w+)*) import", re.M)
    edge = Path(__file__).parent.parent / "edge"
    offenders = {
        f"{module.name}: {name}"
        for module in edge.glob("*.py")
        if module.name in {"planned_execution.py", "operation_plans.py", "plan_assembly.py"}
        for name in imported.findall(module.read_text())
        if name not in public
    }
    assert offenders == set()


def test_connections_are_recognised_by_their_declared_parts() -> None:
    operation = parse("""{ serviceCategories(first: 2) { edges { cursor node { id } }
      pageInfo { hasNextPage } } }""").definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    plan = plan_of(SCHEMA, operation, {}, VariableValues({}, {}))
    assert plan is not None
    connection = plan.root.fields[0].completion.object_plan
    assert connection is not None and connection.connection
    assert [connection.part(f) for f in connection.fields] == [Part.EDGES, Part.PAGE_INFO]
    edge = connection.fields[0].completion.item
    assert edge is not None and edge.object_plan is not None
    assert [edge.object_plan.part(f) for f in edge.object_plan.fields] == [Part.CURSOR, Part.NODE]
    assert not edge.object_plan.connection
