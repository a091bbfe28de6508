"""GraphiQL served from the gateway's own files, so /graphql works offline.

The browser assets are installed from npm by the ``web/static/.stamp`` make
target (see ``web/Makefile.fragment``) and mounted under ``/static/graphiql``.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from web.examples import default_tabs
from web.unbuilt import BuiltFiles

__all__ = [
    "ASSET_FILES",
    "FAVICON_URL",
    "STATIC_DIR",
    "STATIC_URL",
    "assets_installed",
    "graphiql_response",
    "render_graphiql",
    "static_routes",
]

STATIC_DIR: Path = Path(__file__).resolve().parent / "static"
STATIC_URL = "/static/graphiql"

# Load order matters: the GraphiQL UMD bundle reads the React globals.
_SCRIPTS = ("react.production.min.js", "react-dom.production.min.js", "graphiql.min.js")
_STYLESHEETS = ("graphiql.min.css",)
ASSET_FILES: tuple[str, ...] = _SCRIPTS + _STYLESHEETS

_TEMPLATE_PATH = Path(__file__).resolve().parent / "graphiql.html"
_FAVICON_PATH = Path(__file__).resolve().parent / "favicon.svg"
FAVICON_URL = "/favicon.svg"
_PLACEHOLDER = re.compile(r"\{\{ (\w+) \}\}")
_DEFAULT_QUERY = "# TSP Gateway: Ctrl+Enter runs the query.\n{\n  __typename\n}\n"


def assets_installed() -> bool:
    """Return True when every GraphiQL browser file is present in STATIC_DIR."""
    return all((STATIC_DIR / name).is_file() for name in ASSET_FILES)


def _script_json(value: object) -> str:
    # JSON inside <script> must not be able to close the element or open a
    # comment, whatever the data holds (e.g. a token containing "</script>").
    text = json.dumps(value, ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _demo_banner(demo_tokens: Mapping[str, str]) -> str:
    # Short labelled buttons, not whole JWTs: the token goes into the Headers editor on click.
    buttons = "".join(
        f'<button type="button" data-demo-role="{html.escape(role)}" '
        f'title="Put the demo {html.escape(role)} token in the Headers editor">'
        f"{html.escape(role.capitalize())}</button>"
        for role in demo_tokens
    )
    return (
        # Collapsed it is one line: the role buttons stay in the summary, the help folds away.
        '<details class="demo" id="demo-banner"><summary><strong>Demo mode</strong>: sign in as'
        f'<span class="roles">{buttons}</span><span class="more">how it works</span></summary>'
        "<p>A button puts that role's demo token in the <em>Headers</em> editor as "
        "<code>{&quot;Authorization&quot;: &quot;Bearer &lt;token&gt;&quot;}</code>. The "
        "example tabs (partner dashboard, store search, offer link, accept, renew, admin) "
        "already carry their role's token.</p></details>"
    )


_MISSING_NOTICE = (
    '<div class="notice" id="assets-missing"><strong>GraphiQL assets are not installed.</strong> '
    "Run <code>make run</code> (it installs them from npm into <code>web/static/</code>) "
    "and reload this page. The API itself still answers POST requests.</div>"
)


def render_graphiql(
    *, endpoint: str = "/graphql", demo_tokens: Mapping[str, str] | None = None
) -> str:
    """Return the GraphiQL HTML page, loading assets only from ``/static/graphiql/``.

    ``demo_tokens`` maps a role name to a bearer token; when given, a "Demo mode"
    banner offers one button per role that fills GraphiQL's Headers editor.
    When the assets are missing the page explains how to install them.
    """
    installed = assets_installed()
    tokens = dict(demo_tokens) if demo_tokens else None
    config = {
        "endpoint": endpoint,
        "assets": installed,
        "demoTokens": tokens,
        "defaultQuery": _DEFAULT_QUERY,
        "defaultTabs": default_tabs(tokens),
    }
    values = {
        "config_json": _script_json(config),
        "missing_notice": "" if installed else _MISSING_NOTICE,
        "demo_banner": _demo_banner(tokens) if tokens else "",
        "scripts": "\n    ".join(
            f'<script src="{STATIC_URL}/{name}"></script>' for name in _SCRIPTS if installed
        ),
        "stylesheets": "\n    ".join(
            f'<link rel="stylesheet" href="{STATIC_URL}/{name}" />'
            for name in _STYLESHEETS
            if installed
        ),
    }
    template = _TEMPLATE_PATH.read_text(encoding="utf-8")
    # One pass, so text substituted in is never itself scanned for placeholders.
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def graphiql_response(
    demo_tokens: Mapping[str, str] | None = None, *, endpoint: str = "/graphql"
) -> HTMLResponse:
    """Return the page as a response, for a ``GraphQL.render_graphql_ide`` override."""
    return HTMLResponse(render_graphiql(endpoint=endpoint, demo_tokens=demo_tokens))


def static_routes() -> list[BaseRoute]:
    """Return the routes serving the installed GraphiQL files under ``/static/graphiql`` and
    the favicon (also at ``/favicon.ico``, where browsers look without being told)."""
    # The app starts before the assets are installed; until then their paths answer 503.
    return [
        Route(FAVICON_URL, _favicon, methods=["GET", "HEAD"]),
        Route("/favicon.ico", _favicon, methods=["GET", "HEAD"]),
        Mount(STATIC_URL, app=BuiltFiles(STATIC_DIR), name="graphiql-static"),
    ]


async def _favicon(request: Request) -> Response:
    return Response(
        _FAVICON_PATH.read_bytes(),
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )
