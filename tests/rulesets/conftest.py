"""Fixtures for the rule-set tests."""

from collections.abc import Callable
from decimal import Decimal

import pytest

from accelerator.rulesets import Month, RuleBook, load_rulesets
from schemas import Money

SalesHistory = list[tuple[Month, Money]]


@pytest.fixture
def rulebook() -> RuleBook:
    """The shipped rule sets, no overrides."""
    return load_rulesets()


@pytest.fixture
def sales() -> Callable[..., SalesHistory]:
    """Build a sales history: ``sales("USD", {"2025-05": "14000"})``."""

    def build(currency: str, amounts: dict[str, str]) -> SalesHistory:
        return [
            (Month.parse(month), Money(amount=Decimal(amount), currency=currency))
            for month, amount in amounts.items()
        ]

    return build
