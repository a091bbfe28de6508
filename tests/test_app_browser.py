"""The pages an authorization link opens, driven in the system Chromium (headless) against a
real demo gateway that runs registered (trusted) documents only: what a seller and a partner
see and click, screenshots at 1280x800 and 390x844, and an axe-core check of every page."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from datastore import collections as c
from datastore.sqlite import SQLiteStore
from tests.browser import (
    AUTHORIZE,
    AXE,
    CREATE_REQUEST,
    OFFER,
    SCREENSHOTS,
    VIEWPORTS,
    WITHDRAW,
    Demo,
    chromium_path,
    create_offer,
    demo_gateway,
    live_service,
    skip_reason,
)
from tests.conftest import request_form

_REASON = skip_reason()
pytestmark = pytest.mark.skipif(_REASON is not None, reason=_REASON or "")

if _REASON is None:
    from playwright.async_api import Browser, Page, Route, async_playwright, expect

SELLER = "Maple & Pine Home Goods"
PARTNER = "Lakeside Commerce Agency"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with demo_gateway(tmp_path_factory.mktemp("app")) as served:
        yield served


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=["--no-sandbox"]
        )
        yield launched
        await launched.close()


class Session:
    """One browser tab on the demo gateway, recording every GraphQL request body it sends."""

    def __init__(self, page: Page, demo: Demo) -> None:
        self.page = page
        self.demo = demo
        self.bodies: list[dict[str, Any]] = []
        page.on("request", self._record)

    def _record(self, request: Any) -> None:
        if request.url.endswith("/graphql") and request.method == "POST":
            self.bodies.append(json.loads(request.post_data or "{}"))

    async def open(self, path: str) -> None:
        await self.page.goto(self.demo.url + path)

    async def shoot(self, name: str) -> None:
        """Screenshots at both sizes (back to desktop after), then the axe-core check."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for size, viewport in (("phone", VIEWPORTS["phone"]), ("desktop", VIEWPORTS["desktop"])):
            await self.page.set_viewport_size(viewport)
            await self.page.wait_for_timeout(50)
            await self.page.screenshot(path=str(SCREENSHOTS / f"{name}-{size}.png"), full_page=True)
        await self.axe(name)

    async def axe(self, name: str) -> None:
        await self.page.add_script_tag(path=str(AXE))
        result = await self.page.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
            ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target)}))"
        )
        serious = [v for v in result if v["impact"] in ("serious", "critical")]
        assert serious == [], f"{name}: {serious}"

    async def sign_in_demo(self, name: str) -> None:
        await self.page.get_by_label("Demo seller").select_option(label=name)
        await self.page.get_by_role("button", name="Sign in as this seller").click()
        await expect(self.page.get_by_test_id("seller-name")).to_have_text(name)

    def assert_only_document_ids(self) -> None:
        for body in self.bodies:
            assert "query" not in body and body["documentId"].startswith("sha256:"), body


@pytest.fixture
async def session(browser: Browser, demo: Demo) -> AsyncIterator[Session]:
    # bypass_csp: the test injects axe-core into pages whose policy allows only their own files.
    context = await browser.new_context(viewport=VIEWPORTS["desktop"], bypass_csp=True)
    page = await context.new_page()
    opened = Session(page, demo)
    yield opened
    opened.assert_only_document_ids()
    await context.close()


