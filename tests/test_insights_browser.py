"""/partner/insights in the system Chromium against a demo gateway running trusted documents
only: the offer page counts its open, the insights page shows what the API answers, follows
the events subscription, offers the CSV, and passes axe-core at both screenshot sizes."""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import unquote

import pytest

from tests.browser import AUTHORIZE, INSIGHTS, Demo, create_offer
from tests.test_app_browser import _REASON, PARTNER, Session, browser, demo, session

pytestmark = pytest.mark.skipif(_REASON is not None, reason=_REASON or "")
__all__ = ["browser", "demo", "session"]  # the fixtures this module uses

if _REASON is None:
    from playwright.async_api import expect


async def test_insights_page_draws_what_the_api_answers_and_follows_events(
    session: Session, demo: Demo
) -> None:
    page = session.page
    offer = create_offer(demo, services=1, days=30)
    async with page.expect_response(
        lambda response: "RecordOfferLinkOpen" in (response.request.post_data or "")
    ) as opened:
        await session.open(f"/authorize/{offer['token']}")
    counted = await (await opened.value).json()
    assert counted["data"]["recordOfferLinkOpen"] == {"counted": True, "userErrors": []}
    accepted = demo.api(AUTHORIZE, {"token": offer["token"]}, token=demo.seller_token)
    assert accepted["authorizeServiceOffer"]["userErrors"] == []

    await session.open("/partner/insights")
    await page.get_by_label("Demo partner").select_option(label=PARTNER)
    await page.get_by_role("button", name="Sign in as this partner").click()
    summary = page.locator("#summary")
    await expect(summary).to_be_visible()
    zone = await page.locator("input[name=timeZone]").input_value()
    first, last = date.today() - timedelta(days=29), date.today()
    variables = {"from": first.isoformat(), "to": last.isoformat(), "tz": zone}
    answer = demo.api(INSIGHTS, variables, token=demo.partner_token)["viewer"]["partner"]
    figures = answer["insights"]["summary"]
    assert figures["linkOpens"] >= 1 and figures["offersAccepted"] >= 1
    for name, value in (
        ("linkOpens", figures["linkOpens"]),
        ("offersAccepted", figures["offersAccepted"]),
        ("expiring", figures["expiringWithin15Days"]),
    ):
        await expect(summary.locator(f"[data-figure={name}]")).to_have_text(str(value))
    rows = page.locator("#authorizations-table tbody tr")
    buckets = answer["insights"]["buckets"]
    await expect(rows).to_have_count(len(buckets))
    granted = rows.last.locator("[data-figure=authorizationsGranted]")
    await expect(granted).to_have_text(str(buckets[-1]["authorizationsGranted"]))
    await expect(page.locator("[data-chart=authorizations] canvas")).to_have_count(1)
    href = await page.locator("#csv").get_attribute("href") or ""
    assert href.startswith("data:text/csv")
    assert unquote(href).splitlines()[1].startswith(f"{first.isoformat()},{first.isoformat()},")
    await session.shoot("partner-insights")

    # No reload: the OFFER_ACCEPTED event brings the next acceptance in.
    again = create_offer(demo, services=1, first=1, days=30)
    before = figures["offersAccepted"]
    accepted = demo.api(AUTHORIZE, {"token": again["token"]}, token=demo.seller_token)
    assert accepted["authorizeServiceOffer"]["userErrors"] == []
    await expect(summary.locator("[data-figure=offersAccepted]")).to_have_text(
        str(before + 1), timeout=10_000
    )
