"""The pre-filled policy submission as a form: what was read from a certificate, editable, to
and from the fields of ``CertificateSubmission`` (the body of ``POST .../policies``)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import msgspec

from accelerator.errors import FieldError
from accelerator.infra.errors import decode_error_field
from accelerator.web.forms import ProfileForm
from schemas import CertificateDraft, CertificateSubmission, Money

#: Amounts typed in the marketplace's currency.
MONEY_FIELDS: Final = (
    "each_occurrence",
    "general_aggregate",
    "products_completed_operations_aggregate",
    "deductible",
)
LIST_FIELDS: Final = ("territories", "covered_categories")
#: Every field of the form, with its label, in the order shown.
LABELS: Final[dict[str, str]] = {
    "insurer_name": "Insurer",
    "insurer_rating": "Insurer's AM Best rating",
    "policy_number": "Policy number",
    "named_insured": "Named insured",
    "policy_form": "Policy form",
    "effective_date": "Effective date",
    "expiry_date": "Expiration date",
    "each_occurrence": "Each occurrence",
    "general_aggregate": "General aggregate",
    "products_completed_operations_aggregate": "Products-completed operations aggregate",
    "deductible": "Deductible",
    "additional_insureds": "Additional insured (one per line)",
    "territories": "Territories (country codes)",
    "covered_categories": "Categories covered",
    "cancellation_notice_days": "Days' notice of cancellation",
}
_INDEX: Final = re.compile(r"\[\d+\]")


def _plain(value: Money | None) -> str:
    return "" if value is None else f"{value.amount.normalize():,f}"


def form_from_draft(draft: CertificateDraft | None) -> ProfileForm:
    """The form filled in with what was read (empty for a certificate typed from scratch)."""
    if draft is None:
        return ProfileForm(values={"policy_form": "occurrence", "cancellation_notice_days": "30"})
    values = {
        "insurer_name": draft.insurer_name or "",
        "insurer_rating": draft.insurer_rating or "",
        "policy_number": draft.policy_number or "",
        "named_insured": draft.named_insured or "",
        "policy_form": draft.policy_form or "",
        "effective_date": draft.effective_date.isoformat() if draft.effective_date else "",
        "expiry_date": draft.expiry_date.isoformat() if draft.expiry_date else "",
        "additional_insureds": "\n".join(draft.additional_insureds),
        "territories": ", ".join(draft.territories),
        "covered_categories": ", ".join(draft.covered_categories),
        "cancellation_notice_days": (
            "" if draft.cancellation_notice_days is None else str(draft.cancellation_notice_days)
        ),
    }
    for name in MONEY_FIELDS:
        values[name] = _plain(getattr(draft, name))
    return ProfileForm(values=values)


def _form_field(field: str) -> str:
    """The form field a submission field's problem belongs to (``deductible.amount`` ->
    ``deductible``, ``territories[1]`` -> ``territories``)."""
    name = _INDEX.sub("", field).split(".")[0]
    return name if name in LABELS else "insurer_name"


def add_problems(form: ProfileForm, problems: Sequence[FieldError]) -> None:
    for problem in problems:
        form.add(_form_field(problem.field), problem.message)


def submission_from_form(
    values: Mapping[str, str], currency: str
) -> tuple[CertificateSubmission | None, ProfileForm]:
    """The submission the form describes, or None with each problem next to its field."""
    form = ProfileForm(values={name: values.get(name, "").strip() for name in LABELS})
    body: dict[str, Any] = {}
    for name in LABELS:
        text = form.values[name]
        if name in MONEY_FIELDS:
            cleaned = text.replace(",", "").replace(" ", "").lstrip("$£€¥")
            try:
                body[name] = {"amount": str(Decimal(cleaned)), "currency": currency}
            except InvalidOperation:
                form.add(name, f"Enter an amount in {currency}, like 1000000.")
        elif name in LIST_FIELDS:
            body[name] = [part.strip() for part in re.split(r"[,;\s]+", text) if part.strip()]
        elif name == "additional_insureds":
            body[name] = [line.strip() for line in text.splitlines() if line.strip()]
        elif name == "cancellation_notice_days":
            if text:
                if not text.isdigit():
                    form.add(name, "Enter a whole number of days.")
                else:
                    body[name] = int(text)
        elif text:
            body[name] = text
        else:
            label = LABELS[name]
            form.add(name, f"Enter the {label[:1].lower()}{label[1:]}.")
    if not form.valid:
        return None, form
    try:
        return msgspec.convert(body, CertificateSubmission, strict=False), form
    except msgspec.ValidationError as exc:
        field, message = decode_error_field(str(exc))
        form.add(_form_field(field), message)
        return None, form