async def test_offer_link_authorized_in_one_click_shows_accepted_to_the_partner(
    session: Session, demo: Demo
) -> None:
    offer = create_offer(demo)
    page = session.page
    await session.open(f"/authorize/{offer['token']}")
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        f"{PARTNER} offers you 2 services"
    )
    for name in offer["services"]:
        await expect(page.locator(".services")).to_contain_text(name)
    settings = page.locator("dl.settings")
    await expect(settings).to_contain_text("May raise support tickets for you")
    await expect(settings).to_contain_text("May log into your Seller Center")
    await expect(settings).to_contain_text("May not see your Data Compass analytics")
    await expect(page.get_by_text("dana@seller.example")).to_be_visible()
    await expect(page.locator("[data-status=OPEN]")).to_be_visible()
    await session.shoot("authorize-offer")

    await session.sign_in_demo(SELLER)
    await expect(page.locator("#region-rule")).to_contain_text("local seller in the United States")
    await session.shoot("authorize-signed-in")
    await page.get_by_role("button", name="Authorize as offered").click()
    await expect(page.locator("#done")).to_contain_text(
        f"{PARTNER} is now authorized for 2 services"
    )
    await expect(page.locator("#consent-same")).to_be_visible()
    await session.shoot("authorize-done")
    assert (
        demo.api(OFFER, {"token": offer["token"]}, token=demo.partner_token)["serviceOfferByLink"][
            "status"
        ]
        == "ACCEPTED"
    )

    await session.open("/partner")
    await page.get_by_label("Demo partner").select_option(label=PARTNER)
    await page.get_by_role("button", name="Sign in as this partner").click()
    row = page.locator(f"[data-offer='{offer['id']}']")
    await expect(row.locator("[data-status=ACCEPTED]")).to_have_text("Accepted")
    await expect(row.get_by_role("button", name="Withdraw")).to_have_count(0)
    await session.shoot("partner-offers")

    # The partner opening its own offer's link in this tab is no visitor of it: the page sends
    # the partner's sign-in, and the gateway counts nothing.
    preview = create_offer(demo)
    async with page.expect_response(_operation("RecordOfferLinkOpen")) as opened:
        await session.open(f"/authorize/{preview['token']}")
    response = await opened.value
    assert (response.request.headers.get("authorization") or "").startswith("Bearer ")
    assert (await response.json())["data"]["recordOfferLinkOpen"]["counted"] is False


async def test_edit_then_authorize_shows_the_consent_diff(session: Session, demo: Demo) -> None:
    offer = create_offer(demo)
    page = session.page
    await session.open(f"/authorize/{offer['token']}")
    await session.sign_in_demo(SELLER)
    await page.get_by_role("button", name="Edit before authorizing").click()
    await page.get_by_role("checkbox", name=offer["services"][1]).uncheck()
    await page.get_by_role("checkbox", name="TSP access: May log into").uncheck()
    end = offer["endDate"][:8] + "01"
    await page.get_by_label("End date").fill(end)
    # The partner filled in a contact; the seller empties it.
    await page.get_by_label("Contact name").fill("")
    await page.get_by_label("Contact email").fill("")
    changes = page.locator("#changes")
    await expect(changes).to_contain_text("Services")
    await expect(changes).to_contain_text(f"without {offer['services'][1]}")
    await expect(changes.get_by_role("row", name="TSP access")).to_contain_text(
        "May not log into your Seller Center"
    )
    await expect(changes.get_by_role("row", name="Contact email")).to_contain_text("(none)")
    await session.shoot("authorize-edit")
    await page.get_by_role("button", name="Review and authorize").click()
    await expect(page.locator("#review #changes")).to_contain_text("End date")
    await session.shoot("authorize-review")
    await page.get_by_role("button", name="Confirm and authorize").click()
    # Focus follows the result, not lost to the page when the busy button went away.
    await expect(page.locator("#done-title")).to_be_focused()
    diff = page.locator("#consent-diff")
    await expect(diff).to_be_visible()
    # In the words the offer uses, not field paths, ISO dates or enum values.
    await expect(diff.locator("[data-field='settings.tspAccess']")).to_contain_text(
        "TSP accessMay log into your Seller Center and operate it for you"
        "May not log into your Seller Center"
    )
    await expect(diff.locator("[data-field=endDate] th")).to_have_text("End date")
    await expect(diff.locator("[data-field=endDate]")).not_to_contain_text(end)
    await expect(diff.locator("[data-field=serviceIds]")).to_contain_text(offer["services"][0])
    await expect(diff.locator("[data-field='contact.name']")).to_contain_text(
        "Contact nameDana Seller(none)"
    )
    await expect(diff).not_to_contain_text("settings.")
    await session.shoot("authorize-consented")

    granted = demo.api(OFFER, {"token": offer["token"]}, token=demo.partner_token)
    authorizations = granted["serviceOfferByLink"]["authorizations"]["nodes"]
    assert [a["service"]["name"] for a in authorizations] == [offer["services"][0]]
    fields = {change["field"] for change in authorizations[0]["changesFromOffer"]}
    assert {"settings.tspAccess", "endDate", "contact.name", "contact.email"} <= fields
    # What the review showed is what was stored: the emptied contact, not the partner's.
    assert authorizations[0]["contact"] is None


