"""Schema-wide promises: everything is described, and the SDL export matches the schema."""

from __future__ import annotations

from graphql import GraphQLEnumType, GraphQLInterfaceType, GraphQLObjectType

from schema import schema


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
