"""When a renewal opens and when its cover starts (pure), and the notice it gives the seller."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from accelerator.compliance.status import compliance_status
from accelerator.coverage.state import derive_state, policy_period_from_dates
from accelerator.renewals.service import RenewalReady
from accelerator.renewals.timing import renewal_due, renewal_opens, renewal_start
from accelerator.web.notices import seller_notices
from accelerator.web.standing import coverage_standing
from tests.compliance.factories import SELLER, US_TZ, issued, make_terms, utc
from tests.web.test_coverage_standing import RULES, candidate, change, requirement

# make_terms() runs from 00:01 Los Angeles on 1 January 2026 to 00:01 on 1 January 2027.
END = datetime(2027, 1, 1, 8, 1, tzinfo=UTC)


def test_renewal_opens_on_the_local_day_sixty_days_before_the_end() -> None:
    policy = derive_state([issued()])
    assert policy is not None
    assert renewal_opens(END, US_TZ).isoformat() == "2026-11-02"
    # 23:30 in Los Angeles on 1 November: 61 local days left (7:30 UTC the next day).
    assert renewal_due(policy, US_TZ, utc(2026, 11, 2, 7, 30)) is None
    assert renewal_due(policy, US_TZ, utc(2026, 11, 2, 8, 30)) == END
    # Due until the end itself, never after.
    assert renewal_due(policy, US_TZ, END - timedelta(microseconds=1)) == END
    assert renewal_due(policy, US_TZ, END) is None


def test_a_policy_cancelled_or_scheduled_to_cancel_is_never_due() -> None:
    scheduled = derive_state([issued(), change("cancelled", utc(2026, 12, 20), "e-c")])
    assert scheduled is not None
    assert renewal_due(scheduled, US_TZ, utc(2026, 12, 1)) is None
    # Reinstated before the end: due again.
    reinstated = derive_state(
        [
            issued(),
            change("cancelled", utc(2026, 12, 20), "e-c"),
            change("reinstated", utc(2026, 12, 22), "e-r"),
        ]
    )
    assert reinstated is not None
    assert renewal_due(reinstated, US_TZ, utc(2026, 12, 1)) == END


def test_renewal_cover_starts_the_day_the_policy_ends_never_after_its_end() -> None:
    assert renewal_start(END, US_TZ).isoformat() == "2027-01-01"
    start, _ = policy_period_from_dates(
        renewal_start(END, US_TZ), END.date().replace(year=2028), US_TZ
    )
    assert start == END
    # An end at 00:00:30 local comes before that day's 00:01: the renewal starts the day before.
    early = datetime(2027, 1, 1, 8, 0, 30, tzinfo=UTC)
    assert renewal_start(early, US_TZ).isoformat() == "2026-12-31"


def test_renewal_offers_ready_replace_the_expiry_notice_and_link_to_the_renewal() -> None:
    policies = (candidate(issued()),)
    now = utc(2026, 12, 12, 20)
    status = compliance_status(
        "s-1",
        requirement(comply_by=None),
        RULES,
        policies,
        categories=["electronics"],
        legal_name=SELLER,
        now=now,
    )
    current = coverage_standing(policies, status, now=now, timezone=US_TZ)
    ready = RenewalReady(
        policy_id="pol-1",
        policy_number=make_terms().policy_number,
        insurer_name="Harbor Mutual",
        ends_at=END,
        request_id="req-1",
        offers=3,
    )
    [notice] = seller_notices(current, status, timezone=US_TZ, renewals=[ready])
    assert notice.code == "renewal_ready"
    assert notice.text == (
        f"Renewal offers are ready for policy {make_terms().policy_number} with Harbor Mutual, "
        "which ends on 1 January 2027: 3 offers to start when it ends."
    )
    assert notice.href == "/app/renewals/pol-1"
    assert notice.link == "Compare and renew"


def test_a_verified_policy_from_the_end_continues_the_cover_on_the_coverage_page() -> None:
    start, end = policy_period_from_dates(date(2027, 1, 1), date(2028, 1, 1), US_TZ)
    following = issued(make_terms(policy_number="GL-200", effective_at=start, expires_at=end))
    policies = (
        candidate(issued()),
        candidate(following, change("verified", start, "e-v2"), policy_id="pol-2"),
    )
    now = utc(2026, 12, 12, 20)
    status = compliance_status(
        "s-1",
        requirement(comply_by=None),
        RULES,
        policies,
        categories=["electronics"],
        legal_name=SELLER,
        now=now,
    )
    current = coverage_standing(policies, status, now=now, timezone=US_TZ)
    assert current.headline == "covered"
    assert current.ends_at == END
    assert current.continued_by is not None
    assert current.continued_by.policy_id == "pol-2"
    assert [step.text for step in current.next_steps] == [
        "Nothing to do now: your renewal takes over when this policy ends."
    ]
    # Starting a second after the end leaves a gap: nothing continues the cover.
    late = issued(
        make_terms(policy_number="GL-300", effective_at=END + timedelta(seconds=1), expires_at=end),
        event_id="e-issued-3",
    )
    gap = (
        candidate(issued()),
        candidate(late, change("verified", start, "e-v3"), policy_id="pol-3"),
    )
    status = compliance_status(
        "s-1",
        requirement(comply_by=None),
        RULES,
        gap,
        categories=["electronics"],
        legal_name=SELLER,
        now=now,
    )
    assert coverage_standing(gap, status, now=now, timezone=US_TZ).continued_by is None
