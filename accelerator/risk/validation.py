"""Cross-field checks of seller facts that the wire type cannot express.

Every problem is reported, not just the first, each with a JSON path to the field, a stable
snake_case code and a sentence. Codes: ``unknown_marketplace``, ``no_rule_set_in_force``,
``duplicate_month``, ``future_month``, ``currency_mismatch``, ``unknown_category``,
``duplicate_category``, ``share_out_of_range``, ``shares_do_not_sum_to_one``,
``claims_amount_without_count``. An amount is a finite decimal from 0 to the maximum by its type
(``schemas.Money``), and a month lies in the contract's window (``schemas.YearMonth``), before
these checks run.
"""

from datetime import date
from decimal import Decimal
from typing import Final

from accelerator.errors import FieldError
from accelerator.risk.taxonomy import Taxonomy
from accelerator.rulesets.loader import RuleBook
from accelerator.rulesets.requirements import Month
from schemas import Money, SellerFacts

#: How far category shares may stray from a total of 1.
SHARE_TOLERANCE: Final = Decimal("0.001")


def validate_seller_facts(
    facts: SellerFacts, today: date, rulebook: RuleBook, taxonomy: Taxonomy
) -> list[FieldError]:
    """Every cross-field problem in ``facts`` as of ``today``; an empty list means valid."""
    errors: list[FieldError] = []
    currency = _check_marketplace(facts.marketplace, today, rulebook, errors)
    _check_sales(facts, today, currency, errors)
    _check_categories(facts, taxonomy, errors)
    claims = facts.claims_last_5_years
    _check_currency(claims.amount_paid, "claims_last_5_years.amount_paid", currency, errors)
    if claims.count == 0 and claims.amount_paid.amount > 0:
        errors.append(
            FieldError(
                "claims_last_5_years.amount_paid",
                "claims_amount_without_count",
                "An amount was paid on claims but the claim count is 0.",
            )
        )
    return errors


def _check_marketplace(
    marketplace: str, today: date, rulebook: RuleBook, errors: list[FieldError]
) -> str | None:
    if not rulebook.has(marketplace):
        errors.append(
            FieldError(
                "marketplace",
                "unknown_marketplace",
                f"No rule set for marketplace {marketplace!r}; "
                f"known: {', '.join(rulebook.marketplaces())}.",
            )
        )
        return None
    if not any(v.in_force_on(today) for v in rulebook.versions(marketplace)):
        errors.append(
            FieldError(
                "marketplace",
                "no_rule_set_in_force",
                f"No {marketplace} rule-set version is in force on {today.isoformat()}.",
            )
        )
    return rulebook.currency_of(marketplace)


def _check_currency(money: Money, at: str, currency: str | None, errors: list[FieldError]) -> None:
    if currency is not None and money.currency != currency:
        errors.append(
            FieldError(
                f"{at}.currency",
                "currency_mismatch",
                f"Amounts for this marketplace must be in {currency}, not {money.currency}; "
                "they are not converted.",
            )
        )


def _check_sales(
    facts: SellerFacts, today: date, currency: str | None, errors: list[FieldError]
) -> None:
    this_month = Month.of(today)
    seen: dict[str, int] = {}
    for index, entry in enumerate(facts.monthly_sales):
        at = f"monthly_sales[{index}]"
        if entry.month in seen:
            errors.append(
                FieldError(
                    f"{at}.month",
                    "duplicate_month",
                    f"Month {entry.month} is already given at monthly_sales[{seen[entry.month]}].",
                )
            )
        else:
            seen[entry.month] = index
        if Month.parse(entry.month) > this_month:
            errors.append(
                FieldError(
                    f"{at}.month",
                    "future_month",
                    f"Month {entry.month} is after the current month {this_month}.",
                )
            )
        _check_currency(entry.gross_sales, f"{at}.gross_sales", currency, errors)


def _check_categories(facts: SellerFacts, taxonomy: Taxonomy, errors: list[FieldError]) -> None:
    seen: dict[str, int] = {}
    total = Decimal(0)
    for index, entry in enumerate(facts.categories):
        at = f"categories[{index}]"
        if entry.category not in taxonomy:
            suggestions = taxonomy.suggest(entry.category)
            hint = f" Did you mean {', '.join(suggestions)}?" if suggestions else ""
            errors.append(
                FieldError(
                    f"{at}.category",
                    "unknown_category",
                    f"Unknown product category {entry.category!r}.{hint}",
                    suggestions,
                )
            )
        if entry.category in seen:
            errors.append(
                FieldError(
                    f"{at}.category",
                    "duplicate_category",
                    f"Category {entry.category} is already given at "
                    f"categories[{seen[entry.category]}].",
                )
            )
        else:
            seen[entry.category] = index
        share = entry.revenue_share
        if not share.is_finite() or not 0 <= share <= 1:
            errors.append(
                FieldError(
                    f"{at}.revenue_share",
                    "share_out_of_range",
                    "A revenue share must be a number from 0 to 1.",
                )
            )
        else:
            total += share
    if facts.categories and abs(total - 1) > SHARE_TOLERANCE:
        errors.append(
            FieldError(
                "categories",
                "shares_do_not_sum_to_one",
                f"Revenue shares add up to {total}, not 1 (tolerance {SHARE_TOLERANCE}).",
            )
        )
