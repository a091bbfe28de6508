"""The smallest Strawberry + Starlette app: the baseline ``bench/http.py`` compares with.

``uvicorn bench.hello_app:app`` serves ``{ hello }`` (and ``__typename``) at /graphql.
"""

from __future__ import annotations

import strawberry
from starlette.applications import Starlette
from starlette.routing import Route
from strawberry.asgi import GraphQL


@strawberry.type
class Query:
    @strawberry.field
    def hello(self) -> str:
        return "world"


app = Starlette(routes=[Route("/graphql", GraphQL(strawberry.Schema(query=Query)))])
