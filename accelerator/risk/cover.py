"""Recommended cover: limits at or above the marketplace minimum, and an indicative premium.

The premium range is an *indication* from a reference rate table, not a quote: insurers price
from their own tables. Sources for the figures are listed in docs/risk.md.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from accelerator.risk.engine import CategoryExposure
from accelerator.rulesets.requirements import MinimumCover
from schemas import Money, RiskTier

#: Indicative annual premium per 1,000 of annual sales, (low, high), by hazard class, for
#: limits equal to the marketplace minimum. Class 1 matches public figures of roughly
#: 500-2,000 USD a year per 1,000,000 of sales for low-hazard sellers; higher classes rise to
#: several times that, as reported for supplements and battery-powered goods.
REFERENCE_RATES: Final[Mapping[int, tuple[Decimal, Decimal]]] = {
    1: (Decimal("0.50"), Decimal("2.00")),
    2: (Decimal("1.00"), Decimal("3.00")),
    3: (Decimal("2.00"), Decimal("5.00")),
    4: (Decimal("3.50"), Decimal("9.00")),
    5: (Decimal("5.00"), Decimal("15.00")),
}
#: Recommended limits as a multiple of the marketplace minimum, by tier.
LIMIT_MULTIPLE: Final[Mapping[RiskTier, int]] = {"A": 1, "B": 1, "C": 1, "D": 2, "E": 2}
#: Premium factor for limits at that multiple of the minimum (an increased-limits factor).
INCREASED_LIMITS_FACTOR: Final[Mapping[int, Decimal]] = {1: Decimal("1.00"), 2: Decimal("1.25")}
#: Premium loading by tier for claims, recalls and the other non-category factors.
TIER_LOADING: Final[Mapping[RiskTier, Decimal]] = {
    "A": Decimal("0.85"),
    "B": Decimal("0.95"),
    "C": Decimal("1.00"),
    "D": Decimal("1.20"),
    "E": Decimal("1.50"),
}
#: Minimum premium as a share of the exposure unit (the marketplace's monthly threshold):
#: 500 USD in the US, 200 GBP in the UK, 50,000 JPY in Japan. Insurers rarely write a
#: policy below a few hundred dollars.
MINIMUM_PREMIUM_SHARE: Final = Decimal("0.05")


@dataclass(frozen=True)
class CoverRecommendation:
    """Recommended limits and an indicative annual premium range, all in one currency."""

    per_occurrence: Money
    aggregate: Money
    premium_low: Money
    premium_high: Money
    basis: str


def recommend_cover(
    *,
    tier: RiskTier,
    categories: Sequence[CategoryExposure],
    annual_sales: Decimal,
    minimum: MinimumCover,
    exposure_unit: Decimal,
) -> CoverRecommendation:
    """Limits at or above ``minimum`` (twice it for tiers D and E) and a premium range.

    premium = annual sales / 1,000 x revenue-weighted reference rate x increased-limits factor
    x tier loading, never below the minimum premium, rounded half-up to whole currency units.
    """
    currency = minimum.per_occurrence.currency
    multiple = LIMIT_MULTIPLE[tier]
    per_occurrence = minimum.per_occurrence.amount * multiple
    aggregate = max(minimum.aggregate.amount * multiple, per_occurrence)
    total_share = sum((c.share for c in categories), Decimal(0)) or Decimal(1)
    low_rate = (
        sum((c.share * REFERENCE_RATES[c.category.hazard_class][0] for c in categories), Decimal(0))
        / total_share
    )
    high_rate = (
        sum((c.share * REFERENCE_RATES[c.category.hazard_class][1] for c in categories), Decimal(0))
        / total_share
    )
    factor = INCREASED_LIMITS_FACTOR[multiple] * TIER_LOADING[tier]
    floor = exposure_unit * MINIMUM_PREMIUM_SHARE
    low = _whole(max(annual_sales / 1000 * low_rate * factor, floor))
    high = _whole(max(annual_sales / 1000 * high_rate * factor, floor))
    basis = (
        f"Limits {multiple}x the marketplace minimum for tier {tier}; premium = annual sales "
        f"{annual_sales:,.2f} {currency} / 1,000 x reference rate {low_rate:.2f}-{high_rate:.2f} "
        f"x limits factor {INCREASED_LIMITS_FACTOR[multiple]} x tier loading {TIER_LOADING[tier]}, "
        f"at least {_whole(floor):,} {currency}. Indicative only, not a quote."
    )
    return CoverRecommendation(
        per_occurrence=Money(amount=per_occurrence, currency=currency),
        aggregate=Money(amount=aggregate, currency=currency),
        premium_low=Money(amount=low, currency=currency),
        premium_high=Money(amount=high, currency=currency),
        basis=basis,
    )


def _whole(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal(1), rounding=ROUND_HALF_UP)
