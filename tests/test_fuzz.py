"""Fuzzing the API over its exported schema (hypothesis-graphql): whatever operation a client
writes, valid or not, as any caller, the answer is never a 5xx or a masked INTERNAL error, every
error carries a code, and every userError path names a real argument of its mutation.

Examples are drawn up front, a bounded and derandomised number per run (so ``make test`` stays
fast and a failure reproduces), then sent through the app like any client request.
"""

from __future__ import annotations

import os
from datetime import UTC, timedelta
from typing import Any

import pytest
from graphql import (
    FieldNode,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLSchema,
    OperationDefinitionNode,
    build_schema,
    get_named_type,
    get_nullable_type,
    parse,
)
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema, nodes

from datastore import collections as c
from datastore.codec import utc_now
from datastore.ids import new_id, new_token
from datastore.store import DocumentStore
from resolvers.identity import Role
from resolvers.offer_dates import day_after, day_start
from schema.contract import exported_sdl
from tests.conftest import GraphQLClient, PartnerFactory, SellerFactory, ServiceFactory, token

EXAMPLES = int(os.environ.get("TSP_FUZZ_EXAMPLES", "40"))
"""Operations drawn per mode; each is sent once per caller (raise it for a deeper local run)."""

SCHEMA: GraphQLSchema = build_schema(exported_sdl())

_TEXT = st.text(max_size=12)
CUSTOM_SCALARS = {
    "Date": st.one_of(st.dates().map(lambda d: d.isoformat()), _TEXT).map(nodes.String),
    "DateTime": st.one_of(
        st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()),
        # Naive moments, and aware ones that leave the calendar once in UTC.
        st.datetimes().map(lambda d: d.isoformat()),
        st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"]),
        _TEXT,
    ).map(nodes.String),
    "Decimal": st.one_of(
        st.decimals(allow_nan=True, allow_infinity=True).map(str),
        st.sampled_from(["NaN", "sNaN", "-Infinity", "1e999999", "-0.00"]),
        _TEXT,
    ).map(nodes.String),
    "JSON": _TEXT.map(nodes.String),
}


def _draw(mode: Mode) -> list[str]:
    """A bounded, reproducible sample of operations (no shrinking: each failure names its
    operation, which is short enough to read)."""
    drawn: list[str] = []

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        deadline=None,
    )
    @given(from_schema(SCHEMA, custom_scalars=CUSTOM_SCALARS, mode=mode))
    def collect(operation: str) -> None:
        drawn.append(operation)

    collect()
    return drawn


def _argument_path_exists(field: GraphQLField, path: list[str]) -> bool:
    """Whether ``path`` walks from one of ``field``'s arguments through input fields and list
    indexes."""
    if not path or path[0] not in field.args:
        return False
    current: GraphQLInputType = field.args[path[0]].type
    for step in path[1:]:
        current = get_nullable_type(current)  # type: ignore[assignment]
        if isinstance(current, GraphQLList):
            if not step.isdigit():
                return False
            current = current.of_type
            continue
        named = get_named_type(current)
        if not isinstance(named, GraphQLInputObjectType) or step not in named.fields:
            return False
        current = named.fields[step].type
    return True


def _check_user_error_paths(operation: str, data: dict[str, Any] | None) -> None:
    document = parse(operation)
    mutation_type = SCHEMA.mutation_type
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode) or mutation_type is None:
            continue
        if definition.operation.value != "mutation":
            continue
        for selection in definition.selection_set.selections:
            if not isinstance(selection, FieldNode):
                continue
            key = (selection.alias or selection.name).value
            payload = (data or {}).get(key)
            if not isinstance(payload, dict):
                continue
            field = mutation_type.fields[selection.name.value]
            for error in payload.get("userErrors") or []:
                path = error.get("field")
                if path is not None:
                    assert _argument_path_exists(field, path), (operation, error)


def _check(operation: str, status: int, body: Any) -> None:
    assert status < 500, (operation, status, body)
    assert isinstance(body, dict), (operation, body)
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        assert code, (operation, error)
        assert code != "INTERNAL", (operation, error)
    _check_user_error_paths(operation, body.get("data"))


@pytest.fixture
async def callers(
    store: DocumentStore,
    make_partner: PartnerFactory,
    make_seller: SellerFactory,
    make_service: ServiceFactory,
) -> dict[str, str | None]:
    """A partner with a live service and an open offer, and a seller, so that generated
    operations meet real documents as well as unknown ids."""
    partner = await make_partner()
    service = await make_service(partner)
    seller = await make_seller()
    now = utc_now()
    await store.insert(
        c.SERVICE_OFFERS,
        {
            "_id": new_id("ofr"),
            "partnerId": partner["_id"],
            "serviceIds": [service["_id"]],
            "startsAt": day_start(now.date()),
            "endsAt": day_after(now.date() + timedelta(days=30)),
            "contact": None,
            "settings": {
                "authorizeObject": "SHOP",
                "ticketAuthorization": True,
                "tspAccess": False,
                "dataCompassAccess": False,
            },
            "linkToken": new_token(),
            "status": "OPEN",
            "createdAt": now,
            "updatedAt": now,
        },
    )
    return {
        "anonymous": None,
        "admin": token(Role.ADMIN),
        "partner": token(Role.PARTNER, partner["_id"]),
        "seller": token(Role.SELLER, seller["_id"]),
    }


@pytest.mark.parametrize("mode", [Mode.POSITIVE, Mode.NEGATIVE], ids=["valid", "invalid"])
async def test_generated_operations_never_fail_the_server(
    gql: GraphQLClient, callers: dict[str, str | None], mode: Mode
) -> None:
    operations = _draw(mode)
    assert len(operations) == EXAMPLES
    for operation in operations:
        for caller in callers.values():
            response = await gql.post(operation, as_=caller)
            _check(operation, response.status_code, response.json())


def test_the_path_check_refuses_invented_paths() -> None:
    mutation_type = SCHEMA.mutation_type
    assert mutation_type is not None
    withdraw = mutation_type.fields["withdrawServiceOffer"]
    assert _argument_path_exists(withdraw, ["id"])
    assert not _argument_path_exists(withdraw, ["input", "id"])
    create = mutation_type.fields["createRequest"]
    assert _argument_path_exists(create, ["input", "business", "shopMonthlyGmv"])
    assert _argument_path_exists(create, ["input", "partnerIds", "3"])
    assert not _argument_path_exists(create, ["input", "partnerIds", "x"])
    assert not _argument_path_exists(create, ["seller"])
