"""Compose validation, requirement evaluation, the risk model and the cover recommendation
into the public ``RiskProfile``. Pure: no clock, no I/O."""

from collections.abc import Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from accelerator.errors import FieldError
from accelerator.risk.cover import recommend_cover
from accelerator.risk.engine import CategoryExposure, RiskInputs, assess_risk
from accelerator.risk.taxonomy import Taxonomy
from accelerator.risk.validation import validate_seller_facts
from accelerator.rulesets.loader import RuleBook
from accelerator.rulesets.model import RuleSetVersion
from accelerator.rulesets.requirements import Month, evaluate_requirement
from schemas import (
    MAX_AMOUNT,
    CategoryHazard,
    FactorContribution,
    MinimumCover,
    Money,
    RecommendedCover,
    Requirement,
    RiskProfile,
    RuleSetRef,
    SellerFacts,
)


class InvalidSellerFactsError(ValueError):
    """The facts failed :func:`validate_seller_facts`; ``errors`` lists every problem."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        self.errors = tuple(errors)
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in self.errors))


def build_risk_profile(
    facts: SellerFacts, today: date, rulebook: RuleBook, taxonomy: Taxonomy
) -> RiskProfile:
    """The seller's risk profile as of ``today``; same input, same output.

    Raises InvalidSellerFactsError (with every FieldError) when the facts do not validate.
    """
    errors = validate_seller_facts(facts, today, rulebook, taxonomy)
    if errors:
        raise InvalidSellerFactsError(errors)
    version = rulebook.version_at(facts.marketplace, today)
    sales = [(Month.parse(entry.month), entry.gross_sales) for entry in facts.monthly_sales]
    decision = evaluate_requirement(sales, facts.marketplace, today, rulebook)
    annual = estimate_annual_sales([(m, money.amount) for m, money in sales], today)
    if annual > MAX_AMOUNT:
        # Each month is within bounds, but twelve of them (or one, annualised) are not.
        raise InvalidSellerFactsError(
            [
                FieldError(
                    "monthly_sales",
                    "annual_sales_too_large",
                    f"These sales come to {annual} a year, more than the largest amount the "
                    f"service takes ({MAX_AMOUNT}).",
                )
            ]
        )
    exposure_unit = Decimal(version.trigger.threshold)
    categories = [
        CategoryExposure(taxonomy.get(entry.category), entry.revenue_share)
        for entry in facts.categories
    ]
    assessment = assess_risk(
        RiskInputs(
            categories=categories,
            annual_sales=annual,
            exposure_unit=exposure_unit,
            currency=version.currency,
            business_model=facts.business_model,
            fulfilment=facts.fulfilment,
            years_in_business=facts.years_in_business,
            claims_count=facts.claims_last_5_years.count,
            claims_paid=facts.claims_last_5_years.amount_paid.amount,
            recalls=facts.recalls_last_5_years,
            manufacturing_countries=facts.manufacturing_countries,
            home_countries=version.territories.countries,
        )
    )
    cover = recommend_cover(
        tier=assessment.tier,
        categories=categories,
        annual_sales=annual,
        minimum=decision.minimum_cover,
        exposure_unit=exposure_unit,
    )
    minimum = decision.minimum_cover
    return RiskProfile(
        risk_model_version=assessment.model_version,
        as_of=today,
        marketplace=facts.marketplace,
        score=assessment.score,
        tier=assessment.tier,
        annual_sales_estimate=Money(amount=annual, currency=version.currency),
        factors=[
            FactorContribution(
                factor=f.factor, points=f.points, max_points=f.max_points, explanation=f.explanation
            )
            for f in assessment.factors
        ],
        categories=[
            CategoryHazard(
                category=c.category.path,
                hazard_class=c.category.hazard_class,
                rationale=c.category.rationale,
                revenue_share=c.share,
            )
            for c in categories
        ],
        requirement=Requirement(
            required=decision.required,
            triggered_by_month=(
                str(decision.triggered_by_month) if decision.triggered_by_month else None
            ),
            triggered_under=_ref(decision.triggered_under) if decision.triggered_under else None,
            comply_by=decision.comply_by,
            rule_set=_ref(decision.rule_set),
            minimum_cover=MinimumCover(
                per_occurrence=minimum.per_occurrence,
                aggregate=minimum.aggregate,
                max_deductible=minimum.max_deductible,
            ),
            reason=decision.reason,
        ),
        recommended_cover=RecommendedCover(
            per_occurrence=cover.per_occurrence,
            aggregate=cover.aggregate,
            premium_low=cover.premium_low,
            premium_high=cover.premium_high,
            basis=cover.basis,
        ),
    )


def estimate_annual_sales(sales: Sequence[tuple[Month, Decimal]], today: date) -> Decimal:
    """Annual gross sales: the 12 months ending with the latest month in the history.

    Only months that have ended by ``today`` count (unless none has, then all given months do).
    A history shorter than 12 months is annualised: the months from its first to its latest,
    missing ones as zero, averaged and multiplied by 12. Rounded half-up to 0.01.
    """
    complete = [(m, a) for m, a in sales if m.last_day <= today] or list(sales)
    if not complete:
        return Decimal("0.00")
    latest = max(m for m, _ in complete)
    start = max(min(m for m, _ in complete), latest.shift(-11))
    span = (latest.year - start.year) * 12 + latest.month - start.month + 1
    total = sum((a for m, a in complete if m >= start), Decimal(0))
    return (total * 12 / span).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _ref(version: RuleSetVersion) -> RuleSetRef:
    return RuleSetRef(
        marketplace=version.marketplace,
        version=version.version,
        overridden=list(version.overridden),
    )
