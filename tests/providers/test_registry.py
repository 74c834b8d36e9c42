"""The adapter registry (entry points, configuration) and the eligibility rule."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from providers import (
    Appetite,
    InvalidAdapter,
    ProviderSettings,
    RevenueBand,
    UnknownAdapter,
    available_adapters,
    build_adapters,
    eligibility,
)
from providers.acord import AcordAdapter
from providers.canonical import CanonicalAdapter
from providers.harbor import HarborAdapter
from providers.meridian import MeridianAdapter
from tests.providers.factories import quote_request, usd

APPETITE = Appetite(
    marketplaces=frozenset({"US"}),
    categories=("home", "kitchen", "toys"),
    excluded_categories=("toys/weapons",),
    revenue_bands=(RevenueBand("USD", Decimal(100_000), Decimal(10_000_000)),),
    max_per_occurrence=Decimal(2_000_000),
    max_risk_score=80,
)


def test_built_in_adapters_are_registered_as_entry_points() -> None:
    adapters = available_adapters()
    assert adapters["harbor"] is HarborAdapter
    assert adapters["meridian"] is MeridianAdapter
    assert adapters["acord"] is AcordAdapter
    assert adapters["canonical"] is CanonicalAdapter


def test_build_adapters_uses_the_adapter_setting_or_the_provider_id() -> None:
    built = build_adapters(
        {
            "harbor": ProviderSettings(base_url="https://h.test"),
            "summit": ProviderSettings(base_url="https://s.test", adapter="harbor"),
            "acorn": ProviderSettings(base_url="https://a.test", adapter="acord"),
        }
    )
    assert isinstance(built["harbor"], HarborAdapter)
    assert isinstance(built["summit"], HarborAdapter)
    assert built["summit"].provider_id == "summit"
    assert isinstance(built["acorn"], AcordAdapter)


def test_disabled_providers_are_not_built() -> None:
    built = build_adapters({"harbor": ProviderSettings(base_url="https://h.test", enabled=False)})
    assert built == {}


def test_unknown_adapter_is_named_in_the_error() -> None:
    with pytest.raises(UnknownAdapter, match=r"'nowhere'.*'ghost'"):
        build_adapters({"nowhere": ProviderSettings(base_url="https://x.test", adapter="ghost")})


def test_object_that_is_not_an_adapter_is_refused() -> None:
    class NotAnAdapter:
        def __init__(self, provider_id: str, settings: ProviderSettings) -> None:
            self.provider_id = provider_id

    with pytest.raises(InvalidAdapter):
        build_adapters(
            {"x": ProviderSettings(base_url="https://x.test")},
            adapters={"x": NotAnAdapter},  # type: ignore[dict-item]
        )


def test_settings_appetite_replaces_the_declared_one() -> None:
    settings = ProviderSettings(base_url="https://x.test", adapter="harbor", appetite=APPETITE)
    assert build_adapters({"x": settings})["x"].appetite == APPETITE


def test_request_inside_the_appetite_is_eligible() -> None:
    assert eligibility(APPETITE, quote_request()) is None


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"marketplace": "UK"}, "marketplace_not_written"),
        ({"annual_sales": {"amount": "2400000", "currency": "CAD"}}, "currency_not_written"),
        ({"per_occurrence": {"amount": "1000000", "currency": "CAD"}}, "currency_not_written"),
        ({"annual_sales": usd(50_000)}, "revenue_outside_band"),
        ({"annual_sales": usd(10_000_001)}, "revenue_outside_band"),
        (
            {"categories": [{"category": "toys/weapons/nerf", "revenue_share": "1"}]},
            "category_excluded",
        ),
        (
            {"categories": [{"category": "health/vitamins", "revenue_share": "1"}]},
            "category_not_written",
        ),
        (
            # A prefix matches whole segments only.
            {"categories": [{"category": "toysets", "revenue_share": "1"}]},
            "category_not_written",
        ),
        ({"per_occurrence": usd(3_000_000)}, "limit_above_capacity"),
        ({"risk_score": 81}, "risk_above_appetite"),
    ],
)
def test_request_outside_the_appetite_gets_a_stable_reason(
    changes: dict[str, object], reason: str
) -> None:
    assert eligibility(APPETITE, quote_request(**changes)) == reason


def test_band_edges_are_inclusive() -> None:
    assert eligibility(APPETITE, quote_request(annual_sales=usd(100_000))) is None
    assert eligibility(APPETITE, quote_request(annual_sales=usd(10_000_000))) is None
    assert eligibility(APPETITE, quote_request(risk_score=80)) is None


def test_empty_prefix_writes_every_category() -> None:
    everything = Appetite(
        marketplaces=frozenset({"US"}),
        categories=("",),
        revenue_bands=APPETITE.revenue_bands,
        max_per_occurrence=Decimal(5_000_000),
    )
    request = quote_request(categories=[{"category": "anything/at/all", "revenue_share": "1"}])
    assert eligibility(everything, request) is None


@given(
    score=st.integers(0, 100),
    sales=st.integers(0, 20_000_000),
    limit=st.integers(100_000, 5_000_000),
)
def test_eligibility_is_none_exactly_when_every_bound_holds(
    score: int, sales: int, limit: int
) -> None:
    request = quote_request(risk_score=score, annual_sales=usd(sales), per_occurrence=usd(limit))
    expected_ok = 100_000 <= sales <= 10_000_000 and limit <= 2_000_000 and score <= 80
    assert (eligibility(APPETITE, request) is None) == expected_ok
