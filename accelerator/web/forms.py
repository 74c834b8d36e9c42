"""The profile form: seller facts to and from flat HTML form fields, with per-field messages.

Amounts are typed in the marketplace's currency and shares as percentages; a message about any
part of the facts, whether found here, by msgspec or by the risk service, lands next to the
form field it concerns (``categories[1].revenue_share`` -> ``share_1``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import msgspec

from accelerator.rulesets.loader import RuleBook
from accelerator.web import wording
from schemas import FieldProblem, SellerFacts

SALES_MONTHS: Final = 12
CATEGORY_ROWS: Final = 4
_COUNTRY: Final = re.compile(r"^[A-Z]{2}$")
_SPLIT: Final = re.compile(r"[\s,;]+")
_INDEXED: Final = re.compile(r"^(?P<list>monthly_sales|categories)\[(?P<index>\d+)\](?P<rest>.*)$")

DEFAULTS: Final = {
    "marketplace": "US",
    "business_model": "reseller",
    "fulfilment": "marketplace_fulfilled",
    "years_in_business": "1",
    "claims_count": "0",
    "claims_paid": "0",
    "recalls": "0",
}


def sales_months(today: date) -> list[str]:
    """The months the form asks about, newest (the current one) first, as ``YYYY-MM``."""
    months = []
    year, month = today.year, today.month
    for _ in range(SALES_MONTHS):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months


@dataclass
class ProfileForm:
    """What the form shows: the values as typed, and the messages for each field."""

    values: dict[str, str]
    errors: dict[str, list[str]] = field(default_factory=dict)
    # Problems that belong to no single field (shown in the summary at the top).
    general: list[str] = field(default_factory=list)

    def add(self, name: str | None, message: str) -> None:
        if name is None:
            self.general.append(message)
        else:
            self.errors.setdefault(name, []).append(message)

    @property
    def valid(self) -> bool:
        return not self.errors and not self.general


@dataclass(frozen=True)
class FormLayout:
    """Which form field each list item of the facts came from."""

    months: list[str | None]
    category_rows: list[int]


def blank_form() -> ProfileForm:
    return ProfileForm(values=dict(DEFAULTS))


def form_from_facts(facts: SellerFacts) -> ProfileForm:
    """The form filled in with a stored profile's facts, for editing."""
    values = {
        "legal_name": facts.legal_name,
        "marketplace": facts.marketplace,
        "business_model": facts.business_model,
        "fulfilment": facts.fulfilment,
        "years_in_business": str(facts.years_in_business),
        "claims_count": str(facts.claims_last_5_years.count),
        "claims_paid": _plain(facts.claims_last_5_years.amount_paid.amount),
        "recalls": str(facts.recalls_last_5_years),
        "manufacturing_countries": ", ".join(facts.manufacturing_countries),
    }
    for entry in facts.monthly_sales:
        values[f"sales_{entry.month}"] = _plain(entry.gross_sales.amount)
    for row, share in enumerate(facts.categories[:CATEGORY_ROWS]):
        values[f"category_{row}"] = share.category
        values[f"share_{row}"] = _plain(share.revenue_share * 100)
    return ProfileForm(values=values)