async def test_an_offer_for_one_seller_is_read_as_the_signed_in_seller(
    session: Session, demo: Demo
) -> None:
    """The offer's contact is shown to the seller it was made for (it is hidden from anyone
    else), and another seller is told the offer is not theirs instead of offered buttons."""
    accounts = await _demo_accounts(session)
    guangzhou = "Guangzhou Gadget Export"
    offer = create_offer(demo, seller_id=_subject(accounts[guangzhou]))
    page = session.page
    await session.open(f"/authorize/{offer['token']}")
    await expect(page.locator("#contact-after-sign-in")).to_be_visible()
    await expect(page.get_by_text("dana@seller.example")).to_have_count(0)
    await session.sign_in_demo(guangzhou)
    await expect(page.get_by_text("dana@seller.example")).to_be_visible()
    await expect(page.get_by_role("button", name="Authorize as offered")).to_be_visible()

    await page.get_by_role("button", name="Sign out").click()
    await session.sign_in_demo(SELLER)
    closed = page.locator("#offer-closed")
    await expect(closed).to_contain_text("made this offer for another seller")
    await expect(page.get_by_text("dana@seller.example")).to_have_count(0)
    await expect(page.get_by_role("button", name="Authorize as offered")).to_have_count(0)
    await expect(page.get_by_role("button", name="Edit before authorizing")).to_have_count(0)
    await session.shoot("authorize-for-another-seller")


async def test_a_seller_s_draft_stays_with_that_seller(session: Session, demo: Demo) -> None:
    """Signing out forgets the draft (contact details included); a seller who signs in later in
    the same tab never gets another seller's draft."""
    accounts = await _demo_accounts(session)
    offer = create_offer(demo)
    page = session.page
    url = f"/authorize/{offer['token']}"
    await session.open(url)
    await session.sign_in_demo(SELLER)
    await page.get_by_role("button", name="Edit before authorizing").click()
    await page.get_by_label("Contact name").fill("Private Person")
    await page.get_by_label("Contact phone").fill("+1 555 0100 200")
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in as a seller")).to_be_visible()
    await page.reload()
    await expect(page.get_by_role("heading", name="Sign in as a seller")).to_be_visible()
    await expect(page.get_by_label("Contact name")).to_have_count(0)
    stored = await page.evaluate("() => JSON.stringify(Object.entries(sessionStorage))")
    assert "Private Person" not in stored

    # A draft left by a sign-in that ended without signing out (here the platform's login
    # handing the tab another seller's token) is not the next seller's.
    await session.sign_in_demo(SELLER)
    await page.get_by_role("button", name="Edit before authorizing").click()
    await page.get_by_label("Contact name").fill("Private Person")
    await session.open("/authorize/service/" + "B" * 32)  # away, then back with a new token
    await session.open(f"{url}#token={accounts['Brighton Beauty Co']}")
    await expect(page.get_by_test_id("seller-name")).to_have_text("Brighton Beauty Co")
    await expect(page.get_by_role("button", name="Authorize as offered")).to_be_visible()
    await expect(page.get_by_label("Contact name")).to_have_count(0)
    await expect(page.locator("main")).not_to_contain_text("Private Person")


async def test_an_offer_whose_start_has_passed_records_no_date_change(
    session: Session, demo: Demo
) -> None:
    """Once the offered start has passed, the authorization starts today by the gateway's rule:
    the page shows that, and neither shows nor sends it as the seller's change. An emptied date
    is a field error on the page, not a refused request."""
    offer = create_offer(demo)
    await _move_start(demo, offer["token"], days=-5)
    page = session.page
    await session.open(f"/authorize/{offer['token']}")
    await expect(page.locator("#start-passed")).to_contain_text("start today")
    await session.sign_in_demo(SELLER)
    await page.get_by_role("button", name="Edit before authorizing").click()
    await expect(page.locator("#edit-title")).to_be_focused()
    await expect(page.locator("#no-changes")).to_be_visible()

    start = page.get_by_label("Start date")
    today = await start.input_value()
    assert today == datetime.now(UTC).date().isoformat()
    await start.fill("")
    await page.get_by_role("button", name="Review and authorize").click()
    summary = page.locator("#form-errors")
    await expect(summary).to_be_focused()
    await expect(summary).to_contain_text("Enter the start date")
    await expect(start).to_have_attribute("aria-invalid", "true")
    await start.fill(today)

    await page.get_by_label("Contact phone").fill("+44 20 7946 0000")
    await expect(page.locator("#changes")).not_to_contain_text("Start date")
    await page.get_by_role("button", name="Review and authorize").click()
    await expect(page.locator("#review-title")).to_be_focused()
    await page.get_by_role("button", name="Confirm and authorize").click()
    await expect(page.locator("#done")).to_be_visible()
    granted = demo.api(OFFER, {"token": offer["token"]}, token=demo.partner_token)
    authorization = granted["serviceOfferByLink"]["authorizations"]["nodes"][0]
    assert [c["field"] for c in authorization["changesFromOffer"]] == ["contact.phone"]


