"""A seller whose cover ends soon sees it on its profile page, in a real browser against the
real service. Screenshot (SQLite run): docs/screenshots/16-notice-expiring-*.png."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.api.policies import bind_policy, us_terms
from tests.compliance.factories import US_TZ
from tests.web.live_server import LiveService
from tests.web.test_seller_journey import Screens, profiled_seller, sign_in


def test_a_seller_whose_cover_ends_in_twenty_days_sees_a_notice_on_the_profile_page(
    page: Page, live_service: LiveService, request: pytest.FixtureRequest
) -> None:
    sign_in(page, profiled_seller(live_service, "aspen-6"))
    screens = Screens(page, enabled="sqlite" in request.node.callspec.id)
    assert live_service.db is not None
    today = datetime.now(UTC).astimezone(ZoneInfo(US_TZ)).date()
    ends_on = today + timedelta(days=20)
    terms = us_terms(
        ends_on - timedelta(days=365),
        ends_on,
        covered_categories=["home"],
        insurer_name="Harbor Mutual",
        policy_number="HM-GL-2026-0620",
    )
    live_service.run(bind_policy(live_service.db, terms, seller_id="aspen-6"))

    page.goto("/app/profile")
    notice = page.locator("[data-notice=cover_expiring]")
    expect(notice).to_contain_text("Your cover with Harbor Mutual ends on")
    expect(notice).to_contain_text("(in 20 days)")
    expect(notice.get_by_role("link", name="See your coverage")).to_have_attribute(
        "href", "/app/coverage"
    )
    screens.take("16-notice-expiring")
    notice.get_by_role("link", name="See your coverage").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your coverage")
