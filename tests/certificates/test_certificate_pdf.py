"""The certificate PDF: every field in its text, the same bytes for the same content, and our
own reader reads it back into the same policy."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from io import BytesIO
from typing import Any

from pypdf import PdfReader

from accelerator.certificates.pdf import CertificateContent, render_certificate
from accelerator.certificates.reading import draft_of, read_pdf
from schemas import Money

OPERATOR = "Amazon.com Services LLC and its affiliates and assignees"


def usd(amount: int) -> Money:
    return Money(Decimal(amount), "USD")


def content(**changes: Any) -> CertificateContent:
    values: dict[str, Any] = {
        "insurer_name": "Harbor Mutual",
        "insurer_rating": "A-",
        "policy_number": "HM-CGL-0042",
        "named_insured": "Volt Goods LLC",
        "policy_form": "occurrence",
        "coverage_type": "general_liability",
        "effective_date": date(2026, 3, 1),
        "expiry_date": date(2027, 3, 1),
        "timezone": "America/Los_Angeles",
        "per_occurrence": usd(1_000_000),
        "aggregate": usd(2_000_000),
        "products_completed_operations": usd(2_000_000),
        "deductible": usd(2_500),
        "additional_insureds": (OPERATOR,),
        "territories": ("US",),
        "covered_categories": ("electronics",),
        "cancellation_notice_days": 30,
        "issued_at": datetime(2026, 3, 2, 10, 30, tzinfo=UTC),
        "verification_url": "https://accelerator.example/verify/abc",
    }
    values.update(changes)
    return CertificateContent(**values)


def test_the_same_content_gives_the_same_pdf() -> None:
    assert render_certificate(content()) == render_certificate(content())


def test_every_line_of_the_certificate_is_in_its_text() -> None:
    certificate = content()
    text = PdfReader(BytesIO(render_certificate(certificate))).pages[0].extract_text()
    for label, value in certificate.lines():
        assert f"{label}: {value}" in text
    assert "Verify this policy now: https://accelerator.example/verify/abc" in text


def test_our_reader_reads_our_certificate_back() -> None:
    draft, missing = draft_of(read_pdf(render_certificate(content())), "USD")
    assert missing == []
    assert draft.policy_number == "HM-CGL-0042"
    assert draft.insurer_rating == "A-"
    assert draft.deductible == usd(2_500)
    assert draft.additional_insureds == [OPERATOR]
    assert draft.effective_date == date(2026, 3, 1)


def test_names_outside_latin_1_are_written_as_close_as_the_fonts_allow() -> None:
    pdf = render_certificate(content(named_insured="Tōkyō Gūdzu 株式会社"))
    text = PdfReader(BytesIO(pdf)).pages[0].extract_text()
    assert "Named insured: Tokyo Gudzu ????" in text
