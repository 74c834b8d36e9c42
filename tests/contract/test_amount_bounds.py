"""An amount's bounds as the contract states them (Money, PositiveMoney built in code), checked
against their plain reading."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import MAX_AMOUNT, Money, OutOfBounds, PositiveMoney


def _within_bounds(value: Decimal, positive: bool) -> bool:
    """The rule read plainly: finite, 0 (or above 0) to the maximum, and no digit but zeros
    after the fourth decimal place, read from the number written out in full."""
    if not value.is_finite() or value < 0 or value > MAX_AMOUNT or (positive and value == 0):
        return False
    _, _, places = f"{value:f}".partition(".")
    return len(places.rstrip("0")) <= 4


_AMOUNTS = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True),
    st.decimals(min_value=0, max_value=MAX_AMOUNT, places=6),
    st.builds(
        lambda digits, exponent: Decimal(digits).scaleb(exponent),
        st.integers(min_value=-(10**20), max_value=10**20),
        st.integers(min_value=-12, max_value=6),
    ),
    st.sampled_from(
        [Decimal("1.50000"), Decimal("0.00001"), Decimal("1E+15"), Decimal("1000000000000000.0000")]
    ),
)


@given(_AMOUNTS, st.booleans())
def test_an_amount_passes_exactly_when_within_the_stated_bounds(
    value: Decimal, positive: bool
) -> None:
    kind = PositiveMoney if positive else Money
    if _within_bounds(value, positive):
        assert kind(value, "USD").amount == value
    else:
        with pytest.raises(OutOfBounds):
            kind(value, "USD")
