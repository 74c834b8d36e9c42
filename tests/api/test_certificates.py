"""Certificates in the API, on SQLite and PostgreSQL: the PDF of a policy with its live link,
the link showing a cancellation the moment it is recorded, and uploads read into a pre-filled
submission that stores nothing until the seller submits it."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from io import BytesIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from accelerator.auth.principal import Role
from accelerator.infra.database import Database
from tests.api.conftest import Client, Headers
from tests.api.policies import OPERATOR, bind_policy, certificate, la_today, us_terms
from tests.certificates.pdfs import (
    encrypted_certificate,
    flattened_certificate,
    form_certificate,
    scanned_certificate,
)

pytestmark = pytest.mark.anyio

LINK = re.compile(r"https?://\S+/verify/([A-Za-z0-9_-]+)")
LA = ZoneInfo("America/Los_Angeles")


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(BytesIO(data)).pages)


async def bound_policy(database: Database, **changes: Any) -> str:
    today = la_today()
    return await bind_policy(
        database, us_terms(today - timedelta(days=30), today + timedelta(days=335), **changes)
    )


async def live_link(client: Client, headers: Headers, policy_id: str) -> str:
    response = await client.get(f"/v1/policies/{policy_id}/certificate.pdf", headers=headers)
    assert response.status_code == 200, response.text
    found = LINK.search(pdf_text(response.content))
    assert found, "the certificate prints its live link"
    return f"/verify/{found[1]}"


async def upload(
    client: Client, headers: Headers, data: bytes, *, seller: str = "s-1", name: str = "c.pdf"
) -> Any:
    return await client.post(
        f"/v1/sellers/{seller}/certificates",
        files={"file": (name, data, "application/pdf")},
        headers=headers,
    )


async def test_a_seller_downloads_a_certificate_stating_every_field_a_marketplace_checks(
    client: Client, seller_headers: Headers, profiled_seller: Any, database: Database
) -> None:
    policy_id = await bound_policy(
        database, territories=["US", "CA"], covered_categories=["electronics", "home/kitchen"]
    )
    response = await client.get(f"/v1/policies/{policy_id}/certificate.pdf", headers=seller_headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    text = pdf_text(response.content)
    today = la_today()
    for line in [
        "Insurer: Harbor Mutual",
        "Insurer rating (AM Best): A",
        "Policy number: GL-100",
        "Named insured: Volt Goods LLC",
        "Type of insurance: General Liability",
        "Policy form: Occurrence",
        f"Policy effective date: {(today - timedelta(days=30)).isoformat()}",
        f"Policy expiration date: {(today + timedelta(days=335)).isoformat()}",
        "Policy period: 00:01 local time in America/Los_Angeles",
        "Each occurrence: 1,000,000 USD",
        "General aggregate: 2,000,000 USD",
        "Products-completed operations aggregate: 2,000,000 USD",
        "Deductible: 2,500 USD",
        f"Additional insured: {OPERATOR}",
        "Territories: US, CA",
        "Covered categories: electronics, home/kitchen",
        "Cancellation notice: 30 days",
        f"Issued at: {datetime.now(UTC):%Y-%m-%d}",
    ]:
        assert line in text, line
    assert LINK.search(text)
    # No price on a certificate.
    assert "premium" not in text.lower()


async def test_the_live_link_shows_active_then_cancelled_with_its_date_once_recorded(
    client: Client,
    seller_headers: Headers,
    admin_headers: Headers,
    profiled_seller: Any,
    database: Database,
) -> None:
    policy_id = await bound_policy(database)
    link = await live_link(client, seller_headers, policy_id)
    # No key needed: the link is the secret.
    before = await client.get(link, headers={"Accept": "application/json"})
    assert before.status_code == 200, before.text
    status = before.json()
    assert status["status"] == "active"
    assert status["policy_number"] == "GL-100"
    assert status["insurer_name"] == "Harbor Mutual"
    assert status["named_insured"] == "Volt Goods LLC"
    assert set(status) == {
        "policy_number",
        "insurer_name",
        "named_insured",
        "status",
        "status_since",
        "cover_ends_on",
        "effective_date",
        "expiry_date",
        "timezone",
        "checked_at",
    }

    cancelled_at = datetime.now(UTC) - timedelta(minutes=5)
    recorded = await client.post(
        f"/v1/admin/policies/{policy_id}/events",
        json={
            "kind": "cancelled",
            "effective_at": cancelled_at.isoformat(),
            "reason": "Non-payment",
            "evidence_reference": "OPS-1: insurer email",
        },
        headers=admin_headers,
    )
    assert recorded.status_code == 201, recorded.text

    after = (await client.get(link, headers={"Accept": "application/json"})).json()
    assert after["status"] == "cancelled"
    assert after["status_since"] == cancelled_at.astimezone(LA).date().isoformat()
    page = await client.get(link, headers={"Accept": "text/html,application/xhtml+xml"})
    assert page.headers["content-type"].startswith("text/html")
    day = cancelled_at.astimezone(LA).date()
    assert f"Cancelled on {day.day} {day:%B %Y}" in page.text
    # The same certificate downloaded again keeps its link.
    assert await live_link(client, seller_headers, policy_id) == link


async def test_a_cancellation_recorded_ahead_shows_active_and_the_day_cover_ends(
    client: Client,
    seller_headers: Headers,
    admin_headers: Headers,
    profiled_seller: Any,
    database: Database,
) -> None:
    policy_id = await bound_policy(database)
    link = await live_link(client, seller_headers, policy_id)
    ends = datetime.now(UTC) + timedelta(days=20)
    await client.post(
        f"/v1/admin/policies/{policy_id}/events",
        json={
            "kind": "cancelled",
            "effective_at": ends.isoformat(),
            "reason": "Seller asked",
            "evidence_reference": "OPS-2",
        },
        headers=admin_headers,
    )
    status = (await client.get(link, headers={"Accept": "application/json"})).json()
    assert status["status"] == "active"
    assert status["cover_ends_on"] == ends.astimezone(LA).date().isoformat()


async def test_another_seller_s_certificate_is_not_found_and_claims_and_admin_may_read_it(
    client: Client,
    key_for: Callable[..., Awaitable[Headers]],
    admin_headers: Headers,
    claims_headers: Headers,
    profiled_seller: Any,
    database: Database,
) -> None:
    policy_id = await bound_policy(database)
    other = await key_for(Role.SELLER, "s-2")
    refused = await client.get(f"/v1/policies/{policy_id}/certificate.pdf", headers=other)
    assert refused.status_code == 404
    assert refused.json()["code"] == "policy_not_found"
    for headers in (admin_headers, claims_headers):
        response = await client.get(f"/v1/policies/{policy_id}/certificate.pdf", headers=headers)
        assert response.status_code == 200
    unknown = await client.get("/v1/policies/nope/certificate.pdf", headers=admin_headers)
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"


async def test_a_policy_waiting_for_verification_has_no_certificate_yet(
    client: Client, seller_headers: Headers, profiled_seller: Any
) -> None:
    submitted = await client.post(
        "/v1/sellers/s-1/policies", json=certificate(), headers=seller_headers
    )
    assert submitted.status_code == 201, submitted.text
    response = await client.get(
        f"/v1/policies/{submitted.json()['id']}/certificate.pdf", headers=seller_headers
    )
    assert response.status_code == 409
    assert response.json()["code"] == "certificate_unavailable"


async def test_an_unknown_live_link_is_not_found_as_json_and_as_a_page(client: Client) -> None:
    token = "A" * 32
    as_json = await client.get(f"/verify/{token}", headers={"Accept": "application/json"})
    assert as_json.status_code == 404
    assert as_json.json()["code"] == "certificate_not_found"
    as_page = await client.get("/verify/not-a-token!", headers={"Accept": "text/html"})
    assert as_page.status_code == 404
    assert "Certificate not found" in as_page.text


@pytest.mark.parametrize("make", [form_certificate, flattened_certificate])
async def test_an_uploaded_certificate_is_read_into_a_submission_and_stored_only_when_submitted(
    make: Callable[..., bytes], client: Client, seller_headers: Headers, profiled_seller: Any
) -> None:
    response = await upload(client, seller_headers, make())
    assert response.status_code == 200, response.text
    reading = response.json()
    assert reading["read_from"] == ("form_fields" if make is form_certificate else "text")
    assert reading["missing"] == []
    assert reading["gaps"] == []
    submission = reading["submission"]
    assert submission["insurer_name"] == "Harbor Mutual"
    assert submission["policy_number"] == "HM-CGL-7781"
    assert submission["each_occurrence"] == {"amount": "1000000", "currency": "USD"}
    assert submission["additional_insureds"] == [OPERATOR]
    assert submission["territories"] == ["US"]
    assert submission["covered_categories"] == ["electronics"]
    listed = await client.get("/v1/sellers/s-1/policies", headers=seller_headers)
    assert listed.json() == []

    submitted = await client.post(
        "/v1/sellers/s-1/policies", json=submission, headers=seller_headers
    )
    assert submitted.status_code == 201, submitted.text
    assert submitted.json()["verification"] == "pending_verification"


async def test_every_gap_is_listed_at_once_with_the_wording_that_fixes_it(
    client: Client, seller_headers: Headers, profiled_seller: Any
) -> None:
    one = await upload(client, seller_headers, form_certificate(deductible="$25,000"))
    gaps = one.json()["gaps"]
    assert [gap["code"] for gap in gaps] == ["deductible_above_maximum"]
    assert "25,000" in gaps[0]["message"]
    assert gaps[0]["fix"] == (
        "Ask for a deductible of at most 10,000 USD, shown on the certificate."
    )

    many = await upload(
        client,
        seller_headers,
        flattened_certificate(
            deductible="$25,000",
            occurrence="$500,000",
            additional_insured="",
            rating="B+",
            notice_days=10,
        ),
    )
    codes = [gap["code"] for gap in many.json()["gaps"]]
    assert codes == [
        "limit_below_requirement",
        "deductible_above_maximum",
        "additional_insured_missing",
        "insurer_rating_below_minimum",
        "notice_period_too_short",
    ]
    fixes = {gap["code"]: gap["fix"] for gap in many.json()["gaps"]}
    assert f'"{OPERATOR}"' in fixes["additional_insured_missing"]


TRUNCATED = flattened_certificate()[:400]


@pytest.mark.parametrize(
    ("data", "codes", "words"),
    [
        (b"", {"empty_file"}, "empty"),
        (json.dumps({"policy": "HM-1"}).encode(), {"not_a_pdf"}, "not a PDF"),
        (b"GIF89a" + bytes(200), {"not_a_pdf"}, "not a PDF"),
        (TRUNCATED, {"unreadable_pdf", "no_text"}, "read"),
        (b"%PDF-1.7\n" + bytes(range(256)) * 8, {"unreadable_pdf", "no_text"}, "read"),
        (
            b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\n%%EOF",
            {"unreadable_pdf", "no_text"},
            "read",
        ),
        (scanned_certificate(), {"no_text"}, "could not read any text"),
        (encrypted_certificate(), {"encrypted_pdf"}, "password"),
    ],
    ids=["zero-bytes", "json", "gif", "truncated", "garbage", "no-pages", "scan", "encrypted"],
)
async def test_a_file_that_cannot_be_read_is_a_422_naming_the_file_field(
    data: bytes,
    codes: set[str],
    words: str,
    client: Client,
    seller_headers: Headers,
    profiled_seller: Any,
) -> None:
    response = await upload(client, seller_headers, data)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] in codes
    assert words in problem["detail"]
    assert problem["errors"][0]["field"] == "file"


async def test_an_oversized_upload_is_a_413_and_other_bodies_are_refused_clearly(
    client: Client, seller_headers: Headers, profiled_seller: Any
) -> None:
    big = b"%PDF-1.7\n" + b"0" * (5 * 1024 * 1024)
    too_large = await upload(client, seller_headers, big)
    assert too_large.status_code == 413
    assert too_large.json()["code"] == "payload_too_large"

    as_json = await client.post(
        "/v1/sellers/s-1/certificates", json={"file": "x"}, headers=seller_headers
    )
    assert as_json.status_code == 415
    no_file = await client.post(
        "/v1/sellers/s-1/certificates", files={"other": ("a.pdf", b"x")}, headers=seller_headers
    )
    assert no_file.status_code == 422
    assert no_file.json()["errors"][0]["field"] == "file"


async def test_a_seller_may_not_read_a_certificate_for_another_seller(
    client: Client, seller_headers: Headers, profiled_seller: Any
) -> None:
    response = await upload(client, seller_headers, form_certificate(), seller="s-2")
    assert response.status_code == 403
