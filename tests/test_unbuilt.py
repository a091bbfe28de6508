"""Before ``make run`` has built the browser files, their paths answer 503 with the message the
app pages give (how to build them), never a server error."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from datastore.store import DocumentStore
from tests.conftest import SETTINGS, serving
from web.graphiql import assets_installed
from web.spa import app_built
from web.unbuilt import BuiltFiles


@pytest.mark.skipif(
    app_built() or assets_installed(), reason="the browser files are built on this machine"
)
async def test_without_the_build_every_file_path_answers_503_like_the_app_pages(
    store: DocumentStore,
) -> None:
    async with serving(store, SETTINGS) as http:
        page = await http.get("/authorize/abc")
        assert page.status_code == 503
        assert "make run" in page.text
        for path in (
            "/static/graphiql/graphiql.min.js",
            "/static/graphiql/",
            "/app/assets/index.js",
        ):
            for method in ("GET", "HEAD"):
                response = await http.request(method, path)
                assert response.status_code == 503, (method, path)
                assert response.headers["retry-after"] == "30"
                if method == "GET":
                    assert response.text == page.text, path


async def test_built_files_answer_503_until_their_directory_exists(tmp_path: Path) -> None:
    directory = tmp_path / "dist"
    app = Starlette(routes=[Mount("/files", app=BuiltFiles(directory))])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        assert (await http.get("/files/app.js")).status_code == 503
        directory.mkdir()
        (directory / "app.js").write_text("ok")
        served = await http.get("/files/app.js")
        assert (served.status_code, served.text) == (200, "ok")
        assert (await http.get("/files/other.js")).status_code == 404
