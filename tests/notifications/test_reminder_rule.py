"""The reminder rule (pure): each threshold at most once, the most urgent on catching up."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from accelerator.notifications.reminders import EXPIRY_THRESHOLDS, Due, due_reminder


def test_a_threshold_is_announced_on_the_day_it_is_reached() -> None:
    assert due_reminder(61, EXPIRY_THRESHOLDS, set()) == Due(None, ())
    assert due_reminder(60, EXPIRY_THRESHOLDS, set()) == Due(60, (60,))
    assert due_reminder(45, EXPIRY_THRESHOLDS, {60}) == Due(None, ())
    assert due_reminder(30, EXPIRY_THRESHOLDS, {60}) == Due(30, (30,))


def test_catching_up_announces_the_most_urgent_threshold_and_marks_the_skipped_ones() -> None:
    assert due_reminder(5, EXPIRY_THRESHOLDS, set()) == Due(7, (7, 30, 60))
    assert due_reminder(20, EXPIRY_THRESHOLDS, set()) == Due(30, (30, 60))


def test_nothing_is_due_once_the_date_has_passed() -> None:
    assert due_reminder(-1, EXPIRY_THRESHOLDS, set()) == Due(None, ())


@given(st.lists(st.integers(min_value=-5, max_value=90), min_size=1, max_size=30))
def test_any_pattern_of_sweeps_announces_each_threshold_once_most_urgent_last(
    days: list[int],
) -> None:
    # Days only go down as time passes; sweeps may skip any of them (downtime).
    marked: set[int] = set()
    announced: list[int] = []
    for left in sorted(days, reverse=True):
        due = due_reminder(left, EXPIRY_THRESHOLDS, marked)
        assert not marked & set(due.mark)
        marked |= set(due.mark)
        if due.announce is not None:
            announced.append(due.announce)
    assert len(announced) == len(set(announced))
    assert announced == sorted(announced, reverse=True)
    if min(days) >= 0:
        # Every threshold reached is dealt with by the last sweep.
        assert marked == {t for t in EXPIRY_THRESHOLDS if min(days) <= t}
