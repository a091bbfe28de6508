"""The gateway serves the authorization and partner pages: every link path answers with the
app, with headers that keep the link token in the path to itself; demo mode carries demo
sign-ins safely; every operation the app sends is a valid trusted document under the id the
app computed."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest

from datastore.store import DocumentStore
from edge.documents import document_id
from gateway import trusted_documents
from tests.conftest import SETTINGS, Make, serving
from web.spa import APP_DIST, app_built

APP = Path(__file__).resolve().parent.parent / "web" / "app"
needs_build = pytest.mark.skipif(
    not app_built(), reason=f"the app is not built in {APP_DIST}: run `make test` (npm builds it)"
)
_CONFIG = re.compile(r'<script id="tsp-config" type="application/json">(.*?)</script>', re.S)


@needs_build
async def test_every_link_path_answers_with_the_app(store: DocumentStore) -> None:
    async with serving(store, SETTINGS) as http:
        for path in ("/authorize/abc", "/authorize/service/abc", "/partner", "/partner/new"):
            response = await http.get(path)
            assert response.status_code == 200, path
            assert '<div id="app">' in response.text
            assert response.headers["referrer-policy"] == "no-referrer"
            assert "script-src 'self'" in response.headers["content-security-policy"]
            assert json.loads(_CONFIG.findall(response.text)[0]) == {
                "demo": False,
                "demoAccounts": [],
            }
        assets = re.findall(r'(?:src|href)="(/app/assets/[^"]+)"', response.text)
        assert len(assets) == 2
        for asset in assets:
            served = await http.get(asset)
            assert served.status_code == 200 and served.content


@needs_build
async def test_demo_mode_offers_each_demo_seller_a_sign_in_escaped_in_the_page(
    store: DocumentStore, make: Make
) -> None:
    first = await make.seller(name="First & </script><b>x</b>")
    # Listed oldest first: a second later, so two sellers made in one millisecond keep order.
    await make.seller(name="Second seller", createdAt=first["createdAt"] + timedelta(seconds=1))
    async with serving(store, dataclasses.replace(SETTINGS, demo=True)) as http:
        page = (await http.get("/authorize/abc")).text
        assert "</script><b>" not in page
        config = json.loads(_CONFIG.findall(page)[0])
        assert config["demo"] is True
        names = [a["name"] for a in config["demoAccounts"] if a["role"] == "SELLER"]
        assert names == ["First & </script><b>x</b>", "Second seller"]
        token = config["demoAccounts"][1]["token"]
        viewer = await http.post(
            "/graphql",
            json={"query": "{ viewer { seller { name } } }"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert viewer.json()["data"]["viewer"]["seller"]["name"] == "Second seller"


@needs_build
async def test_every_app_operation_is_a_valid_trusted_document_under_the_apps_id(
    store: DocumentStore,
) -> None:
    registry = trusted_documents(store, SETTINGS)
    generated = APP / "src" / "generated" / "documents.ts"
    ids = dict(re.findall(r"^  (\w+): \"(sha256:[0-9a-f]{64})\",$", generated.read_text(), re.M))
    operations = sorted((APP / "operations").glob("*.graphql"))
    assert len(operations) == len(ids) >= 13
    for path in operations:
        text = path.read_text(encoding="utf-8")
        assert await registry.add(text) == document_id(text) == ids[path.stem], path.name
