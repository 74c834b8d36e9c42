"""The cover a quote request asks for: the default one, the earliest day it may start, the
currency its amounts are in, and the endorsement the marketplace requires on it.

No cover after the loss (DESIGN §3.2): cover starts today at the earliest, or a seller could
insure a loss that has already happened. "Today" is the marketplace's date, in its reference
time zone, the one its policy dates are read in. Pure: the caller passes that date.
"""

from __future__ import annotations

from datetime import date, timedelta

from accelerator.errors import FieldError
from accelerator.rulesets.loader import RuleBook
from accelerator.sellers.service import StoredProfile
from schemas import AdditionalInsured, DesiredCover, PositiveMoney

EFFECTIVE_DATE_FIELD = "cover.effective_date"


def required_endorsement(
    rulebook: RuleBook, marketplace: str, effective_date: date
) -> AdditionalInsured:
    """The additional-insured endorsement ``marketplace`` requires of cover starting then."""
    rule = rulebook.version_nearest(marketplace, effective_date).additional_insured
    return AdditionalInsured(name=rule.entity_name, wording=rule.wording)


def default_cover(stored: StoredProfile, today: date) -> DesiredCover:
    """The seller's recommended limits and the marketplace's maximum deductible, for 12 months
    from tomorrow; ``today`` is the marketplace's date."""
    profile = stored.profile
    recommended = profile.recommended_cover
    return DesiredCover(
        per_occurrence=PositiveMoney(
            amount=recommended.per_occurrence.amount, currency=recommended.per_occurrence.currency
        ),
        aggregate=PositiveMoney(
            amount=recommended.aggregate.amount, currency=recommended.aggregate.currency
        ),
        max_deductible=profile.requirement.minimum_cover.max_deductible,
        effective_date=today + timedelta(days=1),
        term_months=12,
    )


def start_date_error(effective_date: date, today: date) -> FieldError | None:
    """Why cover cannot start on ``effective_date`` when it is ``today`` in the marketplace, or
    None: today and any later day are accepted, an earlier day never."""
    if effective_date >= today:
        return None
    return FieldError(
        EFFECTIVE_DATE_FIELD,
        "effective_date_in_past",
        f"Cover can start today ({today.isoformat()} in the marketplace's time zone) at the "
        f"earliest; {effective_date.isoformat()} is in the past.",
    )


def currency_errors(cover: DesiredCover, currency: str) -> list[FieldError]:
    """One error for each amount of ``cover`` not in ``currency``, the marketplace's: insurers
    quote, and its rules are stated, in that currency alone, and nothing is converted."""
    amounts = {
        "per_occurrence": cover.per_occurrence,
        "aggregate": cover.aggregate,
        "max_deductible": cover.max_deductible,
    }
    return [
        FieldError(
            f"cover.{name}.currency",
            "currency_mismatch",
            f"Amounts for this marketplace must be in {currency}, not {money.currency}; they are "
            "not converted.",
        )
        for name, money in amounts.items()
        if money.currency != currency
    ]
