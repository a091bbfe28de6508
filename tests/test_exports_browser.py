"""The partner's exports page (/partner/exports) in the system Chromium, against a real demo
gateway that runs registered (trusted) documents only and whose export worker runs apart:
``tsp-gateway export-worker``, started by the test when it wants the export to run (the suite
runs its export workers itself). An export started with the ticked fields waits and is
canceled; a second start within the minute is refused beside the Start button; then an export
started from the keyboard runs to COMPLETED while the page watches, and the file its Download
link gives holds exactly the lines the partner's own paging reads. Screenshots at 1280x800 and
390x844, and axe-core, at each step."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from datastore import collections as c
from edge.documents import document_id
from edge.gateway_settings import Settings
from gateway import open_store
from tests.browser import (
    AUTHORIZE,
    VIEWPORTS,
    Demo,
    chromium_path,
    create_offer,
    demo_gateway,
    skip_reason,
)
from tests.servers import SECRET, gateway_command

_REASON = skip_reason()
pytestmark = pytest.mark.skipif(_REASON is not None, reason=_REASON or "")

if _REASON is None:
    from playwright.async_api import Browser, async_playwright, expect

    from tests.test_app_browser import Session

PARTNER = "Lakeside Commerce Agency"
MAX_PAGES = 100
# What the partner's own paging reads: the fields the page's defaults and one more box ask.
PAGING = """query ExportCheck($after: String) { viewer { partner {
  authorizations(first: 100, after: $after) {
    nodes { id status startDate endDate service { id name } seller { id name }
      history(first: 1) { nodes { action createdAt } } }
    pageInfo { hasNextPage endCursor } } } } }"""
WAIT_MS = 90_000  # the worker process starts, claims the export and runs it


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    workdir = tmp_path_factory.mktemp("exports")
    with demo_gateway(workdir, env={"TSP_EXPORT_WORKER": "0"}) as served:
        check = workdir / "export-check.graphql"
        check.write_text(PAGING, encoding="utf-8")
        served.cli("documents", "add", str(check))
        yield served


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=["--no-sandbox"]
        )
        yield launched
        await launched.close()


@pytest.fixture
async def session(browser: Browser, demo: Demo) -> AsyncIterator[Session]:
    # bypass_csp: the test injects axe-core into pages whose policy allows only their own files.
    context = await browser.new_context(
        viewport=VIEWPORTS["desktop"], bypass_csp=True, accept_downloads=True
    )
    opened = Session(await context.new_page(), demo)
    yield opened
    opened.assert_only_document_ids()
    await context.close()


def _database(demo: Demo) -> str:
    return f"sqlite:///{demo.workdir / 'gateway.sqlite3'}"


@contextlib.contextmanager
def _export_worker(demo: Demo) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        "TSP_JWT_SECRET": SECRET,
        "TSP_DATABASE_URL": _database(demo),
        "TSP_EXPORT_POLL_SECONDS": "0.1",
    }
    process = gateway_command("export-worker", demo.workdir / "export-worker.log", env)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _allow_another_start(demo: Demo) -> None:
    """Forget when the partner last started an export (the one-a-minute rule, already seen
    refusing, would otherwise hold the test a minute)."""
    store = await open_store(Settings(jwt_secret=SECRET, database_url=_database(demo)))
    try:
        await store.delete_all(c.BULK_EXPORT_OWNERS)
    finally:
        await store.close()


def _expected_lines(demo: Demo) -> list[dict[str, Any]]:
    """The file's lines as the partner's own paging reads them: each authorization, then its
    latest history entry with ``__parentId``."""
    lines: list[dict[str, Any]] = []
    after = None
    for _ in range(MAX_PAGES):
        response = httpx.post(
            f"{demo.url}/graphql",
            json={"documentId": document_id(PAGING), "variables": {"after": after}},
            headers={"Authorization": f"Bearer {demo.partner_token}"},
            timeout=30,
        )
        body = response.json()
        assert "errors" not in body, body
        page = body["data"]["viewer"]["partner"]["authorizations"]
        for node in page["nodes"]:
            entries = node.pop("history")["nodes"]
            lines.append(node)
            lines.extend({**entry, "__parentId": node["id"]} for entry in entries)
        if not page["pageInfo"]["hasNextPage"]:
            return lines
        after = page["pageInfo"]["endCursor"]
    raise AssertionError("too many pages")


async def test_partner_starts_watches_cancels_and_downloads_an_export(
    session: Session, demo: Demo
) -> None:
    # Authorizations to export: the demo seller accepts a fresh offer of two services.
    offer = create_offer(demo)
    accepted = demo.api(AUTHORIZE, {"token": offer["token"]}, token=demo.seller_token)
    assert accepted["authorizeServiceOffer"]["userErrors"] == [], accepted
    page = session.page
    await session.open("/partner/exports")
    await page.get_by_label("Demo partner").select_option(label=PARTNER)
    await page.get_by_role("button", name="Sign in as this partner").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Exports")
    await expect(page.get_by_role("link", name="Exports")).to_have_attribute("aria-current", "page")
    await expect(page.locator("#export")).to_contain_text("You have not exported anything yet")
    await expect(page.get_by_label("Authorizations", exact=True)).to_be_checked()
    await session.shoot("partner-exports")

    # The fields ticked build the query (shown, for API users to copy).
    seller = page.get_by_label("Seller (id and name)")
    await seller.focus()
    await page.keyboard.press("Space")
    await expect(seller).to_be_checked()
    query = page.locator("#export-query")
    await expect(query).to_have_text(
        "{ viewer { partner { authorizations { nodes { id status startDate endDate "
        "service { id name } seller { id name } history(first: 1) { nodes { action createdAt } } "
        "} } } } }"
    )

    # No worker runs yet: the export waits, and can be canceled.
    start = page.get_by_role("button", name="Start export")
    await start.click()
    await expect(page.locator("#export-state")).to_contain_text("waiting for a worker")
    await expect(page.locator("#export-title")).to_be_focused()
    await expect(start).to_be_disabled()
    await session.shoot("partner-export-waiting")
    await page.get_by_role("button", name="Cancel export").click()
    await expect(page.locator("[data-status=CANCELED]")).to_be_visible()
    await expect(page.locator("#export-state")).to_contain_text("You canceled this export")

    # A second start within the minute is refused, beside the button that tried.
    await start.click()
    refusal = page.locator("#export-start-error")
    await expect(refusal).to_contain_text("one bulk export per minute")
    await expect(start).to_have_attribute("aria-describedby", "export-start-error")
    await session.shoot("partner-export-refused")

    # Started from the keyboard, run by a worker process, followed live to its end.
    await _allow_another_start(demo)
    await start.focus()
    await page.keyboard.press("Enter")
    await expect(page.locator("[data-status=CREATED]")).to_be_visible()
    await expect(refusal).to_have_count(0)
    with _export_worker(demo):
        await expect(page.locator("[data-status=COMPLETED]")).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator("#export-state")).to_contain_text("ready to download")
    await expect(start).to_be_enabled()
    await session.shoot("partner-export-complete")

    expected = await asyncio.to_thread(_expected_lines, demo)
    assert len([line for line in expected if "__parentId" not in line]) >= 2
    await expect(page.locator("[data-count=lines]")).to_have_text(f"{len(expected):,}")
    async with page.expect_download() as downloading:
        await page.locator("#export-download").click()
    download = await downloading.value
    assert download.suggested_filename.endswith(".jsonl")
    saved = await asyncio.to_thread(Path(await download.path()).read_bytes)
    lines = [orjson.loads(line) for line in saved.splitlines()]
    assert lines == expected
