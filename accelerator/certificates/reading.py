"""Read an uploaded certificate of insurance (ACORD 25 style) with pypdf: its form fields when
it has them, else its text layer, into the fields of a policy submission.

Pure: bytes in; the raw values found (``read_pdf``), then a draft with a note for each field
that could not be read (``draft_of``). Nothing here decides compliance: the service hands a
complete draft to the compliance evaluation.

pypdf is imported by :func:`read_pdf`, not with this module, which the API's controllers
import for :class:`CertificateUnreadable`: loaded at start it cost every process that serves
the API 0.04-0.07 s of CPU (docs/performance.md), for uploads most processes never read. The
first upload a process reads pays it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from io import BytesIO
from typing import TYPE_CHECKING, Any, Final, Literal

from schemas import CertificateDraft, MissingField, Money

if TYPE_CHECKING:
    from pypdf import PdfReader

#: Pages read at most: an ACORD 25 is one page, two with its remarks.
MAX_PAGES: Final = 10
#: Characters of text read at most (a page of a certificate holds about 5,000).
MAX_TEXT: Final = 100_000

NO_TEXT_MESSAGE: Final = (
    "We could not read any text in this PDF (it looks like a scanned image); type the "
    "policy's details instead."
)


class CertificateUnreadable(Exception):
    """The upload is not a PDF we can read: ``code`` says why, ``message`` in words."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class RawReading:
    """The values found, by submission field name, as text; and where they came from."""

    read_from: Literal["form_fields", "text"]
    values: Mapping[str, str]


# --- reading the PDF ---------------------------------------------------------------------------


def read_pdf(data: bytes) -> RawReading:
    """The certificate's values: its AcroForm fields when any is filled in, else its text.

    Raises :class:`CertificateUnreadable` with ``not_a_pdf``, ``encrypted_pdf``,
    ``unreadable_pdf`` or ``no_text`` (a scan). Never anything else: a malformed file of any
    shape ends as ``unreadable_pdf``.
    """
    if b"%PDF-" not in data[:1024]:
        raise CertificateUnreadable(
            "not_a_pdf", "The file is not a PDF: upload the certificate as a PDF file."
        )
    from pypdf import PdfReader  # here, not at start: the module docstring says why

    try:
        reader = PdfReader(BytesIO(data), strict=False)
        if reader.is_encrypted and not _decrypts(reader):
            raise CertificateUnreadable(
                "encrypted_pdf",
                "The PDF is password-protected: upload a copy without a password.",
            )
        fields = _form_values(reader)
        if _known(fields):
            return RawReading("form_fields", fields)
        text = _text(reader)
    except CertificateUnreadable:
        raise
    except Exception as exc:  # pypdf raises many types on a broken file; each is the same answer
        raise CertificateUnreadable(
            "unreadable_pdf",
            "The PDF could not be read (it may be damaged or incomplete): upload it again, or "
            "type the policy's details instead.",
        ) from exc
    if not text.strip():
        raise CertificateUnreadable("no_text", NO_TEXT_MESSAGE)
    values = read_text(text)
    if not values:
        raise CertificateUnreadable(
            "no_certificate_fields",
            "The PDF has text, but none of a certificate of insurance's fields (insurer, "
            "policy number, limits, dates) was found in it; type the policy's details instead.",
        )
    return RawReading("text", values)


def _decrypts(reader: PdfReader) -> bool:
    # Many certificates are "encrypted" with an empty user password, only to restrict editing.
    try:
        return bool(reader.decrypt(""))
    except Exception:
        return False


def _text(reader: PdfReader) -> str:
    parts: list[str] = []
    size = 0
    for page in list(reader.pages)[:MAX_PAGES]:
        text = page.extract_text() or ""
        parts.append(text)
        size += len(text)
        if size > MAX_TEXT:
            break
    return "\n".join(parts)[:MAX_TEXT]


