"""Fixtures for the risk tests: the shipped data and a seller-facts factory."""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from accelerator.risk import Taxonomy, load_taxonomy
from accelerator.rulesets import RuleBook, load_rulesets
from schemas import CategoryShare, ClaimsHistory, Money, MonthlySales, SellerFacts

FactsFactory = Callable[..., SellerFacts]


@pytest.fixture
def rulebook() -> RuleBook:
    """The shipped rule sets."""
    return load_rulesets()


@pytest.fixture
def taxonomy() -> Taxonomy:
    """The shipped product-category taxonomy."""
    return load_taxonomy()


def power_bank_seller(**changes: Any) -> SellerFacts:
    """The reference seller: imports lithium-ion power banks made in CN, 14,000 USD last month.

    Keyword arguments replace fields; ``sales={"2025-05": "14000"}`` and
    ``categories={"electronics/power-banks": "1"}`` are accepted as shorthands.
    """
    currency = changes.pop("currency", "USD")
    sales = changes.pop("sales", {"2025-05": "14000.00"})
    categories = changes.pop("categories", {"electronics/power-banks": "1"})
    facts = SellerFacts(
        legal_name="Volt Goods LLC",
        marketplace="US",
        monthly_sales=[
            MonthlySales(month=m, gross_sales=Money(amount=Decimal(a), currency=currency))
            for m, a in sales.items()
        ],
        categories=[
            CategoryShare(category=c, revenue_share=Decimal(s)) for c, s in categories.items()
        ],
        business_model="importer",
        fulfilment="marketplace_fulfilled",
        years_in_business=2,
        claims_last_5_years=ClaimsHistory(
            count=0, amount_paid=Money(amount=Decimal(0), currency=currency)
        ),
        recalls_last_5_years=0,
        manufacturing_countries=["CN"],
    )
    return msgspec.structs.replace(facts, **changes)


@pytest.fixture
def make_facts() -> FactsFactory:
    """Build seller facts from the reference power-bank seller with some fields changed."""
    return power_bank_seller
