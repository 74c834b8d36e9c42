"""The coverage page tells the truth when cover is ending or has lapsed, and offers compare side
by side on a phone; in a real browser against the real service and the sandbox insurers.

Screenshots (from the SQLite run) go to docs/screenshots/, numbered after the journey's.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import Page, expect

from accelerator.auth.keys import create_key
from accelerator.auth.principal import Role
from tests.api.policies import certificate
from tests.web.conftest import PHONE
from tests.web.live_server import LiveService
from tests.web.test_seller_journey import Screens, ask_for_quotes, profiled_seller, sign_in

# The page must not scroll sideways on a phone: only the comparison table's own box may.
PAGE_OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
# What sticks out past the right edge (outside the comparison table's box), to say what to fix.
STICKING_OUT = """() => [...document.querySelectorAll("body *")]
  .filter(e => !e.closest(".compare-scroll") && e.getBoundingClientRect().right
    > document.documentElement.clientWidth + 1)
  .map(e => e.tagName + "." + e.className).slice(0, 10)"""


def no_page_overflow(page: Page) -> None:
    assert page.evaluate(PAGE_OVERFLOW) == 0, page.evaluate(STICKING_OUT)


def admin_headers(service: LiveService) -> dict[str, str]:
    assert service.db is not None
    key = service.run(create_key(service.db, Role.ADMIN))
    return {"Authorization": f"Bearer {key.secret}"}


def record(service: LiveService, policy_id: str, kind: str, at: datetime, reason: str) -> None:
    """An operator records a lifecycle event, as the admin API takes it."""
    response = httpx.post(
        f"{service.url}/v1/admin/policies/{policy_id}/events",
        json={
            "kind": kind,
            "effective_at": at.isoformat(),
            "reason": reason,
            "evidence_reference": "TEST-1: insurer letter",
        },
        headers=admin_headers(service),
    )
    assert response.status_code in (200, 201), response.text


def bought_policy(page: Page) -> str:
    """Buy the best compliant offer from an insurer that confirms at once; the policy's id."""
    ask_for_quotes(page)
    table = page.locator("table.compare")
    table.get_by_role("link", name=re.compile("^Buy this policy from (?!Meridian)")).first.click()
    page.get_by_role("button", name=re.compile("^Buy for")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your coverage")
    article = page.locator("article.policy").first
    policy_id = (article.get_attribute("id") or "").removeprefix("policy-")
    assert policy_id
    return policy_id


def test_after_a_cancellation_scheduled_for_next_month_the_page_says_when_cover_ends(
    page: Page, live_service: LiveService, request: pytest.FixtureRequest
) -> None:
    sign_in(page, profiled_seller(live_service, "birch-4"))
    screens = Screens(page, enabled="sqlite" in request.node.callspec.id)
    policy_id = bought_policy(page)

    cancel_at = datetime.now(UTC) + timedelta(days=31)
    record(live_service, policy_id, "cancelled", cancel_at, "Cancelled at the seller's request")
    page.goto("/app/coverage")

    standing = page.locator("#status-heading + .callout")
    expect(standing).to_contain_text("cover ends on")
    expect(standing).to_contain_text("because the policy is cancelled")
    expect(standing).not_to_contain_text("meets the marketplace's requirements")
    expect(page.locator("ul.scheduled")).to_contain_text("is cancelled from")
    expect(page.locator(".next-steps")).to_contain_text("Get quotes and buy a policy that starts")
    policy = page.locator("article.policy")
    expect(policy).not_to_contain_text("Expires")
    expect(policy).to_contain_text("Cover ends early")
    # Times in the marketplace's zone (Los Angeles), never bare UTC.
    expect(policy.locator("table")).to_contain_text(re.compile(r"P[SD]T"))
    expect(policy.locator("table")).not_to_contain_text("UTC")
    screens.take("11-coverage-cancellation-scheduled")


def test_after_a_lapse_the_page_says_not_covered_since_and_shows_the_past_gap(
    page: Page, live_service: LiveService, request: pytest.FixtureRequest
) -> None:
    seller_key = profiled_seller(live_service, "cedar-5")
    screens = Screens(page, enabled="sqlite" in request.node.callspec.id)
    # A policy from elsewhere, verified, in force for 100 days; it lapsed once and came back,
    # then lapsed again five days ago.
    submitted = httpx.post(
        f"{live_service.url}/v1/sellers/cedar-5/policies",
        json=certificate(covered_categories=["home"], policy_number="HM-77"),
        headers={"Authorization": f"Bearer {seller_key}"},
    )
    assert submitted.status_code == 201, submitted.text
    policy_id = submitted.json()["id"]
    verified = httpx.post(
        f"{live_service.url}/v1/policies/{policy_id}/verify",
        json={"reason": "Confirmed with Harbor Mutual"},
        headers=admin_headers(live_service),
    )
    assert verified.status_code == 200, verified.text
    now = datetime.now(UTC)
    record(live_service, policy_id, "lapsed", now - timedelta(days=40), "Premium unpaid")
    record(live_service, policy_id, "reinstated", now - timedelta(days=30), "Premium paid")
    record(live_service, policy_id, "lapsed", now - timedelta(days=5), "Premium unpaid")

    sign_in(page, seller_key)
    page.goto("/app/coverage")
    standing = page.locator("#status-heading + .callout")
    expect(standing).to_contain_text("No: you are not covered as the marketplace requires, since")
    policy = page.locator("article.policy")
    expect(policy).to_contain_text("Cover ended early")
    expect(policy).not_to_contain_text("Expires")
    expect(standing).to_contain_text("when your policy lapsed")
    gaps = page.locator("ul.cover-gaps > li")
    expect(gaps).to_have_count(2)
    expect(gaps.nth(0)).to_contain_text("after policy HM-77 lapsed")
    expect(gaps.nth(1)).to_contain_text("still without cover")
    expect(page.locator(".next-steps")).to_contain_text("Get quotes")
    expect(page.locator(".uninsured")).to_contain_text("recovered from you")
    screens.take("15-coverage-lapsed")


def test_on_a_phone_the_compliant_offers_compare_in_a_table_and_the_others_wait_behind_a_toggle(
    page: Page, live_service: LiveService, request: pytest.FixtureRequest
) -> None:
    sign_in(page, profiled_seller(live_service, "pine-6"))
    page.set_viewport_size(PHONE)
    ask_for_quotes(page)

    table = page.locator("table.compare")
    expect(table).to_be_visible()
    compliant = table.locator("thead th")
    others = page.locator("details#other-offers")
    expect(others).to_be_visible()
    hidden = others.locator("li.offer-gaps")
    total = int(re.findall(r"(\d+) offers?", page.get_by_role("status").inner_text())[-1])
    assert compliant.count() + hidden.count() == total
    assert compliant.count() >= 1
    assert hidden.count() >= 1
    # Behind the toggle until asked for.
    expect(hidden.first).not_to_be_visible()
    # The page itself never scrolls sideways; the table scrolls inside its own box.
    no_page_overflow(page)
    scroller = page.locator(".compare-scroll")
    assert scroller.evaluate("box => box.scrollWidth > box.clientWidth")
    # Its first column (what each row is) stays in view while the offers scroll.
    label = table.locator("th[scope=row]").first
    before = label.bounding_box()
    scroller.evaluate("box => { box.scrollLeft = 200; }")
    after = label.bounding_box()
    assert before is not None
    assert after is not None
    assert before["x"] == after["x"]
    scroller.evaluate("box => { box.scrollLeft = 0; }")

    others.locator("summary").click()
    expect(hidden.first).to_be_visible()
    expect(hidden.first.locator(".badge-gap li").first).not_to_be_empty()
    no_page_overflow(page)
    # A non-compliant offer scoring above a compliant one says why it ranks below.
    why = page.locator(".ranks-below")
    if why.count():
        expect(why.first).to_contain_text("does not meet the marketplace's requirements")
    # The glossary explains the words the table uses.
    page.locator("#glossary > summary").click()
    expect(page.locator("#glossary")).to_contain_text("Certificate holder")
    no_page_overflow(page)