def _field_value(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    return "" if text in ("/Off", "Off") else text


def _form_values(reader: PdfReader) -> dict[str, str]:
    """Form fields by submission field name (see :data:`FORM_FIELDS`); the remarks box and any
    field of ours written as text are read by the text rules too."""
    fields = reader.get_fields() or {}
    found: dict[str, str] = {}
    remarks: list[str] = []
    for name, spec in fields.items():
        value = _field_value(spec.get("/V") if isinstance(spec, dict) else None).strip()
        if not value:
            continue
        key = _normal(name)
        target = next((f for f, names in FORM_FIELDS.items() if any(n in key for n in names)), None)
        if target == "remarks":
            remarks.append(value)
        elif target == "occurrence" and value:
            found.setdefault("policy_form", "occurrence")
        elif target == "claims_made" and value:
            found["policy_form"] = "claims_made"
        elif target is not None:
            found.setdefault(target, value)
    if remarks:
        for name, value in read_text("\n".join(remarks)).items():
            found.setdefault(name, value)
    return found


def _known(values: Mapping[str, str]) -> bool:
    return any(name in values for name in ("insurer_name", "policy_number", "each_occurrence"))


def _normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


#: AcroForm field names, normalised (lower case, letters and digits), by what they hold. An
#: ACORD 25's own names come first ("GeneralLiability_EachOccurrence_LimitAmount_A"); the
#: first fragment a field's name contains decides, so the longer, more precise fragments lead.
FORM_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "remarks": ("remark", "descriptionofoperations"),
    "insurer_rating": ("rating", "ambest"),
    "insurer_name": ("insurerfullname", "insurername", "insurer"),
    "policy_number": ("policynumber", "policyno"),
    "named_insured": ("namedinsured", "insuredfullname"),
    "products_completed_operations_aggregate": ("productsandcompleted", "productscompleted"),
    "each_occurrence": ("eachoccurrence",),
    "general_aggregate": ("generalaggregate",),
    "deductible": ("deductible", "retention"),
    "effective_date": ("effectivedate",),
    "expiry_date": ("expirationdate", "expirydate"),
    "claims_made": ("claimsmadeindicator", "claimsmade"),
    "occurrence": ("occurrenceindicator",),
    "policy_form": ("policyform",),
    "additional_insureds": ("additionalinsuredwording", "additionalinsuredname"),
    "territories": ("territor",),
    "covered_categories": ("categor",),
    "cancellation_notice_days": ("noticedays", "cancellationnotice"),
    "certificate_holder": ("certificateholder",),
}


# --- reading text -------------------------------------------------------------------------------

# "Label: value" starts an entry; a line without one continues the entry before it (a long
# additional-insured wording wraps).
_ENTRY: Final = re.compile(r"^\s*([A-Za-z][A-Za-z0-9 /()&.'\-]{1,60}?)\s*:\s*(.*)$")
_LABELS: Final[tuple[tuple[str, re.Pattern[str]], ...]] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        ("insurer_rating", r"^(?:insurer(?:'s)?\s+)?(?:financial strength\s+)?rating"),
        ("insurer_name", r"^insurer(?:\s+a)?$|^insurer name$|^insurance company$"),
        ("policy_number", r"^policy\s*(?:number|no\.?|#)$"),
        ("named_insured", r"^(?:named\s+)?insured$"),
        ("policy_form", r"^policy form$|^form$"),
        ("effective_date", r"^(?:policy\s+)?eff(?:ective|\.)?(?:\s+date)?$"),
        ("expiry_date", r"^(?:policy\s+)?exp(?:iration|iry|\.)?(?:\s+date)?$"),
        ("policy_period", r"^(?:policy\s+)?period$"),
        (
            "products_completed_operations_aggregate",
            r"^products?\s*[-/–]?\s*comp(?:leted)?\.?\s*/?\s*op(?:eration)?s?\.?(?:\s+agg(?:regate)?)?$",
        ),
        ("each_occurrence", r"^each occurrence$"),
        ("general_aggregate", r"^general aggregate$|^aggregate$"),
        ("deductible", r"^deductible$|^self[- ]insured retention$"),
        ("additional_insureds", r"^additional insureds?$"),
        ("territories", r"^territor(?:y|ies)$|^coverage territory$"),
        ("covered_categories", r"^(?:covered\s+)?(?:product\s+)?categories$|^products covered$"),
        ("cancellation_notice_days", r"^(?:cancellation\s+)?notice(?: of cancellation)?$"),
        ("certificate_holder", r"^certificate holder$"),
    )
)
_NOTICE: Final = re.compile(r"(\d{1,3})\s+days'?\s+(?:written\s+|prior\s+)*notice", re.I)
# A phrase naming an entity "and its affiliates and assignees" (dots inside names allowed:
# "Amazon.com Services LLC").
_ADDITIONAL: Final = re.compile(
    r"([A-Z](?:[^.;:\n]|\.(?=\S)){1,200}?\band its affiliates and assignees\b)", re.IGNORECASE
)


