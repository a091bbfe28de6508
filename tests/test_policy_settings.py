"""Policy settings from the environment: defaults on, values honoured, bad ones refused with a
message naming the variable (the gateway does not start)."""

from __future__ import annotations

import pytest

from edge.gateway_settings import Settings, SettingsError
from edge.settings import EdgeSettingsError, policy_from_env
from tests.conftest import JWT_SECRET


def test_defaults_are_on() -> None:
    policy = policy_from_env({}, demo=False)
    assert policy.max_query_cost == 1000
    assert policy.throttle.enabled and policy.throttle.capacity == 2000
    assert policy.throttle.restore_rate == 100
    limits = policy.limits
    assert (limits.max_depth, limits.max_aliases, limits.max_tokens) == (12, 30, 1000)
    assert (limits.max_selections, limits.max_document_length) == (1_000, 20_000)
    assert not policy.limits.introspection and not policy.trusted_documents_only
    assert policy_from_env({}, demo=True).limits.introspection


def test_values_are_honoured() -> None:
    policy = policy_from_env(
        {
            "TSP_MAX_QUERY_COST": "50",
            "TSP_THROTTLE": "off",
            "TSP_THROTTLE_RESTORE_RATE": "2.5",
            "TSP_MAX_DEPTH": "4",
            "TSP_MAX_ALIASES": "0",
            "TSP_INTROSPECTION": "1",
            "TSP_TRUSTED_DOCUMENTS_ONLY": "yes",
            "TSP_MAX_SELECTIONS": "40",
            "TSP_MAX_DOCUMENT_LENGTH": "900",
        },
        demo=False,
    )
    assert policy.max_query_cost == 50 and not policy.throttle.enabled
    assert (policy.limits.max_selections, policy.limits.max_document_length) == (40, 900)
    assert policy.throttle.restore_rate == 2.5
    assert policy.limits.max_depth == 4 and policy.limits.max_aliases == 0
    assert policy.limits.introspection and policy.trusted_documents_only


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TSP_MAX_QUERY_COST", "lots"),
        ("TSP_MAX_QUERY_COST", "-5"),
        ("TSP_MAX_QUERY_COST", "0"),
        ("TSP_MAX_DEPTH", "1.5"),
        ("TSP_MAX_ALIASES", "-1"),
        ("TSP_MAX_SELECTIONS", "0"),
        ("TSP_MAX_DOCUMENT_LENGTH", "many"),
        ("TSP_THROTTLE_CAPACITY", "nan"),
        ("TSP_THROTTLE_RESTORE_RATE", "0"),
        ("TSP_THROTTLE_ADMIN_CAPACITY", "inf"),
        ("TSP_THROTTLE", "maybe"),
        ("TSP_INTROSPECTION", "2"),
        ("TSP_GRAPHIQL", "sure"),
    ],
)
def test_bad_values_refuse_to_start_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({"TSP_JWT_SECRET": JWT_SECRET, name: value})


def test_an_odd_value_is_quoted_briefly() -> None:
    with pytest.raises(EdgeSettingsError) as refused:
        policy_from_env({"TSP_MAX_TOKENS": "9" * 10_000 + "x"}, demo=False)
    assert len(str(refused.value)) < 400
