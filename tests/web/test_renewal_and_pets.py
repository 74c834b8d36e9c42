"""In a real browser against the real service and sandbox insurers: a seller who sells only pet
products gets compliant offers, and a renewal goes from the reminder sweep to a renewed policy,
with the sweep run on a clock the test sets. Screenshots (SQLite run):
docs/screenshots/17-renewal-notice-*.png, 18-renewal-offers-*.png, 19-coverage-renewed-*.png.
"""

from __future__ import annotations

import dataclasses
import re
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Page, expect

from accelerator.auth.keys import create_key
from accelerator.auth.principal import Role
from accelerator.server import runtime_of
from accelerator.web import wording
from tests.api.conftest import power_bank_body
from tests.api.policies import bind_policy, us_terms
from tests.compliance.factories import US_TZ
from tests.web.live_server import LiveService
from tests.web.test_seller_journey import (
    Screens,
    ask_for_quotes,
    profiled_seller,
    sign_in,
    this_month_and_last,
)


def test_a_seller_of_pet_products_only_gets_compliant_offers(
    page: Page, live_service: LiveService
) -> None:
    assert live_service.db is not None
    key = live_service.run(create_key(live_service.db, Role.SELLER, seller_id="pets-1"))
    _, last_month = this_month_and_last()
    body = power_bank_body(categories={"pets": "1"}, sales={last_month: "14000.00"})
    response = httpx.put(
        f"{live_service.url}/v1/sellers/pets-1/profile",
        json=body,
        headers={"Authorization": f"Bearer {key.secret}"},
    )
    assert response.status_code == 200, response.text
    sign_in(page, key.secret)
    page.goto("/app/profile")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your risk profile")
    ask_for_quotes(page)
    # Offers that meet the marketplace's requirements, side by side, at least one to buy.
    expect(page.locator("#compare-title")).to_contain_text("the marketplace's requirements")
    table = page.locator("table.compare")
    expect(table.locator("thead th").first).to_contain_text("1. ")
    expect(table.get_by_role("link", name=re.compile("^Buy this policy")).first).to_be_visible()


def seller_api(service: LiveService, secret: str) -> httpx.Client:
    return httpx.Client(
        base_url=service.url, headers={"Authorization": f"Bearer {secret}"}, timeout=10
    )


def renewal_settled(service: LiveService, secret: str, policy_id: str) -> None:
    """Wait (generously, by polling) until every insurer has answered the renewal."""
    with seller_api(service, secret) as client:
        for _ in range(300):
            view = client.get(f"/v1/policies/{policy_id}/renewal")
            assert view.status_code == 200, view.text
            if view.json()["status"] != "collecting":
                return
            time.sleep(0.1)
    raise AssertionError("the renewal never completed")


def test_a_renewal_from_the_reminder_sweep_to_a_renewed_policy_without_a_gap(
    page: Page, live_service: LiveService, request: pytest.FixtureRequest
) -> None:
    assert live_service.db is not None
    assert live_service.app is not None
    screens = Screens(page, enabled="sqlite" in request.node.callspec.id)
    secret = profiled_seller(live_service, "birch-7")
    today = datetime.now(UTC).astimezone(ZoneInfo(US_TZ)).date()
    # Ends in 75 days: the service's own sweep (on the real clock) leaves it alone for now.
    ends_on = today + timedelta(days=75)
    terms = us_terms(
        ends_on - timedelta(days=365),
        ends_on,
        covered_categories=["home"],
        insurer_name="Harbor Mutual",
        policy_number="HM-GL-2026-0777",
    )
    policy_id = live_service.run(bind_policy(live_service.db, terms, seller_id="birch-7"))

    # The sweep, on a clock 20 days ahead: 55 days before the end, the renewal opens.
    later = datetime.now(UTC) + timedelta(days=20)
    sweep = dataclasses.replace(
        runtime_of(live_service.app).services.renewal_sweep, clock=lambda: later
    )
    assert len(live_service.run(sweep.run())) == 1
    renewal_settled(live_service, secret, policy_id)

    # The notice on the seller's pages.
    sign_in(page, secret)
    page.goto("/app/profile")
    notice = page.locator("[data-notice=renewal_ready]")
    expect(notice).to_contain_text("Renewal offers are ready for policy HM-GL-2026-0777")
    expect(notice).to_contain_text(f"which ends on {wording.long_date(ends_on)}")
    # It replaces the "cover ends" notice for the same policy.
    expect(page.locator("[data-notice=cover_expiring]")).to_have_count(0)
    screens.take("17-renewal-notice")

    # The renewal page: the current terms beside the renewal offers, which start at the end.
    notice.get_by_role("link", name="Compare and renew").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Renew policy HM-GL-2026-0777")
    table = page.locator("table.compare")
    expect(table.locator("thead th.offer-current")).to_have_text(
        "Your current policy: Harbor Mutual"
    )
    period = table.get_by_role("row", name=re.compile("^Policy period"))
    expect(period.locator("td").nth(1)).to_contain_text(f"{wording.long_date(ends_on)} to")
    screens.take("18-renewal-offers")

    # Renew in one step: confirm, and the coverage page shows cover going on past the end.
    table.get_by_role("link", name=re.compile("^Buy this policy")).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your purchase")
    page.get_by_role("button", name=re.compile("^Buy for ")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your coverage")
    standing = page.locator(".standing")
    expect(standing).to_contain_text("Yes: you are covered as the marketplace requires")
    continued = standing.locator(".continued-by")
    expect(continued).to_contain_text("takes over at that moment")
    with seller_api(live_service, secret) as client:
        policies = client.get("/v1/sellers/birch-7/policies").json()
    [renewed] = [p for p in policies if p["id"] != policy_id]
    assert renewed["terms"]["effective_at"] == terms.expires_at.isoformat().replace("+00:00", "Z")
    new_end = datetime.fromisoformat(renewed["terms"]["expires_at"]).astimezone(ZoneInfo(US_TZ))
    expect(continued).to_contain_text(f"until {wording.long_date(new_end.date())}")
    expect(continued).to_contain_text("with no gap")
    expect(standing).to_contain_text("your renewal takes over when this policy ends")
    expect(page.locator(".renewal-ready")).to_have_count(0)
    screens.take("19-coverage-renewed")
    page.goto("/app/profile")
    expect(page.locator("[data-notice=renewal_ready]")).to_have_count(0)
    expect(page.locator("[data-notice=cover_expiring]")).to_have_count(0)