# Only these entries run on over several lines (a wording, an address); after any other a line
# without a label is prose (remarks) and ends it.
_WRAPPING: Final = re.compile(r"^additional insureds?$|^certificate holder$", re.IGNORECASE)


def _entries(text: str) -> list[tuple[str, str]]:
    entries: list[tuple[str, str]] = []
    open_entry = False
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if match := _ENTRY.match(line):
            entries.append((match[1].strip(), match[2].strip()))
            open_entry = bool(_WRAPPING.search(match[1].strip()))
        elif entries and open_entry:
            label, value = entries[-1]
            entries[-1] = (label, f"{value} {line}".strip())
    return entries


def read_text(text: str) -> dict[str, str]:
    """The submission fields a certificate's text states, as text (first mention wins)."""
    found: dict[str, str] = {}
    for label, value in _entries(text):
        if not value:
            continue
        name = next((n for n, pattern in _LABELS if pattern.search(label)), None)
        if name == "policy_period":
            dates = _DATES.findall(value)
            if len(dates) >= 2:
                found.setdefault("effective_date", dates[0])
                found.setdefault("expiry_date", dates[1])
        elif name is not None:
            found.setdefault(name, value)
    if "cancellation_notice_days" not in found and (notice := _NOTICE.search(text)):
        found["cancellation_notice_days"] = notice[1]
    if "additional_insureds" not in found and (named := _ADDITIONAL.search(text)):
        found["additional_insureds"] = named[1].strip()
    if "policy_form" not in found:
        lowered = text.lower()
        if "claims-made" in lowered or "claims made" in lowered:
            found["policy_form"] = "claims made"
        elif "occurrence form" in lowered or re.search(r"\bx\s+occur\b", lowered):
            found["policy_form"] = "occurrence"
    return found


# --- from text to typed fields ------------------------------------------------------------------

_DATES: Final = re.compile(
    r"\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{4}"
    r"|\d{1,2} [A-Za-z]{3,9} \d{4}|[A-Za-z]{3,9} \d{1,2}, \d{4}"
)
_MONTHS: Final = {
    name: number
    for number, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}
_RATINGS: Final = ("A++", "A+", "A-", "A", "B++", "B+", "B-", "B", "C++", "C+", "C-", "C", "D")
_COUNTRIES: Final = {
    "united states": "US",
    "usa": "US",
    "canada": "CA",
    "united kingdom": "GB",
    "germany": "DE",
    "france": "FR",
    "italy": "IT",
    "spain": "ES",
    "netherlands": "NL",
    "belgium": "BE",
    "sweden": "SE",
    "poland": "PL",
    "japan": "JP",
}


def parse_date(text: str) -> date:
    """A date as certificates write it: ISO, ACORD's MM/DD/YYYY, "1 March 2026" or
    "March 1, 2026". Raises ValueError."""
    text = text.strip()
    if match := re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", text):
        return date(int(match[1]), int(match[2]), int(match[3]))
    if match := re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", text):
        return date(int(match[3]), int(match[1]), int(match[2]))
    if match := re.fullmatch(r"(\d{1,2}) ([A-Za-z]{3,9}) (\d{4})", text):
        return date(int(match[3]), _month(match[2]), int(match[1]))
    if match := re.fullmatch(r"([A-Za-z]{3,9}) (\d{1,2}), (\d{4})", text):
        return date(int(match[3]), _month(match[1]), int(match[2]))
    raise ValueError(f"not a date: {text!r}")


def _month(name: str) -> int:
    try:
        return _MONTHS[name.lower()]
    except KeyError:
        raise ValueError(f"not a month: {name!r}") from None


def parse_money(text: str, currency: str) -> Money:
    """An amount as certificates write it ("$1,000,000", "1,000,000 USD", "USD 25000"), in the
    currency it names, else ``currency``. Raises ValueError."""
    code = re.search(r"\b([A-Z]{3})\b", text)
    number = re.search(r"\d[\d,. ]*", text)
    if number is None:
        raise ValueError(f"no amount in {text!r}")
    digits = number[0].strip().replace(",", "").replace(" ", "")
    try:
        amount = Decimal(digits)
    except InvalidOperation:
        raise ValueError(f"no amount in {text!r}") from None
    return Money(amount=amount, currency=code[1] if code else currency)


