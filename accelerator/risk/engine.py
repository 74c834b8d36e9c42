"""The risk model: seller facts -> score 0..100, tier A..E, and each factor's contribution.

Pure and deterministic. Each factor yields Decimal points in ``0..max_points`` that are rounded
half-up to a whole number *per factor*; the score is the sum of those whole points, so the
contributions add up to the score exactly. The maxima add up to 100. Every factor is
non-decreasing in the risk it measures, and rounding half-up keeps that, so more claims, more
sales or a larger share of a more hazardous category never lower the score.

Bump :data:`RISK_MODEL_VERSION` whenever a weight, table or formula changes.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from typing import Final

from accelerator.risk.taxonomy import Category
from schemas import BusinessModel, Fulfilment, RiskTier

RISK_MODEL_VERSION: Final = "risk-model-1.0"

#: Maximum points per factor; they add up to 100.
WEIGHTS: Final = {
    "category_hazard": 40,
    "sales_volume": 15,
    "business_model": 10,
    "years_in_business": 5,
    "claims_history": 15,
    "recalls": 8,
    "manufacturing_origin": 5,
    "fulfilment": 2,
}
#: Lowest score of each tier above A.
TIER_FLOORS: Final[tuple[tuple[int, RiskTier], ...]] = ((70, "E"), (50, "D"), (35, "C"), (20, "B"))
#: Annual sales at this many times the exposure unit earn the full sales-volume points.
VOLUME_FULL_RATIO: Final = Decimal(1000)

_BUSINESS_MODEL_POINTS: Final[dict[BusinessModel, int]] = {
    "manufacturer": 10,
    "importer": 10,
    "private_label": 10,
    "reseller": 3,
}
_FULFILMENT_POINTS: Final[dict[Fulfilment, int]] = {
    "marketplace_fulfilled": 0,
    "mixed": 1,
    "merchant_fulfilled": 2,
}
# Years in business -> points; the last entry applies from that many years on.
_YEARS_POINTS: Final = ((0, 5), (1, 4), (2, 3), (3, 2), (5, 1), (10, 0))
# A fixed context so results do not depend on the caller's decimal settings.
_CONTEXT: Final = Context(prec=28, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class CategoryExposure:
    """A category the seller sells and its share of revenue."""

    category: Category
    share: Decimal


@dataclass(frozen=True)
class RiskInputs:
    """Everything the model looks at. Amounts are in one currency.

    ``exposure_unit`` makes amounts comparable across currencies: it is the marketplace's
    monthly trigger threshold (10,000 USD, 4,000 GBP, 1,000,000 JPY ...), all of which sit in the
    same order of magnitude of real money.
    """

    categories: Sequence[CategoryExposure]
    annual_sales: Decimal
    exposure_unit: Decimal
    currency: str
    business_model: BusinessModel
    fulfilment: Fulfilment
    years_in_business: int
    claims_count: int
    claims_paid: Decimal
    recalls: int
    manufacturing_countries: Sequence[str]
    home_countries: Sequence[str]


@dataclass(frozen=True)
class FactorScore:
    """One factor's whole points and a sentence saying why."""

    factor: str
    points: int
    max_points: int
    explanation: str


@dataclass(frozen=True)
class RiskAssessment:
    """The model's answer."""

    model_version: str
    score: int
    tier: RiskTier
    factors: tuple[FactorScore, ...]
    weighted_hazard: Decimal


def assess_risk(inputs: RiskInputs) -> RiskAssessment:
    """Score ``inputs``: 0..100, a tier, and factors whose points sum exactly to the score."""
    with localcontext(_CONTEXT):
        return _assess(inputs)


def _assess(inputs: RiskInputs) -> RiskAssessment:
    weighted_hazard = _weighted_hazard(inputs.categories)
    factors = (
        _category_hazard(inputs.categories, weighted_hazard),
        _sales_volume(inputs),
        _business_model(inputs.business_model),
        _years_in_business(inputs.years_in_business),
        _claims_history(inputs),
        _recalls(inputs.recalls),
        _manufacturing_origin(inputs.manufacturing_countries, inputs.home_countries),
        _fulfilment(inputs.fulfilment),
    )
    score = sum(f.points for f in factors)
    return RiskAssessment(
        model_version=RISK_MODEL_VERSION,
        score=score,
        tier=tier_for(score),
        factors=factors,
        weighted_hazard=weighted_hazard,
    )


def tier_for(score: int) -> RiskTier:
    """The tier of a score: A 0-19, B 20-34, C 35-49, D 50-69, E 70-100."""
    for floor, tier in TIER_FLOORS:
        if score >= floor:
            return tier
    return "A"