async def test_a_seller_who_loses_the_race_is_told_and_offered_nothing(
    session: Session, demo: Demo
) -> None:
    accounts = await _demo_accounts(session)
    offer = create_offer(demo)
    page = session.page
    await session.open(f"/authorize/{offer['token']}")
    await session.sign_in_demo(SELLER)
    first = demo.api(AUTHORIZE, {"token": offer["token"]}, token=accounts["Batik Nusantara"])
    assert first["authorizeServiceOffer"]["userErrors"] == []
    await page.get_by_role("button", name="Authorize as offered").click()
    closed = page.locator("#offer-closed")
    await expect(closed).to_contain_text("Another seller accepted this offer first")
    await expect(closed).to_be_focused()
    await expect(page.locator("[data-status=ACCEPTED]")).to_be_visible()
    await expect(page.locator("main button, main input, main select")).to_have_count(0)
    # Read again later, the page cannot tell who accepted it, so claims nothing for this seller.
    await page.reload()
    await expect(closed).to_contain_text("If you did not, ask")
    await expect(page.locator("main button, main input, main select")).to_have_count(0)


async def test_one_click_without_a_shop_moves_focus_to_the_problem(
    session: Session, demo: Demo
) -> None:
    offer = create_offer(demo)
    page = session.page
    await page.set_viewport_size(VIEWPORTS["phone"])
    await session.open(f"/authorize/{offer['token']}")
    await session.sign_in_demo("Future Founders (no shop yet)")
    await page.get_by_role("button", name="Authorize as offered").click()
    summary = page.locator("#form-errors")
    await expect(summary).to_be_focused()
    await expect(summary).to_contain_text("Shops")
    await expect(summary).to_be_in_viewport()


async def test_long_unbroken_text_wraps_instead_of_widening_the_page(
    session: Session, demo: Demo
) -> None:
    long_name = "W" * 100  # the longest contact name there is, with nowhere to break
    offer = create_offer(demo, contact={"name": long_name, "email": "dana@seller.example"})
    page = session.page
    await page.set_viewport_size(VIEWPORTS["phone"])
    await session.open(f"/authorize/{offer['token']}")
    await expect(page.get_by_text(long_name)).to_be_visible()
    width = await page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    assert width[0] <= width[1], width


async def test_a_withdrawn_link_says_so_and_offers_nothing_to_click(
    session: Session, demo: Demo
) -> None:
    offer = create_offer(demo)
    withdrawn = demo.api(WITHDRAW, {"id": offer["id"]}, token=demo.partner_token)
    assert withdrawn["withdrawServiceOffer"]["serviceOffer"]["status"] == "WITHDRAWN"
    page = session.page
    await session.open(f"/authorize/{offer['token']}")
    await expect(page.locator("#offer-closed")).to_contain_text(f"{PARTNER} withdrew this offer")
    await expect(page.locator("[data-status=WITHDRAWN]")).to_be_visible()
    await expect(page.locator("main button, main input, main select")).to_have_count(0)
    await session.shoot("authorize-withdrawn")


async def test_a_user_error_is_shown_next_to_the_field_it_names(
    session: Session, demo: Demo
) -> None:
    offer = create_offer(demo)
    page = session.page
    await session.open(f"/authorize/{offer['token']}")
    await session.sign_in_demo(SELLER)
    await page.get_by_role("button", name="Edit before authorizing").click()
    await page.get_by_label("Contact email").fill("not-an-email")
    await page.get_by_role("button", name="Review and authorize").click()
    await page.get_by_role("button", name="Confirm and authorize").click()
    email = page.get_by_label("Contact email")
    await expect(email).to_have_attribute("aria-invalid", "true")
    error = page.locator("#edit-contact-email-error")
    await expect(error).to_be_visible()
    assert await email.get_attribute("aria-describedby") == "edit-contact-email-error"
    # Back on the form, focus moves to the summary of its problems at the top (read out, and
    # in view), whose entry leads to the field.
    summary = page.locator("#form-errors")
    await expect(summary).to_be_focused()
    await expect(summary).to_contain_text("Contact email")
    await summary.get_by_role("button", name="Contact email").click()
    await expect(email).to_be_focused()
    await session.shoot("authorize-user-error")
    status = demo.api(OFFER, {"token": offer["token"]}, token=demo.partner_token)
    assert status["serviceOfferByLink"]["status"] == "OPEN"


