"""The risk model: bounds, exact contributions, monotonicity and determinism."""

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelerator.risk import CategoryExposure, RiskInputs, assess_risk, load_taxonomy, tier_for
from accelerator.risk.engine import WEIGHTS

TAXONOMY = load_taxonomy()
CATEGORIES = sorted(TAXONOMY, key=lambda c: c.path)

money = st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False)
countries = st.lists(st.sampled_from(["US", "CN", "DE", "GB", "VN", "MX"]), max_size=4)


@st.composite
def category_mix(draw: st.DrawFn) -> list[CategoryExposure]:
    """One to four distinct categories whose shares add up to exactly 1."""
    chosen = draw(st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=4, unique=True))
    cuts = sorted(
        draw(st.lists(st.integers(0, 1000), min_size=len(chosen) - 1, max_size=len(chosen) - 1))
    )
    bounds = [0, *cuts, 1000]
    return [
        CategoryExposure(category, Decimal(bounds[i + 1] - bounds[i]) / 1000)
        for i, category in enumerate(chosen)
    ]


@st.composite
def risk_inputs(draw: st.DrawFn) -> RiskInputs:
    return RiskInputs(
        categories=draw(category_mix()),
        annual_sales=draw(money),
        exposure_unit=draw(st.sampled_from([Decimal(10_000), Decimal(4_000), Decimal(1_000_000)])),
        currency="USD",
        business_model=draw(
            st.sampled_from(["reseller", "private_label", "importer", "manufacturer"])
        ),
        fulfilment=draw(st.sampled_from(["marketplace_fulfilled", "merchant_fulfilled", "mixed"])),
        years_in_business=draw(st.integers(0, 60)),
        claims_count=draw(st.integers(0, 50)),
        claims_paid=draw(money),
        recalls=draw(st.integers(0, 10)),
        manufacturing_countries=draw(countries),
        home_countries=["US"],
    )


@settings(deadline=None)  # correctness, not speed, is under test
@given(risk_inputs())
def test_score_stays_between_0_and_100_and_contributions_sum_to_it(inputs: RiskInputs) -> None:
    result = assess_risk(inputs)
    assert 0 <= result.score <= 100
    assert sum(f.points for f in result.factors) == result.score
    assert all(0 <= f.points <= f.max_points for f in result.factors)
    assert result.tier == tier_for(result.score)
    assert all(f.explanation.endswith(".") for f in result.factors)


@settings(deadline=None)  # correctness, not speed, is under test
@given(risk_inputs())
def test_same_input_gives_the_same_output(inputs: RiskInputs) -> None:
    assert assess_risk(inputs) == assess_risk(replace(inputs))


@settings(deadline=None)  # correctness, not speed, is under test
@given(risk_inputs(), st.integers(1, 20), money)
def test_more_claims_never_lower_the_score(inputs: RiskInputs, extra: int, paid: Decimal) -> None:
    more = replace(
        inputs, claims_count=inputs.claims_count + extra, claims_paid=inputs.claims_paid + paid
    )
    assert assess_risk(more).score >= assess_risk(inputs).score


@settings(deadline=None)  # correctness, not speed, is under test
@given(risk_inputs(), money)
def test_more_sales_never_lower_the_score(inputs: RiskInputs, extra: Decimal) -> None:
    more = replace(inputs, annual_sales=inputs.annual_sales + extra)
    assert assess_risk(more).score >= assess_risk(inputs).score


@settings(deadline=None)  # correctness, not speed, is under test
@given(risk_inputs(), st.integers(1, 10))
def test_more_recalls_never_lower_the_score(inputs: RiskInputs, extra: int) -> None:
    more = replace(inputs, recalls=inputs.recalls + extra)
    assert assess_risk(more).score >= assess_risk(inputs).score


@settings(deadline=None)  # correctness, not speed, is under test
@given(risk_inputs(), st.data())
def test_shifting_share_to_a_more_hazardous_category_never_lowers_the_score(
    inputs: RiskInputs, data: st.DataObject
) -> None:
    mix = list(inputs.categories)
    source = data.draw(st.sampled_from(range(len(mix))))
    target = data.draw(
        st.sampled_from(
            [c for c in CATEGORIES if c.hazard_class >= mix[source].category.hazard_class]
        )
    )
    moved = mix[source].share * data.draw(st.sampled_from([Decimal("0.25"), Decimal("1")]))
    mix[source] = CategoryExposure(mix[source].category, mix[source].share - moved)
    mix.append(CategoryExposure(target, moved))
    shifted = replace(inputs, categories=mix)
    assert assess_risk(shifted).score >= assess_risk(inputs).score


def test_worst_seller_scores_100_and_best_scores_0() -> None:
    worst = RiskInputs(
        categories=[CategoryExposure(TAXONOMY.get("electronics/power-banks"), Decimal(1))],
        annual_sales=Decimal(10**9),
        exposure_unit=Decimal(10_000),
        currency="USD",
        business_model="manufacturer",
        fulfilment="merchant_fulfilled",
        years_in_business=0,
        claims_count=10,
        claims_paid=Decimal(10**6),
        recalls=3,
        manufacturing_countries=["CN"],
        home_countries=["US"],
    )
    best = replace(
        worst,
        categories=[CategoryExposure(TAXONOMY.get("apparel/t-shirts"), Decimal(1))],
        annual_sales=Decimal(5_000),
        business_model="reseller",
        fulfilment="marketplace_fulfilled",
        years_in_business=12,
        claims_count=0,
        claims_paid=Decimal(0),
        recalls=0,
        manufacturing_countries=["US"],
    )
    assert assess_risk(worst).score == 100 == sum(WEIGHTS.values())
    # A reseller still carries its 3 business-model points.
    assert assess_risk(best).score == 3
    assert assess_risk(best).tier == "A"


@pytest.mark.parametrize(
    ("score", "tier"),
    [
        (0, "A"),
        (19, "A"),
        (20, "B"),
        (34, "B"),
        (35, "C"),
        (49, "C"),
        (50, "D"),
        (69, "D"),
        (70, "E"),
        (100, "E"),
    ],
)
def test_tier_boundaries(score: int, tier: str) -> None:
    assert tier_for(score) == tier


def test_unknown_manufacturing_origin_scores_between_domestic_and_abroad() -> None:
    base = RiskInputs(
        categories=[CategoryExposure(TAXONOMY.get("toys/plush"), Decimal(1))],
        annual_sales=Decimal(100_000),
        exposure_unit=Decimal(10_000),
        currency="USD",
        business_model="reseller",
        fulfilment="mixed",
        years_in_business=4,
        claims_count=1,
        claims_paid=Decimal(500),
        recalls=0,
        manufacturing_countries=[],
        home_countries=["US"],
    )
    points = {
        origin: next(
            f.points
            for f in assess_risk(replace(base, manufacturing_countries=origin)).factors
            if f.factor == "manufacturing_origin"
        )
        for origin in ((), ("US",), ("VN",))
    }
    assert points == {(): 3, ("US",): 0, ("VN",): 5}