def _whole(points: Decimal, maximum: int) -> int:
    clamped = min(max(points, Decimal(0)), Decimal(maximum))
    return int(clamped.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _money(amount: Decimal, currency: str) -> str:
    return f"{amount:,.2f} {currency}"


def _weighted_hazard(categories: Sequence[CategoryExposure]) -> Decimal:
    total = sum((c.share for c in categories), Decimal(0))
    if total <= 0:
        # No usable shares: assume the worst listed category rather than the best.
        return Decimal(max((c.category.hazard_class for c in categories), default=1))
    weighted = sum((c.share * c.category.hazard_class for c in categories), Decimal(0))
    # Shares may sum to 1 +/- 0.001; dividing keeps the average inside 1..5.
    return _CONTEXT.divide(weighted, total)


def _category_hazard(categories: Sequence[CategoryExposure], hazard: Decimal) -> FactorScore:
    maximum = WEIGHTS["category_hazard"]
    points = _whole(maximum * (hazard - 1) / 4, maximum)
    top = sorted(categories, key=lambda c: (-c.share * c.category.hazard_class, c.category.path))
    parts = ", ".join(
        f"{c.category.path} {c.share * 100:.0f}% at class {c.category.hazard_class}"
        for c in top[:3]
    )
    more = f" and {len(top) - 3} more" if len(top) > 3 else ""
    return FactorScore(
        "category_hazard",
        points,
        maximum,
        f"Revenue-weighted hazard class is {hazard:.2f} of 5 ({parts}{more}), "
        f"which adds {points} of {maximum} points.",
    )


def _sales_volume(inputs: RiskInputs) -> FactorScore:
    maximum = WEIGHTS["sales_volume"]
    ratio = _CONTEXT.divide(inputs.annual_sales, inputs.exposure_unit)
    if ratio <= 1:
        raw = Decimal(0)
    else:
        raw = maximum * ratio.log10(_CONTEXT) / VOLUME_FULL_RATIO.log10(_CONTEXT)
    points = _whole(raw, maximum)
    return FactorScore(
        "sales_volume",
        points,
        maximum,
        f"Estimated annual sales of {_money(inputs.annual_sales, inputs.currency)} are "
        f"{ratio:,.1f} times the {_money(inputs.exposure_unit, inputs.currency)} exposure unit; "
        f"on a log scale (1 time = 0, {VOLUME_FULL_RATIO:,} times = full) that adds "
        f"{points} of {maximum} points.",
    )


def _business_model(model: BusinessModel) -> FactorScore:
    maximum = WEIGHTS["business_model"]
    points = _BUSINESS_MODEL_POINTS[model]
    why = (
        "a reseller can usually pass a claim up to the brand owner or importer"
        if model == "reseller"
        else "the seller stands in the manufacturer's place for liability (importers and "
        "private-label brands are treated like manufacturers)"
    )
    return FactorScore(
        "business_model",
        points,
        maximum,
        f"Business model {model.replace('_', ' ')}: {why}, so it adds {points} of {maximum} "
        "points.",
    )


def _years_in_business(years: int) -> FactorScore:
    maximum = WEIGHTS["years_in_business"]
    points = next(p for floor, p in reversed(_YEARS_POINTS) if years >= floor)
    return FactorScore(
        "years_in_business",
        points,
        maximum,
        f"{years} year{'s' if years != 1 else ''} in business: a shorter track record means "
        f"less evidence of safe products, which adds {points} of {maximum} points.",
    )


def _claims_history(inputs: RiskInputs) -> FactorScore:
    maximum = WEIGHTS["claims_history"]
    count_points = min(3 * inputs.claims_count, 9)
    paid = inputs.claims_paid
    if paid <= 0:
        paid_points = 0
    elif paid <= inputs.exposure_unit / 10:
        paid_points = 2
    elif paid <= inputs.exposure_unit:
        paid_points = 4
    else:
        paid_points = 6
    points = min(count_points + paid_points, maximum)
    return FactorScore(
        "claims_history",
        points,
        maximum,
        f"{inputs.claims_count} claim{'s' if inputs.claims_count != 1 else ''} in the last five "
        f"years with {_money(paid, inputs.currency)} paid ({count_points} points for the count, "
        f"{paid_points} for the amount), which adds {points} of {maximum} points.",
    )


def _recalls(recalls: int) -> FactorScore:
    maximum = WEIGHTS["recalls"]
    points = 0 if recalls == 0 else (5 if recalls == 1 else maximum)
    return FactorScore(
        "recalls",
        points,
        maximum,
        f"{recalls} product recall{'s' if recalls != 1 else ''} in the last five years, "
        f"which adds {points} of {maximum} points.",
    )


def _manufacturing_origin(countries: Sequence[str], home: Sequence[str]) -> FactorScore:
    maximum = WEIGHTS["manufacturing_origin"]
    abroad = sorted(set(countries) - set(home))
    if not countries:
        points = 3
        why = "the countries of manufacture are not known"
    elif abroad:
        points = maximum
        why = (
            f"goods are made outside the marketplace's territory ({', '.join(abroad)}), so "
            "a claim is harder to pass back to the manufacturer"
        )
    else:
        points = 0
        why = (
            "goods are made inside the marketplace's territory, where the manufacturer can be sued"
        )
    return FactorScore(
        "manufacturing_origin",
        points,
        maximum,
        f"Manufacturing origin: {why}; this adds {points} of {maximum} points.",
    )


def _fulfilment(fulfilment: Fulfilment) -> FactorScore:
    maximum = WEIGHTS["fulfilment"]
    points = _FULFILMENT_POINTS[fulfilment]
    why = {
        "marketplace_fulfilled": "the marketplace stores, packs and ships the goods",
        "mixed": "part of the goods are packed and shipped by the seller",
        "merchant_fulfilled": "the seller packs and ships the goods itself",
    }[fulfilment]
    return FactorScore(
        "fulfilment",
        points,
        maximum,
        f"Fulfilment: {why}, which adds {points} of {maximum} points (goods the seller packs "
        "and ships itself miss the marketplace's intake checks).",
    )