async def test_malformed_and_unknown_links_get_a_clear_page(session: Session) -> None:
    page = session.page
    await session.open("/authorize/not%20a%20token!")
    await expect(page.get_by_role("heading", level=1)).to_have_text("This link is not valid")
    await session.shoot("authorize-malformed")
    # A "%" that does not decode (cut, or not followed by two hex digits).
    for damaged in ("/authorize/%%%", "/authorize/abcdefgh%E0%A4%A", "/authorize/service/%"):
        await session.open(damaged)
        await expect(page.get_by_role("heading", level=1)).to_have_text("This link is not valid")
    await session.open("/partner/%ZZ")
    await expect(page.get_by_role("heading", name="Sign in as a partner")).to_be_visible()
    await session.open("/authorize/" + "A" * 32)
    await expect(page.get_by_role("heading", level=1)).to_have_text("No offer behind this link")
    await session.shoot("authorize-unknown")


async def test_the_page_says_the_api_is_unreachable_and_retries(
    session: Session, demo: Demo
) -> None:
    offer = create_offer(demo)
    page = session.page
    refused = 0

    async def flaky(route: Route) -> None:
        nonlocal refused
        if refused < 1:
            refused += 1
            await route.abort("connectionrefused")
        else:
            await route.continue_()

    await page.route("**/graphql", flaky)
    await session.open(f"/authorize/{offer['token']}")
    await expect(page.locator("#unreachable")).to_contain_text("cannot be reached")
    # The alert is the sentence alone: a live region holding the countdown would be read out
    # again at every tick.
    await expect(page.get_by_role("alert")).to_have_text(
        "The TSP Gateway API cannot be reached right now."
    )
    countdown = page.get_by_text("Trying again in")
    live = "el => el.closest('[role=alert], [role=status], [aria-live]')?.outerHTML ?? null"
    assert await countdown.evaluate(live) is None
    await session.shoot("authorize-unreachable")
    await expect(page.get_by_role("heading", level=1)).to_contain_text(PARTNER, timeout=10_000)
    assert refused == 1


async def test_an_expired_sign_in_mid_edit_asks_again_and_keeps_the_edits(
    session: Session, demo: Demo
) -> None:
    offer = create_offer(demo)
    page = session.page
    lifetime = 4.0
    short = demo.token("seller", demo.seller_id, lifetime / 3600)
    issued = time.monotonic()
    await session.open(f"/authorize/{offer['token']}")
    await page.get_by_label("Sign-in token").fill(short)
    await page.get_by_role("button", name="Sign in with this token").click()
    await expect(page.get_by_test_id("seller-name")).to_have_text(SELLER)
    await page.get_by_role("button", name="Edit before authorizing").click()
    await page.get_by_label("Contact name").fill("Kept Through Sign-in")
    await page.get_by_role("button", name="Review and authorize").click()
    await asyncio.sleep(max(0.0, lifetime + 1.5 - (time.monotonic() - issued)))
    await page.get_by_role("button", name="Confirm and authorize").click()
    await expect(page.get_by_role("alert").filter(has_text="sign-in has expired")).to_be_visible()
    await session.shoot("authorize-sign-in-again")
    await session.sign_in_demo(SELLER)
    await expect(page.locator("#review #changes")).to_contain_text("Kept Through Sign-in")
    await page.get_by_role("button", name="Confirm and authorize").click()
    await expect(page.locator("#done")).to_be_visible()
    status = demo.api(OFFER, {"token": offer["token"]}, token=demo.partner_token)
    assert status["serviceOfferByLink"]["authorizations"]["nodes"][0]["contact"]["name"] == (
        "Kept Through Sign-in"
    )


