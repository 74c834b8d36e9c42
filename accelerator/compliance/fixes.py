"""What to ask the insurer for, for each gap the compliance evaluation finds: the wording that
would close it, from the rule set version's own figures. Pure; words only, no second judgement
(``compliance.evaluate`` decides what is a gap)."""

from __future__ import annotations

from decimal import Decimal

from accelerator.compliance.text import money
from accelerator.rulesets.model import RuleSetVersion
from schemas import Gap, GapCode


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def fix_for(code: GapCode, version: RuleSetVersion, legal_name: str | None = None) -> str:
    """The sentence that tells a seller what would close a gap of ``code`` under ``version``."""
    if code == "currency_mismatch":
        return f"Ask for the limits and the deductible to be stated in {version.currency}."
    if code in ("policy_form_not_accepted", "claims_made_not_permitted"):
        return (
            "Ask for commercial general liability (or umbrella or excess liability) written on "
            "the occurrence form."
        )
    if code == "limit_below_requirement":
        occurrence = money(version.money(Decimal(version.limits.min_per_occurrence)))
        aggregate = money(version.money(Decimal(version.limits.min_aggregate)))
        return (
            f"Ask for limits of at least {occurrence} each occurrence and {aggregate} in "
            "aggregate, products-completed operations included."
        )
    if code == "deductible_above_maximum":
        maximum = money(version.money(Decimal(version.deductible.max_deductible)))
        return f"Ask for a deductible of at most {maximum}, shown on the certificate."
    if code == "additional_insured_missing":
        return (
            "Ask for an additional-insured endorsement worded exactly: "
            f'"{version.additional_insured.wording}" (naming it as certificate holder is not '
            "enough)."
        )
    if code == "named_insured_mismatch":
        name = f'"{legal_name}"' if legal_name else "your business's legal name"
        return (
            f"Ask the insurer to name {name} as the named insured, or correct the legal name "
            "in your profile if that is what is wrong."
        )
    if code == "insurer_rating_below_minimum":
        return f"Buy from an insurer rated {version.insurer_rating.minimum} or better by AM Best."
    if code == "category_not_covered":
        return "Ask for every product category you sell to be added to the policy."
    if code == "territory_not_covered":
        return (
            "Ask for the policy to respond to claims in "
            f"{_join(list(version.territories.countries))}."
        )
    if code == "notice_period_too_short":
        return (
            f"Ask for at least {version.notice.days} days' written notice to the marketplace "
            "of cancellation, change or non-renewal."
        )
    return (
        f"Renew the policy first, or submit one with at least "
        f"{version.proof.min_remaining_term_days} days left to run."
    )


def fixes_for(
    gaps: list[Gap], version: RuleSetVersion, legal_name: str | None = None
) -> list[tuple[Gap, str]]:
    """Each gap with its fix, in the evaluation's order."""
    return [(gap, fix_for(gap.code, version, legal_name)) for gap in gaps]
