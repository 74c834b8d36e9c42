"""Reading certificates: the form-field path (an AcroForm made with pypdf's writer), the text
path (a flattened certificate made with fpdf2, and our own certificate read back), and every
file that cannot be read answering with one clear reason."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from accelerator.certificates.reading import (
    NO_TEXT_MESSAGE,
    CertificateUnreadable,
    draft_of,
    parse_date,
    parse_money,
    read_pdf,
    read_text,
)
from schemas import Money
from tests.certificates.pdfs import (
    OPERATOR,
    certificate_facts,
    encrypted_certificate,
    flattened_certificate,
    form_certificate,
    scanned_certificate,
)


def test_a_filled_form_is_read_from_its_fields_with_the_remarks_for_the_rest() -> None:
    reading = read_pdf(form_certificate())
    assert reading.read_from == "form_fields"
    draft, missing = draft_of(reading, "USD")
    facts = certificate_facts()
    assert missing == []
    assert draft.insurer_name == "Harbor Mutual"
    assert draft.insurer_rating == "A"
    assert draft.policy_number == "HM-CGL-7781"
    assert draft.named_insured == "Volt Goods LLC"
    assert draft.policy_form == "occurrence"
    assert draft.effective_date == facts["effective"]
    assert draft.expiry_date == facts["expiry"]
    assert draft.each_occurrence == Money(Decimal(1_000_000), "USD")
    assert draft.general_aggregate == Money(Decimal(2_000_000), "USD")
    assert draft.products_completed_operations_aggregate == Money(Decimal(2_000_000), "USD")
    assert draft.deductible == Money(Decimal(5_000), "USD")
    assert draft.additional_insureds == [OPERATOR]
    assert draft.territories == ["US"]
    assert draft.covered_categories == ["electronics"]
    assert draft.cancellation_notice_days == 30


def test_a_ticked_claims_made_box_reads_as_claims_made() -> None:
    draft, _ = draft_of(read_pdf(form_certificate(form="claims_made")), "USD")
    assert draft.policy_form == "claims_made"


def test_a_flattened_certificate_is_read_from_its_text() -> None:
    reading = read_pdf(flattened_certificate())
    assert reading.read_from == "text"
    draft, missing = draft_of(reading, "USD")
    assert missing == []
    assert draft.insurer_name == "Harbor Mutual"
    assert draft.policy_form == "occurrence"
    assert draft.additional_insureds == [OPERATOR]
    assert draft.territories == ["US"]
    assert draft.covered_categories == ["electronics"]
    assert draft.cancellation_notice_days == 30
    assert draft.certificate_holder.startswith("Amazon.com Services LLC")


def test_a_field_the_certificate_lacks_is_named_with_what_to_type() -> None:
    draft, missing = draft_of(read_pdf(flattened_certificate(deductible="see policy")), "USD")
    assert draft.deductible is None
    assert [m.field for m in missing] == ["deductible"]
    assert "the deductible" in missing[0].message


def test_a_scan_without_text_asks_for_the_details_to_be_typed() -> None:
    with pytest.raises(CertificateUnreadable) as raised:
        read_pdf(scanned_certificate())
    assert raised.value.code == "no_text"
    assert raised.value.message == NO_TEXT_MESSAGE
    assert "could not read any text" in NO_TEXT_MESSAGE
    assert "type the policy's details instead" in NO_TEXT_MESSAGE


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "not_a_pdf"),
        (b'{"policy_number": "HM-1"}', "not_a_pdf"),
        (b"\x89PNG\r\n\x1a\n" + bytes(100), "not_a_pdf"),
        (encrypted_certificate(), "encrypted_pdf"),
    ],
    ids=["empty", "json", "png", "encrypted"],
)
def test_what_is_not_a_readable_pdf_says_why(data: bytes, code: str) -> None:
    with pytest.raises(CertificateUnreadable) as raised:
        read_pdf(data)
    assert raised.value.code == code


@pytest.mark.parametrize("cut", [20, 100, 400, 900, 1500])
def test_a_truncated_pdf_is_unreadable_never_an_error(cut: int) -> None:
    data = flattened_certificate()[:cut]
    with pytest.raises(CertificateUnreadable) as raised:
        read_pdf(data)
    assert raised.value.code in {"unreadable_pdf", "no_text", "no_certificate_fields"}


def test_a_pdf_with_text_but_no_certificate_fields_says_so() -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(0, 10, "Dear customer, thank you for your order.")
    with pytest.raises(CertificateUnreadable) as raised:
        read_pdf(bytes(pdf.output()))
    assert raised.value.code == "no_certificate_fields"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-01", date(2026, 3, 1)),
        ("03/01/2026", date(2026, 3, 1)),
        ("1 March 2026", date(2026, 3, 1)),
        ("March 1, 2026", date(2026, 3, 1)),
    ],
)
def test_dates_are_read_as_certificates_write_them(text: str, expected: date) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$1,000,000", Money(Decimal(1_000_000), "USD")),
        ("1,000,000 USD", Money(Decimal(1_000_000), "USD")),
        ("CAD 2000000", Money(Decimal(2_000_000), "CAD")),
    ],
)
def test_amounts_take_the_currency_they_name_else_the_marketplace_s(
    text: str, expected: Money
) -> None:
    assert parse_money(text, "USD") == expected


def test_a_wrapped_additional_insured_wording_is_read_whole() -> None:
    found = read_text(
        "Additional insured: Amazon.com Services LLC and its\naffiliates and assignees\n"
        "Territories: US"
    )
    assert found["additional_insureds"] == OPERATOR
    assert found["territories"] == "US"
