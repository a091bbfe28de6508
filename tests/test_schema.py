"""Schema-wide promises: everything is described, and the SDL export matches the schema."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
    specified_scalar_types,
)
from strawberry.types.base import StrawberryObjectDefinition

from cli import main
from schema import contract
from schema.api import schema


def test_every_type_field_and_argument_has_a_description() -> None:
    missing: list[str] = []
    for name, graphql_type in schema._schema.type_map.items():
        if name.startswith("__") or name in {"String", "Int", "Boolean", "ID", "Float"}:
            continue
        if not graphql_type.description and name not in {"Query", "Mutation"}:
            missing.append(name)
        if isinstance(graphql_type, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in graphql_type.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                for argument_name, argument in field.args.items():
                    if not argument.description:
                        missing.append(f"{name}.{field_name}({argument_name})")
        if isinstance(graphql_type, GraphQLEnumType):
            assert graphql_type.values, name
    assert missing == []


def test_connections_are_relay_shaped() -> None:
    sdl = schema.as_str()
    for connection in ("PartnerConnection", "ServiceConnection", "ServiceCategoryConnection"):
        assert f"type {connection} {{" in sdl
    assert "hasNextPage: Boolean!" in sdl
    assert "node(" in sdl and "nodes(" in sdl


def test_committed_schema_matches_the_export() -> None:
    committed = (Path(__file__).parent.parent / "schema.graphql").read_text(encoding="utf-8")
    assert committed == contract.exported_sdl(), (
        "schema.graphql differs from the schema: run `tsp-gateway export-schema --check` to see "
        "whether the change breaks clients, then `make schema`"
    )


def test_roots_have_the_conventional_names() -> None:
    # Tools find roots by these names (graphql-inspector's coverage, some code generators).
    graphql_schema = schema._schema
    assert graphql_schema.query_type is not None and graphql_schema.query_type.name == "Query"
    assert graphql_schema.mutation_type is not None
    assert graphql_schema.mutation_type.name == "Mutation"
    assert graphql_schema.subscription_type is not None
    assert graphql_schema.subscription_type.name == "Subscription"


def test_every_custom_scalar_says_its_format_and_links_its_standard() -> None:
    custom = {
        name: scalar
        for name, scalar in schema._schema.type_map.items()
        if isinstance(scalar, GraphQLScalarType) and name not in specified_scalar_types
    }
    assert {"Date", "DateTime", "Decimal", "JSON"} <= custom.keys()
    for name, scalar in custom.items():
        assert scalar.specified_by_url and scalar.specified_by_url.startswith("https://"), name
        assert scalar.description and len(scalar.description) > 80, name
    assert "rfc3339" in (custom["Date"].specified_by_url or "")
    assert "rfc3339" in (custom["DateTime"].specified_by_url or "")


@pytest.mark.parametrize(
    ("value", "sent"),
    [("1E+3", "1000"), ("25000.50", "25000.50"), ("-1", "-1"), ("1E-7", "0.0000001")],
)
def test_decimals_are_sent_in_plain_notation(value: str, sent: str) -> None:
    decimal = schema._schema.type_map["Decimal"]
    assert isinstance(decimal, GraphQLScalarType)
    assert decimal.serialize(Decimal(value)) == sent


def _committed() -> str:
    return contract.exported_sdl()


def test_check_passes_on_the_committed_contract(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "schema.graphql"
    path.write_text(_committed(), encoding="utf-8")
    assert main(["export-schema", "--check", str(path)]) == 0
    assert "matches" in capsys.readouterr().out


# Each case edits the contract as it would have been before a change the code now makes.
BREAKING_CHANGES = {
    "field removed": (
        (
            "type ServiceOffer implements Node {\n",
            "type ServiceOffer implements Node {\n  legacyCode: String!\n",
        ),
        "ServiceOffer.legacyCode was removed",
    ),
    "output made nullable": (
        ("  acceptedAt: DateTime\n", "  acceptedAt: DateTime!\n"),
        "ServiceOffer.acceptedAt changed type from DateTime! to DateTime",
    ),
    "input made required": (
        ("    period: RenewalPeriod!\n", "    period: RenewalPeriod\n"),
        "changed type from RenewalPeriod to RenewalPeriod!",
    ),
}


@pytest.mark.parametrize("case", BREAKING_CHANGES)
def test_check_names_breaking_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    (old, new), breaking = BREAKING_CHANGES[case]
    sdl = _committed()
    assert old in sdl
    path = tmp_path / "schema.graphql"
    path.write_text(sdl.replace(old, new, 1), encoding="utf-8")
    assert main(["export-schema", "--check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "BREAKING" in err and breaking in err, err


def test_check_names_a_renamed_root_as_breaking(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The contract as it was before the subscription root took its conventional name.
    sdl = _committed().replace("type Subscription {", "type EventSubscription {")
    sdl = (
        "schema {\n  query: Query\n  mutation: Mutation\n  subscription: EventSubscription\n}\n\n"
        + sdl
    )
    path = tmp_path / "schema.graphql"
    path.write_text(sdl, encoding="utf-8")
    assert main(["export-schema", "--check", str(path)]) == 1
    err = capsys.readouterr().err
    assert (
        "BREAKING ROOT_TYPE_RENAMED: the subscription root type EventSubscription is now "
        "Subscription." in err
    ), err


def test_check_says_an_addition_is_not_breaking(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "schema.graphql"
    # The contract lacks a field the code has: an addition, not breaking, but out of date.
    sdl = _committed()
    field = sdl.index("  canBeAccepted: Boolean!")
    start = sdl.rindex("\n\n", 0, field) + 1  # with its description
    end = sdl.index("\n", field) + 1
    path.write_text(sdl[:start] + sdl[end:], encoding="utf-8")
    assert main(["export-schema", "--check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "No breaking change." in err and "make schema" in err


def test_check_without_a_contract_says_how_to_make_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export-schema", "--check", str(tmp_path / "missing.graphql")]) == 2
    assert "make schema" in capsys.readouterr().err


def _resolver_of(type_: type, field_name: str) -> object:
    definition = type_.__strawberry_definition__  # type: ignore[attr-defined]
    field = next(f for f in definition.fields if f.python_name == field_name)
    assert field.base_resolver is not None, (type_, field_name)
    return field.base_resolver.wrapped_func


def test_shared_fields_are_one_resolver_each() -> None:
    from schema import history, owned_lists
    from schema.authorization import Authorization
    from schema.category_application import CategoryApplication
    from schema.partner import Partner
    from schema.seller import Seller
    from schema.seller_request import SellerRequest
    from schema.service import Service
    from schema.service_offer import ServiceOffer

    shared = {
        history.history: (Authorization, CategoryApplication, SellerRequest, Service, ServiceOffer),
        owned_lists.authorizations: (Partner, Seller, ServiceOffer),
        owned_lists.requests: (Partner, Seller),
    }
    for resolver, types in shared.items():
        for type_ in types:
            assert _resolver_of(type_, resolver.__name__) is resolver, (type_, resolver)


_VIEWER_RULE = re.compile(
    r"viewer\.(seller_id|partner_id|subject_id)\s*(==|!=)|(==|!=)\s*\S*viewer\.(seller_id|"
    r"partner_id|subject_id)\b|viewer\.is_admin"
)


def test_who_may_see_what_lives_in_the_visibility_module_alone() -> None:
    root = Path(__file__).parent.parent
    offenders = [
        f"{path.relative_to(root)}:{number}: {line.strip()}"
        for package in ("resolvers", "schema", "datastore", "web")
        for path in sorted((root / package).rglob("*.py"))
        if path != root / "resolvers" / "visibility.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if _VIEWER_RULE.search(line)
    ]
    assert offenders == []


def test_every_enum_value_has_a_description() -> None:
    missing = [
        f"{name}.{value}"
        for name, graphql_type in schema._schema.type_map.items()
        if isinstance(graphql_type, GraphQLEnumType) and not name.startswith("__")
        for value, definition in graphql_type.values.items()
        if not definition.description
    ]
    assert missing == []


def test_every_annotation_strawberry_reads_is_a_type_not_a_string() -> None:
    """A string annotation (``from __future__ import annotations`` in a schema module, or a
    quoted type) is parsed and evaluated by Strawberry at start-up: a third of importing the
    schema was that. Lazy types are ``Annotated["Name", strawberry.lazy(...)]``, not strings."""
    strings = [
        f"{name}.{field.python_name} ({kind}): {annotation.raw_annotation}"
        for name, converted in schema.schema_converter.type_map.items()
        if isinstance(converted.definition, StrawberryObjectDefinition)
        for field in converted.definition.fields
        for kind, annotation in [
            ("type", field.type_annotation),
            ("returns", field.base_resolver.type_annotation if field.base_resolver else None),
            *((f"argument {a.python_name}", a.type_annotation) for a in field.arguments),
        ]
        if annotation is not None and isinstance(annotation.raw_annotation, str)
    ]
    assert strings == []