async def test_a_service_link_is_filled_in_and_authorized(session: Session, demo: Demo) -> None:
    # Service 2 is one no offer in these tests covers, so this is a new authorization.
    service = live_service(demo, 2)
    page = session.page
    await session.open(f"/authorize/service/{service['authorizationLinkToken']}")
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Authorize {service['name']}")
    await session.sign_in_demo(SELLER)
    await page.get_by_role("checkbox", name="Data Compass: May see").check()
    await page.get_by_label("Contact email").fill("owner@maple.example")
    await session.shoot("authorize-service-link")
    end = page.get_by_label("End date")
    chosen = await end.input_value()
    await end.fill("")
    await page.get_by_role("button", name="Review and authorize").click()
    await expect(page.locator("#form-errors")).to_be_focused()
    await expect(page.locator("#end-date-error")).to_have_text(
        "Enter the end date: day, month and year."
    )
    await end.fill(chosen)
    await page.get_by_role("button", name="Review and authorize").click()
    await expect(page.locator("#review dl.settings")).to_contain_text(
        "May see your Data Compass analytics"
    )
    await page.get_by_role("button", name="Confirm and authorize").click()
    await expect(page.locator("#done")).to_contain_text(f"authorized for {service['name']}")
    await expect(page.locator("#done-title")).to_be_focused()


async def test_every_control_is_reached_by_keyboard_with_a_name_and_a_visible_focus(
    session: Session, demo: Demo
) -> None:
    offer = create_offer(demo)
    page = session.page
    await page.set_viewport_size(VIEWPORTS["phone"])
    await session.open(f"/authorize/{offer['token']}")
    await session.sign_in_demo(SELLER)
    await page.get_by_role("button", name="Edit before authorizing").click()
    await page.locator("body").click(position={"x": 1, "y": 1})
    reached: list[dict[str, Any]] = []
    for _ in range(60):  # bounded: more stops than the page has controls
        await page.keyboard.press("Tab")
        focused = await page.evaluate(_FOCUSED)
        if focused is None or (reached and focused["key"] == reached[0]["key"]):
            break
        reached.append(focused)
    controls = await page.evaluate(_CONTROLS)
    assert {f["key"] for f in reached} >= set(controls), "a control is not reachable by Tab"
    for focused in reached:
        assert focused["name"].strip(), f"no visible label: {focused}"
        assert focused["outline"] != "none", f"no visible focus: {focused}"
    names = [f["name"] for f in reached]
    assert "Review and authorize" in names and "Contact email" in names
    await page.get_by_role("radio", name="Your shops", exact=True).focus()
    await page.keyboard.press("ArrowDown")
    await expect(page.get_by_role("radio", name="Your TikTok accounts (TTUID)")).to_be_checked()
    # The gateway's handles carry their "@": shown once.
    handle = page.get_by_role("checkbox", name="@maplepinehomegoods", exact=True)
    await expect(handle).to_be_visible()
    await expect(page.locator("main")).not_to_contain_text("@@")


def _operation(name: str) -> Any:
    """Matches the response to the app's request for the operation ``name``."""
    return lambda response: (
        response.url.endswith("/graphql")
        and json.loads(response.request.post_data or "{}").get("operationName") == name
    )


async def _demo_accounts(session: Session) -> dict[str, str]:
    """Each demo account's token by name, as the page offers them in demo mode."""
    if not session.page.url.startswith(session.demo.url):
        await session.open("/partner")
    config = json.loads(await session.page.locator("#tsp-config").text_content() or "{}")
    return {account["name"]: account["token"] for account in config["demoAccounts"]}


def _subject(token: str) -> str:
    subject: str = jwt.decode(token, options={"verify_signature": False})["sub"]
    return subject


async def _move_start(demo: Demo, link_token: str, *, days: int) -> None:
    """Moves a stored offer's start, as time passing would (the API makes no offer that starts
    in the past)."""
    store = SQLiteStore(demo.workdir / "gateway.sqlite3")
    await store.connect()
    try:
        offer = (await store.find(c.SERVICE_OFFERS, {"linkToken": link_token}, limit=1))[0]
        await store.update(
            c.SERVICE_OFFERS,
            offer["_id"],
            expected_version=offer["version"],
            changes={"startsAt": offer["startsAt"] + timedelta(days=days)},
        )
    finally:
        await store.close()


