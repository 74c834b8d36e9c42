"""An insurer not asked says why in words a seller can act on, one sentence per reason."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accelerator.quoting.appetite import not_asked_reason
from providers import Appetite, RevenueBand, eligibility
from tests.providers.factories import quote_request

APPETITE = Appetite(
    marketplaces=frozenset({"US"}),
    categories=("home", "toys"),
    excluded_categories=("toys/magnets",),
    revenue_bands=(RevenueBand("USD", Decimal(100_000), Decimal(5_000_000)),),
    max_per_occurrence=Decimal(1_000_000),
    max_risk_score=60,
)


def one(category: str) -> list[dict[str, str]]:
    return [{"category": category, "revenue_share": "1"}]


@pytest.mark.parametrize(
    ("changes", "code", "sentence"),
    [
        (
            {"marketplace": "UK"},
            "marketplace_not_written",
            "Acme does not insure sellers on the UK marketplace.",
        ),
        (
            {"annual_sales": {"amount": "50000", "currency": "USD"}},
            "revenue_outside_band",
            "Acme insures businesses with annual sales of 100,000 USD to 5,000,000 USD.",
        ),
        (
            {"categories": one("toys/magnets")},
            "category_excluded",
            "Acme does not insure Toys › Magnets.",
        ),
        (
            {"categories": one("pets/food")},
            "category_not_written",
            "Acme does not insure Pets › Food; it writes Home, Toys.",
        ),
        (
            {
                "categories": one("home/decor"),
                "per_occurrence": {"amount": "2000000", "currency": "USD"},
            },
            "limit_above_capacity",
            "Acme offers at most 1,000,000 USD per occurrence; ask for that limit or less to get "
            "its quote.",
        ),
        (
            {"categories": one("home/decor"), "risk_score": 75},
            "risk_above_appetite",
            "Acme insures sellers with a risk score up to 60; yours is 75.",
        ),
    ],
)
def test_each_reason_names_what_the_insurer_does_not_write(
    changes: dict[str, object], code: str, sentence: str
) -> None:
    request = quote_request(**changes)
    assert eligibility(APPETITE, request) == code
    assert not_asked_reason(code, APPETITE, request, "Acme") == sentence