def parse_form(text: str) -> str:
    lowered = text.lower()
    if "claims" in lowered:
        return "claims_made"
    if "occur" in lowered:
        return "occurrence"
    raise ValueError(f"neither occurrence nor claims-made: {text!r}")


def parse_rating(text: str) -> str:
    found = re.search(
        r"(?<![A-Za-z+\-])(A\+\+|A\+|A-|A|B\+\+|B\+|B-|B|C\+\+|C\+|C-|C|D)(?![A-Za-z])", text
    )
    if found is None or found[1] not in _RATINGS:
        raise ValueError(f"no AM Best rating in {text!r}")
    return found[1]


def parse_territories(text: str) -> list[str]:
    codes: list[str] = []
    for part in re.split(r"[,;/]|\band\b", text):
        part = part.strip().rstrip(".")
        code = _COUNTRIES.get(
            part.lower(), part.upper() if re.fullmatch(r"[A-Za-z]{2}", part) else ""
        )
        if not code:
            raise ValueError(f"not a country: {part!r}")
        if code not in codes:
            codes.append(code)
    return codes


def parse_list(text: str) -> list[str]:
    return [part.strip().rstrip(".") for part in re.split(r"[,;]", text) if part.strip()]


def parse_days(text: str) -> int:
    found = re.search(r"\d{1,3}", text)
    if found is None:
        raise ValueError(f"no number of days in {text!r}")
    return int(found[0])


#: Every field a submission needs, how it is read, and what to tell the seller when it is not.
_FIELDS: Final[tuple[tuple[str, str], ...]] = (
    ("insurer_name", "the insurer's name"),
    ("insurer_rating", "the insurer's AM Best rating (e.g. A-)"),
    ("policy_number", "the policy number"),
    ("named_insured", "the named insured"),
    ("policy_form", "the policy form (occurrence or claims-made)"),
    ("each_occurrence", "the limit for each occurrence"),
    ("general_aggregate", "the general aggregate limit"),
    ("products_completed_operations_aggregate", "the products-completed operations aggregate"),
    ("deductible", "the deductible"),
    ("effective_date", "the policy's effective date"),
    ("expiry_date", "the policy's expiration date"),
    ("territories", "the territories where the policy responds to claims"),
    ("covered_categories", "the product categories the policy covers"),
)


def draft_of(reading: RawReading, currency: str) -> tuple[CertificateDraft, list[MissingField]]:
    """The submission fields read, typed, and a note for each required field that was not
    found or could not be understood (amounts without a currency are in ``currency``)."""
    money = lambda text: parse_money(text, currency)  # noqa: E731
    parsers: dict[str, Callable[[str], Any]] = {
        "insurer_name": str.strip,
        "insurer_rating": parse_rating,
        "policy_number": str.strip,
        "named_insured": str.strip,
        "policy_form": parse_form,
        "each_occurrence": money,
        "general_aggregate": money,
        "products_completed_operations_aggregate": money,
        "deductible": money,
        "effective_date": parse_date,
        "expiry_date": parse_date,
        "territories": parse_territories,
        "covered_categories": parse_list,
        "additional_insureds": lambda text: [p.strip() for p in text.split(";") if p.strip()],
        "certificate_holder": str.strip,
        "cancellation_notice_days": parse_days,
    }
    values: dict[str, Any] = {}
    missing: list[MissingField] = []
    described = dict(_FIELDS)
    for name, parse in parsers.items():
        raw = reading.values.get(name, "").strip()
        if name == "additional_insureds" and raw.lower() in ("none", "n/a", "-"):
            continue
        if not raw:
            if name in described:
                missing.append(MissingField(field=name, message=f"Not found: {described[name]}."))
            continue
        try:
            values[name] = parse(raw)
        except ValueError:
            if name in described:
                missing.append(
                    MissingField(
                        field=name,
                        message=f"Could not read {described[name]} from {raw[:80]!r}.",
                    )
                )
    return CertificateDraft(**values), missing


__all__ = [
    "MAX_PAGES",
    "NO_TEXT_MESSAGE",
    "CertificateUnreadable",
    "RawReading",
    "draft_of",
    "parse_date",
    "parse_money",
    "read_pdf",
    "read_text",
]