# Every enabled control in <main>, keyed by a path that identifies it; of a radio group only the
# checked radio is a Tab stop (the arrow keys move within the group).
_KEY = """el => { const parts = []; for (let n = el; n && n !== document.body; n = n.parentElement)
  parts.unshift(n.tagName + ':' + Array.prototype.indexOf.call(n.parentElement.children, n));
  return parts.join('/'); }"""
_CONTROLS = f"""() => {{ const key = {_KEY};
  const all = 'main button, main input, main select, main textarea, main a[href]';
  const shown = el => !el.disabled && el.offsetParent !== null
    && !(el.type === 'radio' && !el.checked);
  return [...document.querySelectorAll(all)].filter(shown).map(key); }}"""
_FOCUSED = f"""() => {{ const el = document.activeElement;
  if (!el || el === document.body) return null;
  const key = {_KEY};
  const label = el.labels && el.labels.length ? el.labels[0].innerText : '';
  const name = el.getAttribute('aria-label') || label || el.innerText || '';
  return {{ key: key(el), name: name.trim(),
    outline: getComputedStyle(el).outlineStyle }}; }}"""


async def test_partner_creates_withdraws_and_answers_requests(session: Session, demo: Demo) -> None:
    # Other demo sellers' sign-ins, as the page offers them in demo mode.
    await session.open("/partner")
    config = json.loads(await session.page.locator("#tsp-config").text_content() or "{}")
    # By name, not by place: the page lists them oldest first, and demo sellers seeded within
    # one millisecond come in either order (one of them has no shop, so may not ask).
    sellers = {a["name"]: a["token"] for a in config["demoAccounts"] if a["role"] == "SELLER"}
    for subject, seller_token in (
        ("First", sellers["Brighton Beauty Co"]),
        ("Second", sellers["Guangzhou Gadget Export"]),
    ):
        created = demo.api(
            CREATE_REQUEST,
            request_form(demo.partner_id, subject=f"{subject} request"),
            token=seller_token,
        )
        assert created["createRequest"]["userErrors"] == []
    # A service no other test authorizes: the seller's authorization of it is a new one.
    soon = create_offer(demo, services=1, first=3, days=10)
    granted = demo.api(AUTHORIZE, {"token": soon["token"]}, token=demo.seller_token)
    assert granted["authorizeServiceOffer"]["userErrors"] == []
    page = session.page
    await session.open("/partner/new")
    await page.get_by_label("Demo partner").select_option(label=PARTNER)
    await page.get_by_role("button", name="Sign in as this partner").click()
    boxes = page.locator("input[name=serviceIds]")
    await expect(boxes.first).to_be_visible()
    await boxes.nth(0).check()
    await page.get_by_role("button", name="Create offer").click()
    await expect(page.locator("#created")).to_contain_text("/authorize/")
    await page.get_by_role("button", name="Back to My service offers").click()
    first = page.locator("#offers > li").first
    await expect(first.locator("[data-status=OPEN]")).to_be_visible()
    await first.get_by_role("button", name="Withdraw").click()
    await first.get_by_role("button", name="Yes, withdraw").click()
    await expect(first.locator("[data-status=WITHDRAWN]")).to_be_visible()

    await page.get_by_role("link", name="Create service offer").click()
    await page.get_by_role("button", name="Create offer").click()
    await expect(page.locator("#offer-services-error")).to_be_visible()
    await session.shoot("partner-create-offer")

    await page.get_by_role("link", name="Authorizations").click()
    await expect(page.get_by_role("heading", name="Ending within 15 days")).to_be_visible()
    await expect(page.locator("#ending-soon")).to_contain_text(soon["services"][0])
    await expect(page.locator("#ending-soon")).to_contain_text(SELLER)
    await session.shoot("partner-authorizations")

    await page.get_by_role("link", name="Requests").click()
    cards = page.locator("#requests > li.request")
    await expect(cards).to_have_count(2)
    reviewing = cards.filter(has=page.locator("[data-status=PARTNER_REVIEWING]"))
    await reviewing.first.get_by_role("button", name="Accept").click()
    await expect(cards.locator("[data-status=PARTNER_ACCEPTED]")).to_have_count(1)
    await reviewing.first.get_by_role("button", name="Reject…").click()
    await page.get_by_role("button", name="Reject request").click()
    await expect(page.locator("[data-field-error]")).to_be_visible()
    await page.get_by_label("Reason for rejecting").fill("We do not serve this category.")
    await page.get_by_role("button", name="Reject request").click()
    await expect(cards.locator("[data-status=REJECTED]")).to_have_count(1)
    await expect(page.get_by_text("We do not serve this category.")).to_be_visible()
    await session.shoot("partner-requests")


