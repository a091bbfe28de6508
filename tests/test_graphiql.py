"""The offline GraphiQL page: local assets only, demo banner, JSON-safe tokens."""

from __future__ import annotations

import json
from collections.abc import Mapping
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
import strawberry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from web import graphiql
from web.graphiql import (
    ASSET_FILES,
    FAVICON_URL,
    assets_installed,
    graphiql_response,
    static_routes,
)

EVIL_TOKEN = 'ey.x</script><script>alert("pwned")</script><!--'
TOKENS = {"partner": "tok-partner", "seller": "tok-seller", "admin": EVIL_TOKEN}


@strawberry.type
class Query:
    hello: str = "world"


class _GraphQLApp(GraphQL[None, Query]):
    def __init__(self, demo_tokens: Mapping[str, str] | None) -> None:
        super().__init__(strawberry.Schema(query=Query))
        self.demo_tokens = demo_tokens

    async def get_root_value(self, request: Request | WebSocket) -> Query:
        # Plain fields resolve as attributes of the root value.
        return Query()

    async def render_graphql_ide(self, request: Request) -> Response:
        return graphiql_response(self.demo_tokens)


def _client(demo_tokens: Mapping[str, str] | None = None) -> httpx.AsyncClient:
    app = Starlette(routes=[*static_routes(), Route("/graphql", endpoint=_GraphQLApp(demo_tokens))])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


class _PageParser(HTMLParser):
    """Collects every src/href and the text of the JSON config script."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.config_text = ""
        self._in_config = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value is not None:
                self.urls.append(value)
        self._in_config = tag == "script" and ("id", "graphiql-config") in attrs

    def handle_endtag(self, tag: str) -> None:
        self._in_config = False

    def handle_data(self, data: str) -> None:
        if self._in_config:
            self.config_text += data


def _parse(page: str) -> _PageParser:
    parser = _PageParser()
    parser.feed(page)
    parser.close()
    return parser


async def _get_page(demo_tokens: Mapping[str, str] | None = None) -> str:
    async with _client(demo_tokens) as client:
        resp = await client.get("/graphql", headers={"Accept": "text/html"})
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    return resp.text


def _require_assets() -> None:
    if not assets_installed():
        pytest.fail(
            f"GraphiQL assets missing from {graphiql.STATIC_DIR}; run the setup step "
            "`make web/static/.stamp` (also done by `make run` / `make test`)."
        )


async def test_get_with_html_accept_returns_graphiql_page() -> None:
    _require_assets()
    page = await _get_page()
    assert '<div id="graphiql">' in page
    assert "Demo mode" not in page


@pytest.mark.parametrize("tokens", [None, TOKENS])
async def test_assets_are_local_and_served(tokens: Mapping[str, str] | None) -> None:
    _require_assets()
    page = await _get_page(tokens)
    urls = _parse(page).urls
    assert sorted(urls) == sorted(
        [FAVICON_URL, *(f"/static/graphiql/{name}" for name in ASSET_FILES)]
    )
    async with _client() as client:
        for url in [*urls, "/favicon.ico"]:
            resp = await client.get(url)
            assert resp.status_code == 200, url
            ctype = resp.headers["content-type"]
            expected = {".css": "css", ".svg": "svg", ".ico": "svg"}.get(url[-4:], "javascript")
            assert expected in ctype, (url, ctype)


@pytest.mark.parametrize("tokens", [None, TOKENS])
async def test_page_has_no_absolute_urls(tokens: Mapping[str, str] | None) -> None:
    page = await _get_page(tokens)
    assert "http://" not in page
    assert "https://" not in page


async def test_demo_banner_only_with_tokens() -> None:
    assert "Demo mode" not in await _get_page()
    page = await _get_page(TOKENS)
    assert "Demo mode" in page
    for role in TOKENS:
        assert f'data-demo-role="{role}"' in page
    assert "tok-partner" in page


async def test_tokens_are_embedded_json_safely() -> None:
    page = await _get_page(TOKENS)
    parsed = _parse(page)
    # The config element must hold the whole JSON, not end at the token's "</script>".
    config = json.loads(parsed.config_text)
    assert config["demoTokens"] == TOKENS
    assert config["endpoint"] == "/graphql"
    assert "</script>" not in parsed.config_text
    # Nor may the token inject markup via the visible banner.
    assert "<script>alert" not in page
    assert page.count("<script") == page.count("</script>")


async def test_missing_assets_page_says_run_make_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(graphiql, "STATIC_DIR", tmp_path)
    page = await _get_page()
    assert "make run" in page
    assert _parse(page).urls == [FAVICON_URL]  # the favicon needs no npm assets


async def test_post_query_still_works() -> None:
    async with _client(TOKENS) as client:
        resp = await client.post("/graphql", json={"query": "{ hello }"})
    assert resp.status_code == 200
    assert resp.json() == {"data": {"hello": "world"}}


async def test_demo_banner_is_collapsible_with_short_role_buttons() -> None:
    page = await _get_page(TOKENS)
    start = page.index('id="demo-banner"')
    banner = page[start : page.index("</details>", start)]
    assert page[:start].rstrip().endswith('<details class="demo"')
    assert "<summary>" in banner
    labels = [label for label in ("Partner", "Seller", "Admin") if f">{label}</button>" in banner]
    assert labels == ["Partner", "Seller", "Admin"]
    # No whole JWT on the page outside the JSON config the buttons read.
    assert "tok-partner" not in banner and "tok-seller" not in banner


async def test_graphiql_opens_with_an_example_tab_per_role_task() -> None:
    from graphql import parse, validate

    from schema.api import schema
    from web.examples import EXAMPLES

    config = json.loads(_parse(await _get_page(TOKENS)).config_text)
    tabs = config["defaultTabs"]
    assert len(tabs) == len(EXAMPLES) >= 5
    for example, tab in zip(EXAMPLES, tabs, strict=True):
        assert validate(schema._schema, parse(tab["query"])) == [], tab["query"]
        headers = json.loads(tab.get("headers", "{}"))
        expected = f"Bearer {TOKENS[example.role]}" if example.role else None
        assert headers.get("Authorization") == expected
    assert {e.role for e in EXAMPLES} == {None, "partner", "seller", "admin"}
    # Without the demo, the tabs carry no headers.
    plain = json.loads(_parse(await _get_page()).config_text)["defaultTabs"]
    assert all("headers" not in tab for tab in plain)
