"""Certificates as PDFs, made in the tests: a filled AcroForm (built with pypdf's writer, as
fpdf2 writes no forms), a flattened certificate with only a text layer (fpdf2), a scan without
text, an encrypted one, and files that are not PDFs at all."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from io import BytesIO
from typing import Any

from fpdf import FPDF
from PIL import Image
from pypdf import PdfWriter
from pypdf.generic import (
    ArrayObject,
    BooleanObject,
    DictionaryObject,
    FloatObject,
    NameObject,
    NumberObject,
    TextStringObject,
)

OPERATOR = "Amazon.com Services LLC and its affiliates and assignees"


def _today() -> date:
    return datetime.now(UTC).date()


def certificate_facts(**changes: Any) -> dict[str, Any]:
    """A compliant US certificate of seller s-1 (Volt Goods LLC, electronics)."""
    facts: dict[str, Any] = {
        "insurer": "Harbor Mutual",
        "rating": "A",
        "number": "HM-CGL-7781",
        "insured": "Volt Goods LLC",
        "effective": _today() - timedelta(days=30),
        "expiry": _today() + timedelta(days=335),
        "occurrence": "$1,000,000",
        "aggregate": "$2,000,000",
        "products": "$2,000,000",
        "deductible": "$5,000",
        "additional_insured": OPERATOR,
        "territory": "United States",
        "categories": "electronics",
        "notice_days": 30,
        "form": "occurrence",
    }
    facts.update(changes)
    return facts


def _us(day: date) -> str:
    return f"{day.month:02d}/{day.day:02d}/{day.year}"


def flattened_certificate(**changes: Any) -> bytes:
    """An ACORD 25-style certificate as text only (its form flattened), in the layout and
    wording of a broker's certificate rather than ours: US dates, dollar amounts, remarks."""
    facts = certificate_facts(**changes)
    pdf = FPDF(format="Letter")
    pdf.add_page()
    pdf.set_font("Helvetica", style="B", size=14)
    pdf.cell(0, 10, "CERTIFICATE OF LIABILITY INSURANCE", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=9)
    form = "X OCCUR" if facts["form"] == "occurrence" else "X CLAIMS-MADE"
    lines = [
        f"DATE (MM/DD/YYYY): {_us(_today())}",
        "PRODUCER: Main Street Insurance Brokers",
        f"INSURED: {facts['insured']}",
        f"INSURER A: {facts['insurer']}",
        "TYPE OF INSURANCE: COMMERCIAL GENERAL LIABILITY",
        form,
        f"POLICY NUMBER: {facts['number']}",
        f"POLICY EFF: {_us(facts['effective'])}",
        f"POLICY EXP: {_us(facts['expiry'])}",
        f"EACH OCCURRENCE: {facts['occurrence']}",
        f"GENERAL AGGREGATE: {facts['aggregate']}",
        f"PRODUCTS - COMP/OP AGG: {facts['products']}",
        f"DEDUCTIBLE: {facts['deductible']}",
        "DESCRIPTION OF OPERATIONS / LOCATIONS / VEHICLES:",
        f"{facts['additional_insured']} are included as additional insured"
        if facts["additional_insured"]
        else "No additional insured.",
        f"Insurer rating: AM Best {facts['rating']}",
        f"Coverage territory: {facts['territory']}",
        f"Products covered: {facts['categories']}",
        f"The insurer will give {facts['notice_days']} days' written notice of cancellation "
        "to the certificate holder.",
        "CERTIFICATE HOLDER: Amazon.com Services LLC, 410 Terry Ave N, Seattle WA",
    ]
    for line in lines:
        pdf.multi_cell(0, 5, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def form_certificate(**changes: Any) -> bytes:
    """An ACORD 25-style fillable form, filled in: AcroForm text fields named as ACORD 25 names
    them, the occurrence box ticked, the rest in the remarks field."""
    facts = certificate_facts(**changes)
    remarks = "\n".join(
        [
            f"Additional insured: {facts['additional_insured']}",
            f"Insurer rating: {facts['rating']}",
            f"Deductible: {facts['deductible']}",
            f"Territories: {facts['territory']}",
            f"Covered categories: {facts['categories']}",
            f"Cancellation notice: {facts['notice_days']} days",
        ]
    )
    fields = {
        "Insurer_FullName_A": facts["insurer"],
        "NamedInsured_FullName_A": facts["insured"],
        "Policy_GeneralLiability_PolicyNumberIdentifier_A": facts["number"],
        "Policy_GeneralLiability_EffectiveDate_A": _us(facts["effective"]),
        "Policy_GeneralLiability_ExpirationDate_A": _us(facts["expiry"]),
        "GeneralLiability_EachOccurrence_LimitAmount_A": facts["occurrence"],
        "GeneralLiability_GeneralAggregate_LimitAmount_A": facts["aggregate"],
        "GeneralLiability_ProductsAndCompletedOperations_AggregateLimitAmount_A": facts["products"],
        "CertificateOfLiabilityInsurance_ACORDForm_RemarkText_A": remarks,
    }
    writer = PdfWriter()
    page = writer.add_blank_page(612, 792)
    annotations = ArrayObject()
    widgets = []
    for index, (name, value) in enumerate(fields.items()):
        widgets.append(_widget(name, "/Tx", TextStringObject(value), index))
    ticked = "GeneralLiability_OccurrenceIndicator_A"
    if facts["form"] != "occurrence":
        ticked = "GeneralLiability_ClaimsMadeIndicator_A"
    widgets.append(_widget(ticked, "/Btn", NameObject("/1"), len(widgets)))
    for widget in widgets:
        annotations.append(writer._add_object(widget))
    page[NameObject("/Annots")] = annotations
    writer._root_object[NameObject("/AcroForm")] = DictionaryObject(
        {
            NameObject("/Fields"): ArrayObject(annotations),
            NameObject("/NeedAppearances"): BooleanObject(True),
        }
    )
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def _widget(name: str, kind: str, value: Any, index: int) -> DictionaryObject:
    top = 760 - index * 24
    return DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject("/Widget"),
            NameObject("/FT"): NameObject(kind),
            NameObject("/T"): TextStringObject(name),
            NameObject("/V"): value,
            NameObject("/F"): NumberObject(4),
            NameObject("/Rect"): ArrayObject(
                [FloatObject(36), FloatObject(top - 18), FloatObject(576), FloatObject(top)]
            ),
        }
    )


def scanned_certificate() -> bytes:
    """A certificate as a scan: one page holding an image, no text layer at all."""
    image = Image.new("RGB", (850, 1100), "white")
    for x in range(100, 750):
        for y in (200, 260, 320):
            image.putpixel((x, y), (0, 0, 0))
    buffer = BytesIO()
    image.save(buffer, format="PNG")
    pdf = FPDF(format="Letter")
    pdf.add_page()
    pdf.image(BytesIO(buffer.getvalue()), x=0, y=0, w=215)
    return bytes(pdf.output())


def encrypted_certificate() -> bytes:
    """The flattened certificate, password-protected (RC4: no extra library to read it)."""
    from pypdf import PdfReader

    writer = PdfWriter(clone_from=PdfReader(BytesIO(flattened_certificate())))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    out = BytesIO()
    writer.write(out)
    return out.getvalue()