async def test_partner_pages_update_live_from_the_events_subscription(
    session: Session, demo: Demo
) -> None:
    await session.open("/partner")
    config = json.loads(await session.page.locator("#tsp-config").text_content() or "{}")
    # A partner and a seller no other test pairs, so this request is the only one between them.
    partner = [a for a in config["demoAccounts"] if a["role"] == "PARTNER"][-1]
    seller_token = next(a["token"] for a in config["demoAccounts"] if a["role"] == "SELLER")
    partner_id = jwt.decode(partner["token"], options={"verify_signature": False})["sub"]
    page = session.page
    await session.open("/partner/requests")
    await page.get_by_label("Demo partner").select_option(label=partner["name"])
    await page.get_by_role("button", name="Sign in as this partner").click()
    requests = page.locator("#requests")
    await expect(requests).to_be_visible()
    await expect(requests).not_to_contain_text("Live request from a shop")
    await asyncio.sleep(0.5)  # the page's event stream is open
    created = demo.api(
        CREATE_REQUEST,
        request_form(partner_id, subject="Live request from a shop"),
        token=seller_token,
    )
    assert created["createRequest"]["userErrors"] == []
    # No reload: the REQUEST_RECEIVED event brings it in.
    await expect(requests).to_contain_text("Live request from a shop", timeout=10_000)
    await session.shoot("partner-requests-live")


async def test_a_refused_event_cursor_reloads_the_page_and_follows_from_now(
    session: Session, demo: Demo
) -> None:
    """A page that resumes its event stream with a cursor the gateway refuses (here one beyond
    the log's end, as after a restore from a backup) cannot catch up by retrying it: it reads
    its list again and follows from now, so later events still arrive."""
    await session.open("/partner")
    config = json.loads(await session.page.locator("#tsp-config").text_content() or "{}")
    accounts = {a["name"]: a for a in config["demoAccounts"]}
    # A pair no other test uses, so this request is the only one between them.
    partner, seller = accounts["Shenzhen Bridge Sellers"], accounts["Batik Nusantara"]
    partner_id = jwt.decode(partner["token"], options={"verify_signature": False})["sub"]
    page = session.page
    beyond_the_log = "999999999"
    served_first = False

    async def restored_store(route: Route) -> None:
        # The first stream is one a gateway served before its store was restored: its one
        # event carries a cursor the restored log never reached. Every later request is real.
        nonlocal served_first
        body = json.loads(route.request.post_data or "{}")
        if body.get("operationName") != "PartnerEvents" or served_first:
            await route.continue_()
            return
        served_first = True
        event = {"data": {"events": {"type": "REQUEST_RECEIVED", "cursor": beyond_the_log}}}
        await route.fulfill(
            status=200,
            headers={"Content-Type": "text/event-stream"},
            body=f"event: next\ndata: {json.dumps(event)}\n\nevent: complete\ndata: \n\n",
        )

    await page.route("**/graphql", restored_store)
    await session.open("/partner/requests")
    await page.get_by_label("Demo partner").select_option(label=partner["name"])
    await page.get_by_role("button", name="Sign in as this partner").click()
    requests = page.locator("#requests")
    await expect(requests).to_be_visible()

    def streams_after(cursor: str | None) -> int:
        return sum(
            1
            for body in session.bodies
            if body.get("operationName") == "PartnerEvents"
            and (body.get("variables") or {}).get("after") == cursor
        )

    # Refused once (INVALID_CURSOR), then followed from now: a stream without a cursor.
    for _ in range(600):  # bounded: up to 60 s on a slow machine
        if streams_after(beyond_the_log) and streams_after(None) >= 2:
            break
        await page.wait_for_timeout(100)
    await asyncio.sleep(0.5)  # the new stream is open
    created = demo.api(
        CREATE_REQUEST,
        request_form(partner_id, subject="Request after a restore"),
        token=seller["token"],
    )
    assert created["createRequest"]["userErrors"] == []
    await expect(requests).to_contain_text("Request after a restore", timeout=10_000)
    assert streams_after(beyond_the_log) == 1
