"""The single-page app an authorization link opens (``/authorize/...``) and the partner's pages
(``/partner...``), built from ``web/app/`` by ``make run``/``make test`` into ``web/app/dist``.

Every such path answers with the app's ``index.html``; the app routes in the browser and talks
only to ``/graphql`` with trusted document ids. In demo mode the page also carries demo sign-ins
(one per demo seller and partner), the way GraphiQL's banner carries the demo tokens.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from datastore import collections as c
from datastore.store import ASCENDING, DocumentStore
from resolvers.identity import Role, issue_token
from web.unbuilt import BuiltFiles, not_built

__all__ = ["APP_DIST", "app_built", "demo_accounts", "spa_routes"]

APP_DIST: Path = Path(__file__).resolve().parent / "app" / "dist"
_CONFIG_MARK = "<!--tsp-config-->"
_DEMO_SIGN_IN_TTL = timedelta(hours=12)
_DEMO_PARTNERS = 3
_DEMO_SELLERS = 10

# The link token sits in the path: no Referer may carry it to another site. The app loads
# only its own files and calls only this origin's /graphql.
_HEADERS = {
    "Cache-Control": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
}


def app_built() -> bool:
    """Whether ``make`` has built the app (its index page exists)."""
    return (APP_DIST / "index.html").is_file()


async def demo_accounts(store: DocumentStore, secret: str) -> list[dict[str, str]]:
    """Demo sign-ins the page offers: the oldest partners and every demo seller, by name."""
    oldest = [("createdAt", ASCENDING)]
    partners = await store.find(c.PARTNERS, sort=oldest, limit=_DEMO_PARTNERS)
    sellers = await store.find(c.SELLERS, sort=oldest, limit=_DEMO_SELLERS)
    accounts = [
        {
            "role": role.value,
            "name": str(doc["name"]),
            "token": issue_token(secret, role, doc["_id"], _DEMO_SIGN_IN_TTL),
        }
        for role, docs in ((Role.SELLER, sellers), (Role.PARTNER, partners))
        for doc in docs
    ]
    return accounts


def _config_script(config: object) -> str:
    # JSON inside <script> must not be able to close the element, whatever a name holds.
    text = json.dumps(config, ensure_ascii=True)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script id="tsp-config" type="application/json">{text}</script>'


def spa_routes(*, demo: bool, jwt_secret: str) -> list[BaseRoute]:
    """``/authorize/...`` and ``/partner...`` answer with the app; ``/app/assets`` serves its
    built files (content-hashed names). In ``demo`` mode the page offers demo sign-ins, tokens
    signed with ``jwt_secret``."""

    async def page(request: Request) -> Response:
        if not app_built():
            return not_built()
        accounts = await demo_accounts(request.app.state.store, jwt_secret) if demo else []
        index = (APP_DIST / "index.html").read_text(encoding="utf-8")
        config = _config_script({"demo": demo, "demoAccounts": accounts})
        return HTMLResponse(index.replace(_CONFIG_MARK, config, 1), headers=_HEADERS)

    return [
        Route("/authorize/{rest:path}", page, methods=["GET", "HEAD"]),
        Route("/partner", page, methods=["GET", "HEAD"]),
        Route("/partner/{rest:path}", page, methods=["GET", "HEAD"]),
        Mount("/app/assets", app=BuiltFiles(APP_DIST / "assets"), name="app-assets"),
    ]
