"""The certificate of insurance as a PDF (fpdf2), from its content alone: the same content
gives the same text, so tests read every field back with pypdf.

One ``Label: value`` per line, in the order an ACORD 25 shows them, so that a person reads it
as a certificate and :mod:`accelerator.certificates.reading` reads it back like any other.
The core PDF fonts cover Latin-1 only: other characters are written as their closest Latin-1
letters (``ō`` -> ``o``) or ``?``; the live link shows every name as recorded.

fpdf2 is imported by :func:`render_certificate`, not with this module: every process that
serves the API (``serve``, the tests' servers) loaded it at start, 0.19–0.29 s of CPU on a
2-core machine with the fontTools and Pillow it brings (docs/performance.md), for
certificates most processes never render. The first certificate a process renders pays it,
on the event loop where certificates are rendered: once per process.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime

from accelerator.compliance.text import money
from schemas import Money


@dataclass(frozen=True, kw_only=True)
class CertificateContent:
    """Everything a certificate states; dates are in the marketplace's time zone."""

    insurer_name: str
    insurer_rating: str
    policy_number: str
    named_insured: str
    policy_form: str
    coverage_type: str
    effective_date: date
    expiry_date: date
    timezone: str
    per_occurrence: Money
    aggregate: Money
    products_completed_operations: Money
    deductible: Money
    additional_insureds: tuple[str, ...]
    territories: tuple[str, ...]
    covered_categories: tuple[str, ...]
    cancellation_notice_days: int
    issued_at: datetime
    verification_url: str

    def lines(self) -> list[tuple[str, str]]:
        """The certificate's fields as (label, value), in the order printed."""
        form = "Claims-made" if self.policy_form == "claims_made" else "Occurrence"
        return [
            ("Insurer", self.insurer_name),
            ("Insurer rating (AM Best)", self.insurer_rating),
            ("Policy number", self.policy_number),
            ("Named insured", self.named_insured),
            ("Type of insurance", self.coverage_type.replace("_", " ").title()),
            ("Policy form", form),
            ("Policy effective date", self.effective_date.isoformat()),
            ("Policy expiration date", self.expiry_date.isoformat()),
            ("Policy period", f"00:01 local time in {self.timezone}, start to end"),
            ("Each occurrence", money(self.per_occurrence)),
            ("General aggregate", money(self.aggregate)),
            ("Products-completed operations aggregate", money(self.products_completed_operations)),
            ("Deductible", money(self.deductible)),
            ("Additional insured", "; ".join(self.additional_insureds) or "None"),
            ("Territories", ", ".join(self.territories)),
            ("Covered categories", ", ".join(self.covered_categories)),
            ("Cancellation notice", f"{self.cancellation_notice_days} days"),
            ("Issued at", self.issued_at.strftime("%Y-%m-%d %H:%M UTC")),
        ]


def latin1(text: str) -> str:
    """``text`` in the characters the core fonts have."""
    try:
        text.encode("latin-1")
        return text
    except UnicodeEncodeError:
        decomposed = unicodedata.normalize("NFKD", text)
        kept = "".join(c for c in decomposed if not unicodedata.combining(c))
        return kept.encode("latin-1", "replace").decode("latin-1")


def render_certificate(content: CertificateContent) -> bytes:
    """The certificate as PDF bytes."""
    from fpdf import FPDF  # here, not at start: the module docstring says why

    pdf = FPDF(format="A4")
    pdf.set_creation_date(content.issued_at)
    pdf.set_title(f"Certificate of insurance {latin1(content.policy_number)}")
    pdf.set_author("Insurance Accelerator")
    pdf.set_creator("Insurance Accelerator")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", style="B", size=16)
    pdf.cell(0, 10, "Certificate of liability insurance", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=9)
    pdf.multi_cell(
        0,
        5,
        "This certificate is issued as a matter of information only. Check the policy's status "
        "now at the verification link below: it shows a cancellation the day it takes effect.",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(3)
    for label, value in content.lines():
        pdf.set_font("Helvetica", style="B", size=10)
        pdf.write(6, latin1(f"{label}: "))
        pdf.set_font("Helvetica", size=10)
        pdf.write(6, latin1(value))
        pdf.ln(7)
    pdf.ln(3)
    pdf.set_font("Helvetica", style="B", size=10)
    pdf.write(6, "Verify this policy now: ")
    pdf.set_font("Helvetica", size=10)
    pdf.write(6, content.verification_url, link=content.verification_url)
    pdf.ln(7)
    return bytes(pdf.output())
