"""The composed profile: the reference power-bank seller and end-to-end properties."""

from datetime import date
from decimal import Decimal

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelerator.risk import (
    InvalidSellerFactsError,
    Taxonomy,
    build_risk_profile,
    estimate_annual_sales,
    load_taxonomy,
)
from accelerator.rulesets import Month, RuleBook, load_rulesets
from schemas import RiskProfile
from tests.risk.conftest import FactsFactory, power_bank_seller

TODAY = date(2025, 6, 10)


def test_power_bank_importer_is_tier_d_and_must_insure_within_30_days(
    make_facts: FactsFactory, rulebook: RuleBook, taxonomy: Taxonomy
) -> None:
    profile = build_risk_profile(make_facts(), TODAY, rulebook, taxonomy)
    assert (profile.score, profile.tier) == (64, "D")
    assert {f.factor: f.points for f in profile.factors} == {
        "category_hazard": 40,
        "sales_volume": 6,
        "business_model": 10,
        "years_in_business": 3,
        "claims_history": 0,
        "recalls": 0,
        "manufacturing_origin": 5,
        "fulfilment": 0,
    }
    requirement = profile.requirement
    assert requirement.required
    assert requirement.triggered_by_month == "2025-05"
    assert requirement.comply_by == date(2025, 6, 30)
    assert (requirement.rule_set.marketplace, requirement.rule_set.version) == (
        "US",
        "us-2021-09-01",
    )
    assert requirement.minimum_cover.per_occurrence.amount == 1_000_000
    assert requirement.minimum_cover.aggregate.amount == 1_000_000
    cover = profile.recommended_cover
    assert cover.per_occurrence.amount == cover.aggregate.amount == Decimal(2_000_000)
    assert cover.premium_low.amount == Decimal(1260)
    assert cover.premium_high.amount == Decimal(3780)
    assert profile.annual_sales_estimate.amount == Decimal("168000.00")
    assert profile.categories[0].hazard_class == 5


def test_low_hazard_domestic_reseller_is_tier_a_and_not_required(
    make_facts: FactsFactory, rulebook: RuleBook, taxonomy: Taxonomy
) -> None:
    facts = make_facts(
        sales={"2025-04": "3000", "2025-05": "4000"},
        categories={"apparel/t-shirts": "1"},
        business_model="reseller",
        years_in_business=6,
        manufacturing_countries=["US"],
    )
    profile = build_risk_profile(facts, TODAY, rulebook, taxonomy)
    assert profile.tier == "A"
    assert not profile.requirement.required
    assert profile.requirement.comply_by is None
    assert profile.recommended_cover.per_occurrence.amount == 1_000_000
    assert profile.recommended_cover.premium_low.amount == 500  # the minimum premium


def test_profile_round_trips_through_json(
    make_facts: FactsFactory, rulebook: RuleBook, taxonomy: Taxonomy
) -> None:
    profile = build_risk_profile(make_facts(), TODAY, rulebook, taxonomy)
    assert msgspec.json.decode(msgspec.json.encode(profile), type=RiskProfile) == profile


def test_invalid_facts_raise_with_every_field_error(
    make_facts: FactsFactory, rulebook: RuleBook, taxonomy: Taxonomy
) -> None:
    facts = make_facts(categories={"electronics/powerbank": "0.5"}, sales={"2030-01": "1"})
    with pytest.raises(InvalidSellerFactsError) as caught:
        build_risk_profile(facts, TODAY, rulebook, taxonomy)
    assert {e.code for e in caught.value.errors} == {
        "unknown_category",
        "shares_do_not_sum_to_one",
        "future_month",
    }


def test_overridden_figures_are_named_in_the_profile(
    make_facts: FactsFactory, taxonomy: Taxonomy
) -> None:
    rulebook = load_rulesets({"US.min_aggregate": "2000000"})
    profile = build_risk_profile(make_facts(), TODAY, rulebook, taxonomy)
    assert profile.requirement.rule_set.overridden == ["min_aggregate"]
    assert profile.requirement.minimum_cover.aggregate.amount == 2_000_000


@pytest.mark.parametrize(
    ("sales", "expected"),
    [
        ({}, "0.00"),
        ({"2025-05": "14000"}, "168000.00"),
        ({"2025-03": "1000", "2025-05": "2000"}, "12000.00"),  # April missing counts as zero
        ({f"2024-{m:02d}": "1000" for m in range(1, 13)} | {"2025-05": "13000"}, "20000.00"),
        ({"2025-05": "1200", "2025-06": "99999"}, "14400.00"),  # June has not ended
        ({"2025-06": "500"}, "6000.00"),  # only an unfinished month: use it
    ],
)
def test_annual_sales_estimate(sales: dict[str, str], expected: str) -> None:
    history = [(Month.parse(m), Decimal(a)) for m, a in sales.items()]
    assert estimate_annual_sales(history, TODAY) == Decimal(expected)


RULEBOOK = load_rulesets()
TAXONOMY = load_taxonomy()
amounts = st.decimals(min_value=0, max_value=10**7, places=2)


@settings(deadline=None)  # correctness, not speed, is under test
@given(st.lists(amounts, min_size=1, max_size=14), st.data())
def test_more_sales_in_any_month_never_lower_the_profile_score(
    base: list[Decimal], data: st.DataObject
) -> None:
    months = [Month(2025, 5).shift(-i) for i in range(len(base))]
    index = data.draw(st.integers(0, len(base) - 1))
    extra = data.draw(amounts)
    raised = [a + extra if i == index else a for i, a in enumerate(base)]
    before, after = (
        build_risk_profile(
            power_bank_seller(sales={str(m): str(a) for m, a in zip(months, series, strict=True)}),
            TODAY,
            RULEBOOK,
            TAXONOMY,
        )
        for series in (base, raised)
    )
    assert after.score >= before.score
    assert after.requirement.required >= before.requirement.required


@settings(deadline=None)  # correctness, not speed, is under test
@given(st.lists(amounts, min_size=0, max_size=14))
def test_profile_is_deterministic(base: list[Decimal]) -> None:
    months = [Month(2025, 5).shift(-i) for i in range(len(base))]
    facts = power_bank_seller(sales={str(m): str(a) for m, a in zip(months, base, strict=True)})
    first = build_risk_profile(facts, TODAY, RULEBOOK, TAXONOMY)
    assert build_risk_profile(facts, TODAY, RULEBOOK, TAXONOMY) == first
    assert sum(f.points for f in first.factors) == first.score
