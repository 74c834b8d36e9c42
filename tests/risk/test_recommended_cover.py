"""Recommended limits and the indicative premium range."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelerator.risk import CategoryExposure, load_taxonomy, recommend_cover
from accelerator.rulesets.requirements import MinimumCover
from schemas import Money

TAXONOMY = load_taxonomy()
US_MINIMUM = MinimumCover(
    per_occurrence=Money(amount=Decimal(1_000_000), currency="USD"),
    aggregate=Money(amount=Decimal(1_000_000), currency="USD"),
    max_deductible=Money(amount=Decimal(10_000), currency="USD"),
)


def only(path: str) -> list[CategoryExposure]:
    return [CategoryExposure(TAXONOMY.get(path), Decimal(1))]


@settings(deadline=None)  # correctness, not speed, is under test
@given(
    st.sampled_from(["A", "B", "C", "D", "E"]),
    st.sampled_from(sorted(c.path for c in TAXONOMY)),
    st.decimals(min_value=0, max_value=10**9, places=2),
)
def test_limits_meet_the_minimum_and_premium_range_is_ordered(
    tier: str, path: str, sales: Decimal
) -> None:
    cover = recommend_cover(
        tier=tier,  # type: ignore[arg-type]
        categories=only(path),
        annual_sales=sales,
        minimum=US_MINIMUM,
        exposure_unit=Decimal(10_000),
    )
    assert cover.per_occurrence.amount >= US_MINIMUM.per_occurrence.amount
    assert cover.aggregate.amount >= US_MINIMUM.aggregate.amount
    assert Decimal(500) <= cover.premium_low.amount <= cover.premium_high.amount
    assert {cover.premium_low.currency, cover.premium_high.currency} == {"USD"}


@pytest.mark.parametrize(
    ("tier", "limit"), [("A", 1_000_000), ("C", 1_000_000), ("D", 2_000_000), ("E", 2_000_000)]
)
def test_higher_tiers_get_higher_limits(tier: str, limit: int) -> None:
    cover = recommend_cover(
        tier=tier,  # type: ignore[arg-type]
        categories=only("toys/plush"),
        annual_sales=Decimal(100_000),
        minimum=US_MINIMUM,
        exposure_unit=Decimal(10_000),
    )
    assert cover.per_occurrence.amount == limit


def test_low_hazard_seller_pays_500_to_2000_per_million_of_sales() -> None:
    cover = recommend_cover(
        tier="C",
        categories=only("apparel/t-shirts"),
        annual_sales=Decimal(1_000_000),
        minimum=US_MINIMUM,
        exposure_unit=Decimal(10_000),
    )
    assert cover.premium_low.amount == Decimal(500)
    assert cover.premium_high.amount == Decimal(2000)


def test_supplement_maker_pays_several_times_a_low_hazard_seller() -> None:
    def premium(path: str) -> Decimal:
        return recommend_cover(
            tier="C",
            categories=only(path),
            annual_sales=Decimal(1_000_000),
            minimum=US_MINIMUM,
            exposure_unit=Decimal(10_000),
        ).premium_high.amount

    assert premium("health/dietary-supplements") >= 4 * premium("apparel/t-shirts")
