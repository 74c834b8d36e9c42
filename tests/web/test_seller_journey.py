"""A seller's whole journey in a real browser, against the real service and sandbox insurers.

Sign in with a key, describe the business (first with a mistake), read the risk profile, watch
quotes arrive on the page without reloading it, buy a compliant offer, and find the policy on
the coverage page. Screenshots of every page, at desktop and phone widths, go to
docs/screenshots/ (from the SQLite run) so a reviewer can look without running anything.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from accelerator.auth.keys import create_key
from accelerator.auth.principal import Role
from tests.api.conftest import power_bank_body
from tests.web.conftest import DESKTOP, PHONE
from tests.web.live_server import LiveService

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# Harbor answers this late, so the page is seen filling in rather than arriving complete.
HARBOR_LATENCY_MS = 1500


def this_month_and_last() -> tuple[str, str]:
    today = datetime.now(UTC).date()
    last = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return f"{today:%Y-%m}", f"{last[0]:04d}-{last[1]:02d}"


# What every page must offer assistive technology, checked on each page of the journey.
PAGE_BASICS = """() => {
  const problems = [];
  if (document.documentElement.lang !== "en") problems.push("no lang on <html>");
  if (document.querySelectorAll("h1").length !== 1) problems.push("not exactly one h1");
  let level = 0;
  for (const heading of document.querySelectorAll("h1, h2, h3, h4, h5, h6")) {
    const next = Number(heading.tagName[1]);
    if (next > level + 1) problems.push("heading level skipped before: " + heading.textContent);
    level = next;
  }
  for (const control of document.querySelectorAll("input:not([type=hidden]), select, textarea")) {
    if (control.labels.length === 0) problems.push("unlabelled control: " + control.name);
  }
  for (const link of document.querySelectorAll("a, button")) {
    if (!link.textContent.trim()) problems.push("control without text: " + link.outerHTML);
  }
  return problems;
}"""


class Screens:
    """Checks each page's basics and saves it at both widths (names start with their place
    in the journey, so the folder reads in order)."""

    def __init__(self, page: Page, enabled: bool) -> None:
        self.page = page
        self.enabled = enabled

    def take(self, name: str) -> None:
        assert self.page.evaluate(PAGE_BASICS) == [], name
        if not self.enabled:
            return
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
            self.page.set_viewport_size(size)
            self.page.screenshot(
                path=SCREENSHOTS / f"{name}-{label}.png",
                full_page=True,
                animations="disabled",
            )
        self.page.set_viewport_size(DESKTOP)


def sign_in(page: Page, secret: str) -> None:
    page.goto("/app/sign-in")
    page.get_by_label("Seller API key").fill(secret)
    page.get_by_role("button", name="Sign in").click()


def profiled_seller(service: LiveService, seller_id: str) -> str:
    """A seller key whose seller already has a profile (made through the JSON API)."""
    assert service.db is not None
    key = service.run(create_key(service.db, Role.SELLER, seller_id=seller_id))
    _, last_month = this_month_and_last()
    body = power_bank_body(categories={"home/furniture": "1"}, sales={last_month: "14000.00"})
    response = httpx.put(
        f"{service.url}/v1/sellers/{seller_id}/profile",
        json=body,
        headers={"Authorization": f"Bearer {key.secret}"},
    )
    assert response.status_code == 200, response.text
    return key.secret


def ask_for_quotes(page: Page) -> None:
    page.goto("/app/profile")
    page.get_by_role("button", name="Get quotes from insurers").click()
    expect(page.get_by_role("status")).to_have_text(
        re.compile(r"^All 4 insurers have answered"), timeout=15_000
    )


def test_a_seller_signs_in_profiles_watches_quotes_arrive_buys_and_sees_the_policy(
    page: Page, live_service: LiveService, request: pytest.FixtureRequest
) -> None:
    assert live_service.db is not None
    assert live_service.sandbox is not None
    key = live_service.run(
        create_key(live_service.db, Role.SELLER, seller_id="oak-1", name="journey")
    )
    screens = Screens(page, enabled="sqlite" in request.node.callspec.id)

    # Signed out, the pages send the seller to the sign-in form.
    page.goto("/app/coverage")
    expect(page).to_have_url(re.compile(r"/app/sign-in\?next=%2Fapp%2Fcoverage$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    screens.take("01-sign-in")

    # Keyboard only: the key field, then Enter.
    page.get_by_label("Seller API key").fill(key.secret)
    page.keyboard.press("Enter")
    # The coverage page asked first; with no profile yet it sends the seller to the form.
    expect(page.get_by_role("heading", level=1)).to_have_text("Describe your business")
    screens.take("02-profile-form")

    # A mistake is reported next to the field it concerns, and the summary takes the focus.
    this_month, last_month = this_month_and_last()
    page.get_by_label("Legal name of your business").fill("")
    page.locator(f"#sales_{last_month}").fill("14,000")
    page.get_by_label("Category 1").select_option("home/furniture")
    page.get_by_label("How your business works").select_option("importer")
    page.get_by_label("Countries where your products are made").fill("CN, Vietnam")
    page.get_by_role("button", name="Save and see my risk profile").click()
    expect(page.locator(".error-summary")).to_be_focused()
    name_error = page.locator("#legal_name-error")
    expect(name_error).to_contain_text("Enter your business's legal name")
    expect(page.get_by_label("Legal name of your business")).to_have_attribute(
        "aria-describedby", re.compile("legal_name-error")
    )
    expect(page.locator("#manufacturing_countries-error")).to_contain_text("not Vietnam")
    # What was typed is kept.
    expect(page.locator(f"#sales_{last_month}")).to_have_value("14,000")
    screens.take("03-profile-form-errors")

    page.get_by_label("Legal name of your business").fill("Oak & Iron Furniture LLC")
    page.get_by_label("Countries where your products are made").fill("CN, VN")
    page.locator(f"#sales_{this_month}").fill("6200")
    page.get_by_role("button", name="Save and see my risk profile").click()

    # The risk profile in plain words: the requirement and its deadline, tier, drivers, cover.
    expect(page.get_by_role("heading", level=1)).to_have_text("Your risk profile")
    expect(page.get_by_role("status")).to_contain_text("Your profile is saved")
    expect(page.locator(".callout-warning")).to_contain_text(
        "Yes: the marketplace requires product liability insurance by"
    )
    expect(
        page.get_by_role("heading", name=re.compile(r"Your risk: tier [A-E] \("))
    ).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("What you sell"))).to_contain_text("of 40")
    expect(page.get_by_text(re.compile(r"Indicative premium"))).to_be_visible()
    screens.take("04-risk-profile")

    # Quotes fill in on the page itself: no reload between "asking" and "answered".
    with httpx.Client(base_url=live_service.sandbox.url) as control:
        slow = {"latency": {"fixed_ms": HARBOR_LATENCY_MS}}
        assert control.put("/_control/harbor/faults", json=slow).status_code == 200
        page.get_by_role("button", name="Get quotes from insurers").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("^Quotes for Oak"))
        page.evaluate("window.stillTheSamePage = true")
        insurers = page.locator('[data-part="insurers"]')
        harbor = insurers.get_by_role("row", name=re.compile("Harbor Mutual"))
        expect(harbor).to_contain_text("Asking")
        screens.take("05-quotes-arriving")
        expect(page.get_by_role("status")).to_have_text(
            re.compile(r"^All 4 insurers have answered: \d+ offers?\.$"), timeout=15_000
        )
        control.delete("/_control/harbor/faults")
    assert page.evaluate("window.stillTheSamePage") is True
    expect(harbor).to_contain_text("Made an offer")
    # Meridian answers by callback after the others; its row settled too.
    expect(insurers.get_by_role("row", name=re.compile("Meridian"))).not_to_contain_text("Asking")

    # Compliant offers side by side, best first; the others wait behind a toggle.
    table = page.locator("table.compare")
    expect(table.locator("thead th").first).to_contain_text("1. ")
    assert table.locator("thead th").count() >= 1
    others = page.locator("details#other-offers")
    if others.count():
        expect(others).not_to_have_attribute("open", re.compile(".*"))
        expect(others.locator(".badge-gap li").first).not_to_be_visible()
        others.locator("summary").click()
        expect(others.locator(".badge-gap li").first).not_to_be_empty()
        others.locator("summary").click()

    # The score breakdown opens from the keyboard.
    score = page.locator("details.score").first
    score.locator("summary").focus()
    page.keyboard.press("Enter")
    expect(score.get_by_role("row", name=re.compile("Total annual cost"))).to_be_visible()
    expect(score).to_contain_text("cheapest compliant")
    screens.take("06-quotes")

    price = table.locator("tr.row-price td strong").first.inner_text()
    insurer = table.locator("thead th").first.inner_text().split(". ", 1)[1]
    table.get_by_role("link", name=re.compile("^Buy this policy")).first.click()

    # The confirmation states the price and that the policy meets the requirements.
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your purchase")
    expect(page.locator("dl.facts")).to_contain_text(f"{price} a year")
    expect(page.locator(".callout-success")).to_contain_text(
        "This policy meets the marketplace's requirements"
    )
    screens.take("07-confirm")
    page.get_by_role("button", name=f"Buy for {price} a year").click()

    # An insurer that confirms later leaves the request pending; the page follows it.
    if "/app/quotes/" in page.url:
        expect(page.locator(".callout-info")).to_contain_text("Waiting for")
        expect(page.locator(".callout-success")).to_contain_text(
            f"You bought {insurer}", timeout=15_000
        )
        page.get_by_role("link", name="See your coverage").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Your coverage")
    policy = page.locator("article.policy")
    expect(policy).to_have_count(1)
    expect(policy.get_by_role("heading", level=3)).to_contain_text(insurer)
    expect(policy).to_contain_text("Its terms meet the marketplace's requirements")
    expect(policy.get_by_role("row", name=re.compile("Policy issued"))).to_be_visible()
    # Cover bought today starts tomorrow: the page says when the seller is covered from.
    expect(page.locator("#status-heading + .callout .callout-title")).to_have_text(
        re.compile(r"^(Covered from \d+ \w+ \d{4}|✓ Yes: you are covered)")
    )
    expect(page.get_by_text("Deadline to be insured")).to_be_visible()
    screens.take("08-coverage")

    # Signing out ends the session: the pages ask for the key again.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    page.goto("/app/coverage")
    expect(page).to_have_url(re.compile("/app/sign-in"))


def test_buying_from_an_insurer_that_confirms_later_shows_the_wait_then_the_policy(
    page: Page, live_service: LiveService, request: pytest.FixtureRequest
) -> None:
    sign_in(page, profiled_seller(live_service, "elm-2"))
    screens = Screens(page, enabled="sqlite" in request.node.callspec.id)
    ask_for_quotes(page)
    table = page.locator("table.compare")
    table.get_by_role("link", name=re.compile("^Buy this policy from Meridian")).first.click()
    page.get_by_role("button", name=re.compile("^Buy for")).click()

    # Meridian confirms by callback: the seller sees the wait, then the result, on one page.
    expect(page).to_have_url(re.compile(r"/app/quotes/[^/?]+\?notice=bind_pending$"))
    expect(page.locator(".callout-info")).to_contain_text(
        "Waiting for Meridian Specialty Insurance Company to confirm your purchase"
    )
    expect(table).to_contain_text("You are buying this policy")
    screens.take("09-bind-pending")
    expect(page.locator(".callout-success")).to_contain_text(
        "You bought Meridian Specialty Insurance Company", timeout=15_000
    )
    expect(table).to_contain_text("You bought this policy.")
    page.get_by_role("link", name="See your coverage").click()
    expect(page.locator("article.policy h3")).to_contain_text("Meridian")


def test_an_offer_with_gaps_is_bought_only_after_the_seller_acknowledges_them(
    page: Page, live_service: LiveService, request: pytest.FixtureRequest
) -> None:
    sign_in(page, profiled_seller(live_service, "ash-3"))
    screens = Screens(page, enabled="sqlite" in request.node.callspec.id)
    ask_for_quotes(page)
    page.locator("#other-offers > summary").click()
    short = page.locator("li.offer-gaps").first
    gaps = short.locator(".badge-gap li").all_inner_texts()
    assert gaps
    short.get_by_role("link", name=re.compile("^Buy despite the gaps")).click()

    # The confirmation lists the same gaps and will not buy until they are acknowledged.
    warning = page.locator(".callout-warning")
    for gap in gaps:
        expect(warning).to_contain_text(gap)
    page.get_by_role("button", name=re.compile("^Buy for")).click()
    expect(page.locator("#acknowledge_gaps-error")).to_contain_text("Tick this box")
    expect(page.locator(".error-summary")).to_be_focused()
    acknowledge = page.get_by_label(re.compile("I understand this policy falls short"))
    expect(acknowledge).to_have_attribute("aria-invalid", "true")
    screens.take("10-confirm-gaps")
    acknowledge.check()
    page.get_by_role("button", name=re.compile("^Buy for")).click()

    if "/app/quotes/" in page.url:  # the asynchronous insurer: wait for its confirmation
        expect(page.locator(".callout-success")).to_contain_text("You bought", timeout=15_000)
        page.get_by_role("link", name="See your coverage").click()
    policy = page.locator("article.policy")
    expect(policy).to_contain_text("Falls short of the marketplace's requirements")
    expect(page.locator("#status-heading + .callout")).to_contain_text(
        "No: you are not covered as the marketplace requires"
    )
