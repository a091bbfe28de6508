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

from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

__all__ = [
    "ASSET_FILES",
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
    rows = []
    for role in demo_tokens:
        header = json.dumps({"Authorization": f"Bearer {demo_tokens[role]}"})
        rows.append(
            f'<div><button type="button" data-demo-role="{html.escape(role)}">'
            f"Use {html.escape(role)} token</button>"
            f"<code>{html.escape(header)}</code></div>"
        )
    return (
        '<div class="demo" id="demo-banner"><strong>Demo mode</strong>: requests need a demo '
        "token in the <em>Headers</em> editor below, as "
        "<code>{&quot;Authorization&quot;: &quot;Bearer &lt;token&gt;&quot;}</code>. "
        "Click a role to fill it in, or copy the header text shown for that role."
        + "".join(rows)
        + "</div>"
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
    """Return the route serving the installed GraphiQL files under ``/static/graphiql``."""
    # check_dir=False: the app must start even before the assets are installed.
    return [
        Mount(
            STATIC_URL,
            app=StaticFiles(directory=STATIC_DIR, check_dir=False),
            name="graphiql-static",
        )
    ]
