"""Plain words for what the API returns as codes, amounts and instants."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Final

from accelerator.coverage.state import POLICY_DAY_START
from accelerator.risk import taxonomy
from accelerator.rulesets.zones import local_time
from schemas import Money

SYMBOLS: Final = {"USD": "$", "CAD": "CA$", "GBP": "£", "EUR": "€", "JPY": "¥"}

TIERS: Final = {
    "A": "very low",
    "B": "low",
    "C": "moderate",
    "D": "high",
    "E": "very high",
}

FACTORS: Final = {
    "category_hazard": "What you sell",
    "sales_volume": "How much you sell",
    "business_model": "Your business model",
    "years_in_business": "Years in business",
    "claims_history": "Past claims",
    "recalls": "Past recalls",
    "manufacturing_origin": "Where your goods are made",
    "fulfilment": "Who ships your orders",
}

BUSINESS_MODELS: Final = {
    "reseller": "Reseller (I sell other brands' products)",
    "private_label": "Private label (my brand, made by someone else)",
    "importer": "Importer (I bring goods in from abroad)",
    "manufacturer": "Manufacturer (I make the products)",
}

FULFILMENT: Final = {
    "marketplace_fulfilled": "The marketplace stores and ships my orders",
    "merchant_fulfilled": "I pack and ship my orders myself",
    "mixed": "Some of each",
}

# What each insurer's status means to a seller watching quotes arrive.
INSURER_STATUS: Final = {
    "awaiting": "Asking…",
    "offered": "Made an offer",
    "declined": "Declined",
    "referred": "Wants to review by hand",
    "pending": "Will answer shortly",
    "timed_out": "Did not answer in time",
    "error": "Could not be reached",
    "skipped": "Not asked",
}

SCORE_COMPONENTS: Final = {
    "cost": "Total annual cost",
    "deductible": "Deductible",
    "rating": "Insurer's financial strength",
    "firmness": "Ready to buy (not indicative)",
}

POLICY_EVENTS: Final = {
    "issued": "Policy issued",
    "verified": "Verified",
    "verification_rejected": "Verification rejected",
    "endorsed": "Policy changed (endorsement)",
    "renewed": "Renewed",
    "cancelled": "Cancelled",
    "reinstated": "Reinstated",
    "lapsed": "Lapsed",
}

POLICY_FORMS: Final = {
    "occurrence": "Occurrence",
    "claims_made": "Claims-made",
}

#: Countries insurers name as territories, by ISO code; others are shown as their code.
COUNTRY_NAMES: Final = {
    "US": "United States",
    "CA": "Canada",
    "MX": "Mexico",
    "GB": "United Kingdom",
    "DE": "Germany",
    "FR": "France",
    "IT": "Italy",
    "ES": "Spain",
    "NL": "Netherlands",
    "BE": "Belgium",
    "SE": "Sweden",
    "PL": "Poland",
    "JP": "Japan",
}

VERIFICATION: Final = {
    "verified": "Verified",
    "pending_verification": "Waiting for verification",
    "rejected": "Rejected",
}


def amount(value: Decimal, currency: str) -> str:
    """``$1,250,000`` or ``$612.40``; currencies without a symbol get their code after."""
    whole = value == value.to_integral_value()
    figure = f"{value:,.0f}" if whole or currency == "JPY" else f"{value:,.2f}"
    symbol = SYMBOLS.get(currency)
    return f"{symbol}{figure}" if symbol else f"{figure} {currency}"


def money(value: Money | None) -> str:
    return "—" if value is None else amount(value.amount, value.currency)


def long_date(value: date | datetime | None, timezone: str | None = None) -> str:
    """``30 October 2026``; an instant as the date it is in ``timezone`` (the marketplace's)."""
    if value is None:
        return "—"
    if isinstance(value, datetime) and timezone:
        value = local_time(value, timezone)
    return f"{value.day} {value:%B %Y}"


def instant(value: datetime | None, timezone: str | None = None) -> str:
    """``26 Nov 2026, 14:05 UTC``; with ``timezone`` (the marketplace's), on its wall clock:
    ``26 Nov 2026, 06:05 PST``."""
    if value is None:
        return "—"
    if timezone:
        local = local_time(value, timezone)
        return f"{local.day} {local:%b %Y, %H:%M} {local.tzname()}"
    return f"{value.day} {value:%b %Y, %H:%M} UTC"


def moment(value: datetime | None, timezone: str) -> str:
    """When cover starts or ends, as the marketplace reads it: ``5 January 2027`` when it is the
    start of a policy day (00:01 local), else the date and local time,
    ``5 January 2027 at 14:05 PST``."""
    if value is None:
        return "—"
    local = local_time(value, timezone)
    if local.time() == POLICY_DAY_START:
        return long_date(local)
    return f"{long_date(local)} at {local:%H:%M} {local.tzname()}"


def money_range(low: Money, high: Money) -> str:
    """``$500 to $900``, or one figure when both ends are the same."""
    if low == high:
        return money(low)
    return f"{money(low)} to {money(high)}"


def listing(items: list[str], empty: str = "none") -> str:
    """``a, b and c``."""
    if not items:
        return empty
    if len(items) == 1:
        return items[0]
    return f"{', '.join(items[:-1])} and {items[-1]}"


def month_name(year_month: str) -> str:
    """``2026-09`` -> ``September 2026``."""
    return f"{date.fromisoformat(year_month + '-01'):%B %Y}"


def days(count: int) -> str:
    return "1 day" if abs(count) == 1 else f"{abs(count)} days"


def percent(share: Decimal) -> str:
    """A 0..1 share as a percentage without needless decimals: ``0.25`` -> ``25%``."""
    value = (share * 100).normalize()
    return f"{value:f}%"


#: ``electronics/power-banks`` -> ``Electronics › Power banks`` (the API's category labels too).
category_label = taxonomy.category_label


def countries(codes: list[str]) -> str:
    """``["US", "CA"]`` -> ``United States and Canada``."""
    return listing([COUNTRY_NAMES.get(code, code) for code in codes], empty="nowhere stated")