def _plain(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _amount(text: str) -> Decimal:
    cleaned = text.strip().replace(",", "").replace(" ", "")
    for symbol in ("$", "£", "€", "¥"):
        cleaned = cleaned.removeprefix(symbol)
    value = Decimal(cleaned)
    if not value.is_finite():
        raise InvalidOperation
    return value


def _whole_number(text: str) -> int:
    return int(text.strip().replace(",", ""))


@dataclass
class _Reader:
    """Reads one posted form into builtins for SellerFacts, noting each field's problems."""

    posted: Mapping[str, str]
    form: ProfileForm

    def text(self, name: str) -> str:
        value = self.posted.get(name, "").strip()
        if any(ord(c) < 32 for c in value):
            # Control characters (NUL above all, which PostgreSQL cannot store) are never meant.
            value = "".join(c for c in value if ord(c) >= 32)
            self.form.add(name, "Remove the invisible control characters from this field.")
        self.form.values[name] = value
        return value

    def amount(self, name: str, what: str) -> Decimal | None:
        raw = self.text(name)
        if not raw:
            return None
        try:
            value = _amount(raw)
        except (InvalidOperation, ValueError):
            self.form.add(name, f"Enter {what} as a number, like 12500 or 12,500.50.")
            return None
        if value < 0:
            self.form.add(name, f"{what.capitalize()} cannot be negative.")
            return None
        return value

    def count(self, name: str, what: str, maximum: int) -> int | None:
        raw = self.text(name)
        if not raw:
            self.form.add(name, f"Enter {what} (0 if none).")
            return None
        try:
            value = _whole_number(raw)
        except ValueError:
            self.form.add(name, f"Enter {what} as a whole number, like 0 or 3.")
            return None
        if not 0 <= value <= maximum:
            self.form.add(name, f"Enter {what} from 0 to {maximum:,}.")
            return None
        return value

    def choice(self, name: str, choices: Sequence[str], message: str) -> str | None:
        value = self.text(name)
        if value not in choices:
            self.form.add(name, message)
            return None
        return value


def read_profile_form(
    posted: Mapping[str, str],
    today: date,
    rulebook: RuleBook,
    category_paths: Sequence[str],
    previous: SellerFacts | None,
) -> tuple[ProfileForm, SellerFacts | None, FormLayout]:
    """The form as submitted, and the facts it describes when every field is usable.

    Months older than the form's window that an earlier profile gave are kept unchanged.
    """
    form = ProfileForm(values={})
    read = _Reader(posted, form)
    legal_name = read.text("legal_name")
    if not legal_name:
        form.add("legal_name", "Enter your business's legal name, as on its registration.")
    marketplace = read.choice(
        "marketplace", rulebook.marketplaces(), "Choose the marketplace you sell in."
    )
    currency = rulebook.currency_of(marketplace) if marketplace else "USD"

    window = sales_months(today)
    months: list[str | None] = []
    sales: list[dict[str, Any]] = []
    for month in window:
        value = read.amount(f"sales_{month}", f"sales for {wording.month_name(month)}")
        if value is not None:
            months.append(month)
            sales.append({"month": month, "gross_sales": {"amount": value, "currency": currency}})
    if previous is not None and previous.marketplace == marketplace:
        # Older months are not on the form; keeping them keeps a past trigger on record.
        for entry in previous.monthly_sales:
            if entry.month < window[-1]:
                months.append(None)
                sales.append(
                    {
                        "month": entry.month,
                        "gross_sales": {"amount": entry.gross_sales.amount, "currency": currency},
                    }
                )

    categories, rows = _read_categories(read, category_paths)
    business_model = read.choice(
        "business_model", list(wording.BUSINESS_MODELS), "Choose how your business works."
    )
    fulfilment = read.choice(
        "fulfilment", list(wording.FULFILMENT), "Choose who ships your orders."
    )
    years = read.count("years_in_business", "the years in business", 500)
    claims = read.count("claims_count", "the number of claims", 10_000)
    paid = read.amount("claims_paid", "the amount paid on claims")
    recalls = read.count("recalls", "the number of recalls", 1_000)
    countries = _read_countries(read)

    layout = FormLayout(months, rows)
    if not form.valid:
        return form, None, layout
    raw = {
        "legal_name": legal_name,
        "marketplace": marketplace,
        "monthly_sales": sales,
        "categories": categories,
        "business_model": business_model,
        "fulfilment": fulfilment,
        "years_in_business": years,
        "claims_last_5_years": {
            "count": claims,
            "amount_paid": {"amount": paid or Decimal(0), "currency": currency},
        },
        "recalls_last_5_years": recalls,
        "manufacturing_countries": countries,
    }
    try:
        facts = msgspec.convert(raw, SellerFacts)
    except msgspec.ValidationError as exc:
        message, _, path = str(exc).partition(" - at `")
        place_problems(
            form, [FieldProblem(path.rstrip("`").removeprefix("$."), "invalid", message)], layout
        )
        return form, None, layout
    return form, facts, layout


def _read_categories(
    read: _Reader, category_paths: Sequence[str]
) -> tuple[list[dict[str, Any]], list[int]]:
    chosen = [
        (row, read.text(f"category_{row}"), read.text(f"share_{row}"))
        for row in range(CATEGORY_ROWS)
    ]
    filled = [(row, category, share) for row, category, share in chosen if category or share]
    if not filled:
        read.form.add("categories", "Choose at least one product category.")
        return [], []
    categories: list[dict[str, Any]] = []
    rows: list[int] = []
    for row, category, share_text in filled:
        if category not in category_paths:
            read.form.add(f"category_{row}", "Choose a category from the list.")
            continue
        if not share_text and len(filled) == 1:
            share_text = "100"  # one category is all of the sales
            read.form.values[f"share_{row}"] = share_text
        try:
            share = _amount(share_text.removesuffix("%"))
        except (InvalidOperation, ValueError):
            read.form.add(f"share_{row}", "Enter this category's share of your sales, in %.")
            continue
        if not 0 <= share <= 100:
            read.form.add(f"share_{row}", "A share is a percentage from 0 to 100.")
            continue
        categories.append({"category": category, "revenue_share": share / 100})
        rows.append(row)
    return categories, rows


def _read_countries(read: _Reader) -> list[str]:
    raw = read.text("manufacturing_countries")
    typed = [c for c in _SPLIT.split(raw) if c]
    codes = [c.upper() for c in typed]
    wrong = [t for t, c in zip(typed, codes, strict=True) if not _COUNTRY.match(c)]
    if wrong:
        read.form.add(
            "manufacturing_countries",
            f"Use two-letter country codes (like CN, US, DE); not {', '.join(wrong)}.",
        )
    return list(dict.fromkeys(codes))


# Service messages that speak of 0..1 shares; the form speaks of percentages.
_SHARE_MESSAGES: Final = {
    "shares_do_not_sum_to_one": "The shares of your categories must add up to 100%.",
    "share_out_of_range": "A share is a percentage from 0 to 100.",
}
_PLAIN_FIELDS: Final = {
    "legal_name": "legal_name",
    "marketplace": "marketplace",
    "business_model": "business_model",
    "fulfilment": "fulfilment",
    "years_in_business": "years_in_business",
    "claims_last_5_years.count": "claims_count",
    "claims_last_5_years.amount_paid": "claims_paid",
    "claims_last_5_years": "claims_count",
    "recalls_last_5_years": "recalls",
    "manufacturing_countries": "manufacturing_countries",
    "categories": "categories",
}


def _form_field(path: str, layout: FormLayout) -> str | None:
    indexed = _INDEXED.match(path)
    if indexed:
        index = int(indexed["index"])
        if indexed["list"] == "monthly_sales":
            month = layout.months[index] if index < len(layout.months) else None
            return f"sales_{month}" if month else None
        if index >= len(layout.category_rows):
            return None
        row = layout.category_rows[index]
        return f"share_{row}" if indexed["rest"].startswith(".revenue_share") else f"category_{row}"
    for prefix, name in _PLAIN_FIELDS.items():
        if path == prefix or path.startswith((prefix + ".", prefix + "[")):
            return name
    return None


def place_problems(form: ProfileForm, problems: Sequence[FieldProblem], layout: FormLayout) -> None:
    """Put each problem next to the field it concerns (or in the summary)."""
    for problem in problems:
        message = _SHARE_MESSAGES.get(problem.code, problem.message)
        form.add(_form_field(problem.field, layout), message)


def field_labels(months: Sequence[str]) -> dict[str, str]:
    """What the error summary calls each field."""
    labels = {
        "legal_name": "Legal name",
        "marketplace": "Marketplace",
        "categories": "Product categories",
        "business_model": "Business model",
        "fulfilment": "Shipping",
        "years_in_business": "Years in business",
        "claims_count": "Claims",
        "claims_paid": "Paid on claims",
        "recalls": "Recalls",
        "manufacturing_countries": "Where goods are made",
    }
    labels.update({f"sales_{m}": f"Sales in {wording.month_name(m)}" for m in months})
    for row in range(CATEGORY_ROWS):
        labels[f"category_{row}"] = f"Category {row + 1}"
        labels[f"share_{row}"] = f"Share of category {row + 1}"
    return labels
