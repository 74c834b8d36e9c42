"""The notices at the top of a seller's pages (pure): cover expiring within 60 days, the
deadline within 30 while not covered, a cancellation scheduled."""

from __future__ import annotations

from datetime import date, datetime

from accelerator.compliance.status import compliance_status
from accelerator.coverage.decision import PolicyCandidate
from accelerator.coverage.state import policy_period_from_dates
from accelerator.web.notices import seller_notices
from accelerator.web.standing import coverage_standing
from tests.compliance.factories import SELLER, US_TZ, issued, make_terms, us_rules, utc
from tests.web.test_coverage_standing import candidate, change, requirement

RULES = us_rules(date(2026, 6, 1))


def notices_at(
    *policies: PolicyCandidate, now: datetime, comply_by: date | None = date(2026, 6, 20)
) -> list[tuple[str, str]]:
    status = compliance_status(
        "s-1",
        requirement(comply_by=comply_by),
        RULES,
        policies,
        categories=["electronics"],
        legal_name=SELLER,
        now=now,
    )
    current = coverage_standing(policies, status, now=now, timezone=US_TZ)
    return [(n.code, n.text) for n in seller_notices(current, status, timezone=US_TZ)]


def test_cover_ending_in_twenty_days_is_a_notice_with_the_local_date() -> None:
    # make_terms() ends at 00:01 Los Angeles on 1 January 2027.
    assert notices_at(candidate(issued()), now=utc(2026, 12, 12, 20)) == [
        (
            "cover_expiring",
            "Your cover with Harbor Mutual ends on 1 January 2027 (in 20 days): renew it or add"
            " the next policy.",
        )
    ]


def test_cover_ending_in_more_than_sixty_days_is_no_notice() -> None:
    assert notices_at(candidate(issued()), now=utc(2026, 11, 1, 20)) == []
    assert [c for c, _ in notices_at(candidate(issued()), now=utc(2026, 11, 2, 20))] == [
        "cover_expiring"
    ]


def test_cover_continued_by_a_next_verified_policy_is_no_notice() -> None:
    start, end = policy_period_from_dates(date(2027, 1, 1), date(2028, 1, 1), US_TZ)
    following = issued(make_terms(policy_number="GL-200", effective_at=start, expires_at=end))
    policies = (
        candidate(issued()),
        candidate(following, change("verified", start, "e-v2"), policy_id="pol-2"),
    )
    assert notices_at(*policies, now=utc(2026, 12, 12, 20)) == []


def test_a_deadline_within_thirty_days_without_cover_is_a_notice() -> None:
    assert notices_at(now=utc(2026, 6, 1, 17)) == [
        (
            "deadline_close",
            "The marketplace needs your insurance by 20 June 2026 (in 19 days) and you are not"
            " covered yet.",
        )
    ]
    assert notices_at(now=utc(2026, 6, 1, 17), comply_by=date(2026, 7, 20)) == []


def test_a_scheduled_cancellation_comes_before_the_expiry() -> None:
    cancel = change("cancelled", utc(2026, 12, 20, 8, 1), "e-c", reason="non-payment")
    codes = [c for c, _ in notices_at(candidate(issued(), cancel), now=utc(2026, 12, 12, 20))]
    assert codes == ["cancellation_scheduled"]
