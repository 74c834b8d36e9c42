"""Certificates in a real browser: download a policy's certificate and open its live link after
a cancellation; bring a certificate from elsewhere, see its one gap named with what fixes it,
and submit it. Screenshots of the new pages (SQLite run) go to docs/screenshots/."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from accelerator.auth.keys import create_key
from accelerator.auth.principal import Role
from tests.api.policies import bind_policy, la_today, us_terms
from tests.certificates.pdfs import form_certificate, scanned_certificate
from tests.web.live_server import LiveService
from tests.web.test_seller_journey import Screens, profiled_seller, sign_in

LINK = re.compile(r"(https?://\S+/verify/[A-Za-z0-9_-]+)")


def test_a_seller_downloads_a_certificate_whose_live_link_shows_a_cancellation(
    page: Page, live_service: LiveService, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    assert live_service.db is not None
    screens = Screens(page, enabled="sqlite" in request.node.callspec.id)
    sign_in(page, profiled_seller(live_service, "birch-4"))
    today = la_today()
    terms = us_terms(
        today - timedelta(days=30),
        today + timedelta(days=335),
        policy_number="HM-CGL-0412",
        covered_categories=["home"],
    )
    policy_id = live_service.run(bind_policy(live_service.db, terms, seller_id="birch-4"))

    page.goto("/app/coverage")
    policy = page.locator(f"#policy-{policy_id}")
    with page.expect_download() as download:
        policy.get_by_role("link", name=re.compile("^Download certificate")).click()
    path = tmp_path / "certificate.pdf"
    download.value.save_as(path)
    text = PdfReader(BytesIO(path.read_bytes())).pages[0].extract_text()
    assert "Policy number: HM-CGL-0412" in text
    assert "Named insured: Volt Goods LLC" in text
    found = LINK.search(text)
    assert found, text
    link = found[1]
    assert link.startswith(live_service.url)

    page.goto(link)
    expect(page.locator("#certificate-status")).to_contain_text("Active")

    # An operator records the insurer's cancellation: the same link says so at once.
    admin = live_service.run(create_key(live_service.db, Role.ADMIN))
    cancelled_at = datetime.now(UTC) - timedelta(minutes=1)
    response = httpx.post(
        f"{live_service.url}/v1/admin/policies/{policy_id}/events",
        json={
            "kind": "cancelled",
            "effective_at": cancelled_at.isoformat(),
            "reason": "Non-payment of premium",
            "evidence_reference": "OPS-77: insurer's notice",
        },
        headers={"Authorization": f"Bearer {admin.secret}"},
    )
    assert response.status_code == 201, response.text
    page.reload()
    day = cancelled_at.astimezone(ZoneInfo("America/Los_Angeles")).date()
    expect(page.locator("#certificate-status")).to_contain_text(
        f"Cancelled on {day.day} {day:%B %Y}"
    )
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Certificate check: policy HM-CGL-0412"
    )
    screens.take("14-verify-cancelled")


def test_a_seller_uploads_a_certificate_sees_its_one_gap_named_and_submits_it(
    page: Page, live_service: LiveService, request: pytest.FixtureRequest
) -> None:
    screens = Screens(page, enabled="sqlite" in request.node.callspec.id)
    sign_in(page, profiled_seller(live_service, "cedar-5"))
    page.goto("/app/coverage")
    page.get_by_role("link", name="Bring the certificate you already have").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Bring a certificate you already have"
    )
    screens.take("12-certificate-upload")

    # A scan cannot be read: the page says so next to the field.
    field = page.get_by_label("Certificate of insurance (PDF)")
    field.set_input_files(
        {"name": "scan.pdf", "mimeType": "application/pdf", "buffer": scanned_certificate()}
    )
    page.get_by_role("button", name="Read my certificate").click()
    expect(page.locator("#certificate-error")).to_contain_text("could not read any text")
    expect(page.locator(".error-summary")).to_be_focused()

    certificate = form_certificate(categories="home", deductible="$25,000")
    page.get_by_label("Certificate of insurance (PDF)").set_input_files(
        {"name": "acord25.pdf", "mimeType": "application/pdf", "buffer": certificate}
    )
    page.get_by_role("button", name="Read my certificate").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("What your certificate says")
    gaps = page.locator("#certificate-gaps")
    expect(gaps).to_contain_text("One thing falls short of the marketplace's requirements")
    expect(gaps.locator("li")).to_have_count(1)
    expect(gaps).to_contain_text(
        "Deductible 25,000 USD is above the marketplace maximum of 10,000 USD."
    )
    expect(gaps).to_contain_text(
        "What fixes it: Ask for a deductible of at most 10,000 USD, shown on the certificate."
    )
    # What was read is a form the seller can correct before submitting.
    expect(page.get_by_label("Policy number")).to_have_value("HM-CGL-7781")
    expect(page.get_by_label("Deductible")).to_have_value("25,000")
    screens.take("13-certificate-reading")

    page.get_by_role("button", name="Submit this policy for verification").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your coverage")
    expect(page.get_by_role("status")).to_contain_text("Your certificate is submitted")
    policy = page.locator("article.policy", has_text="HM-CGL-7781")
    expect(policy).to_contain_text("Waiting for verification")
    # Not verified yet: no certificate of ours to download.
    expect(policy.get_by_role("link", name=re.compile("^Download certificate"))).to_have_count(0)
