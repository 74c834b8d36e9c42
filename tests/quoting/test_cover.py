"""When requested cover may start (today at the earliest, on the marketplace's calendar)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from accelerator.quoting.cover import start_date_error
from accelerator.rulesets import load_rulesets


@given(today=st.dates(), days=st.integers(min_value=-3650, max_value=3650))
def test_cover_may_start_on_any_day_from_today_and_on_no_earlier_day(
    today: date, days: int
) -> None:
    try:
        effective = today + timedelta(days=days)
    except OverflowError:
        return  # beyond the calendar: not a date anyone can send
    error = start_date_error(effective, today)
    assert (error is None) == (days >= 0)
    if error is not None:
        assert (error.field, error.code) == ("cover.effective_date", "effective_date_in_past")
        assert today.isoformat() in error.message


def test_a_marketplace_date_is_read_in_its_reference_time_zone() -> None:
    book = load_rulesets()
    at = datetime(2026, 3, 10, 6, 30, tzinfo=UTC)  # 23:30 on the 9th in Los Angeles
    assert book.local_date("US", at) == date(2026, 3, 9)
    assert book.local_date("JP", at) == date(2026, 3, 10)  # 15:30 in Tokyo
    assert book.local_date("US", at + timedelta(hours=1)) == date(2026, 3, 10)
