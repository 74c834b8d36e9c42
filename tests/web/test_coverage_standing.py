"""The coverage page's first words: covered, ending (and why), starting, or not covered."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from accelerator.compliance.status import compliance_status
from accelerator.coverage import PolicyEvent
from accelerator.coverage.decision import PolicyCandidate
from accelerator.coverage.state import EventKind, derive_state
from accelerator.web.standing import CoverageStanding, coverage_standing
from schemas import MinimumCover, PolicySource, Requirement, RuleSetRef
from tests.compliance.factories import SELLER, US_TZ, issued, make_terms, us_rules, usd, utc

NOW = utc(2026, 6, 1, 17)  # 10:00 in Los Angeles
RULES = us_rules(date(2026, 6, 1))


def requirement(required: bool = True, comply_by: date | None = date(2026, 6, 20)) -> Requirement:
    return Requirement(
        required=required,
        triggered_by_month="2026-05" if required else None,
        triggered_under=None,
        comply_by=comply_by if required else None,
        rule_set=RuleSetRef(marketplace="US", version=RULES.version, overridden=[]),
        minimum_cover=MinimumCover(
            per_occurrence=usd(1_000_000), aggregate=usd(1_000_000), max_deductible=usd(10_000)
        ),
        reason="Sales above the threshold.",
    )


def change(kind: str, at: datetime, event_id: str, reason: str = "") -> PolicyEvent:
    return PolicyEvent(
        event_id=event_id, kind=EventKind(kind), effective_at=at, recorded_at=NOW, reason=reason
    )


def candidate(*events: PolicyEvent, policy_id: str = "pol-1") -> PolicyCandidate:
    return PolicyCandidate(policy_id, PolicySource.BOUND, derive_state(events))


def standing_of(
    *policies: PolicyCandidate, required: bool = True, now: datetime = NOW
) -> CoverageStanding:
    status = compliance_status(
        "s-1",
        requirement(required),
        RULES,
        policies,
        categories=["electronics"],
        legal_name=SELLER,
        now=now,
    )
    return coverage_standing(policies, status, now=now, timezone=US_TZ)


def test_a_policy_in_force_with_no_end_in_sight_is_covered() -> None:
    standing = standing_of(candidate(issued()))
    assert standing.headline == "covered"
    assert standing.ends_at == make_terms().expires_at
    assert standing.end_cause == "expiry"
    assert standing.days_to_end == 214  # 1 June to 1 January, Los Angeles dates
    assert standing.days_to_deadline == 19
    assert standing.gaps == ()
    assert [s.code for s in standing.next_steps] == ["nothing_to_do"]


def test_a_cancellation_scheduled_for_next_month_means_cover_ends_then_not_covered() -> None:
    cancel_at = utc(2026, 7, 1, 7, 1)
    standing = standing_of(
        candidate(issued(), change("cancelled", cancel_at, "e-c", "Seller asked to cancel"))
    )
    assert standing.headline == "ending"
    assert standing.ends_at == cancel_at
    assert standing.end_cause == "cancellation"
    assert standing.end_reason == "Seller asked to cancel"
    assert standing.days_to_end == 30
    assert [(e.cause, e.effective_at) for e in standing.scheduled] == [("cancellation", cancel_at)]
    assert "replace" in [s.code for s in standing.next_steps]


def test_a_scheduled_lapse_is_named_as_a_lapse() -> None:
    lapse_at = utc(2026, 9, 1, 7, 1)  # three months away: not "expiring soon", still ending
    standing = standing_of(candidate(issued(), change("lapsed", lapse_at, "e-l", "Unpaid")))
    assert (standing.headline, standing.end_cause, standing.ends_at) == (
        "ending",
        "lapse",
        lapse_at,
    )


def test_a_cancellation_undone_by_a_reinstatement_is_not_scheduled() -> None:
    cancel_at = utc(2026, 7, 1, 7, 1)
    standing = standing_of(
        candidate(
            issued(),
            change("cancelled", cancel_at, "e-c"),
            change("reinstated", cancel_at, "e-r"),
        )
    )
    assert standing.headline == "covered"
    assert standing.scheduled == ()


def test_cover_expiring_within_the_proof_period_is_ending_by_expiry() -> None:
    terms = make_terms(expires_at=utc(2026, 7, 1, 7, 1))
    standing = standing_of(candidate(issued(terms)))
    assert (standing.headline, standing.end_cause, standing.days_to_end) == (
        "ending",
        "expiry",
        30,
    )
    assert [s.code for s in standing.next_steps] == ["renew"]


def test_after_a_lapse_the_seller_is_not_covered_since_the_lapse() -> None:
    lapse_at = utc(2026, 5, 20, 7, 1)
    standing = standing_of(candidate(issued(), change("lapsed", lapse_at, "e-l", "Unpaid")))
    assert standing.headline == "not_covered"
    assert standing.not_covered_since == lapse_at
    assert standing.end_cause == "lapse"
    assert [(g.start, g.end, g.cause) for g in standing.gaps] == [(lapse_at, None, "lapse")]
    assert "get_quotes" in [s.code for s in standing.next_steps]


def test_a_past_lapse_later_reinstated_is_a_past_gap() -> None:
    lapse_at, back_at = utc(2026, 3, 1, 8, 1), utc(2026, 3, 15, 7, 1)
    standing = standing_of(
        candidate(
            issued(),
            change("lapsed", lapse_at, "e-l"),
            change("reinstated", back_at, "e-r"),
        )
    )
    assert standing.headline == "covered"
    assert [(g.start, g.end, g.cause, g.policy_number) for g in standing.gaps] == [
        (lapse_at, back_at, "lapse", "GL-100")
    ]


def test_a_gap_between_two_policies_is_listed_and_overlaps_are_not_gaps() -> None:
    first = make_terms(policy_number="A-1", expires_at=utc(2026, 2, 1, 8, 1))
    second = make_terms(
        policy_number="B-2", effective_at=utc(2026, 2, 10, 8, 1), expires_at=utc(2027, 2, 1, 8, 1)
    )
    overlapping = make_terms(
        policy_number="C-3", effective_at=utc(2026, 3, 1, 8, 1), expires_at=utc(2026, 4, 1, 7, 1)
    )
    standing = standing_of(
        candidate(issued(first, event_id="a"), policy_id="a"),
        candidate(issued(second, event_id="b"), policy_id="b"),
        candidate(issued(overlapping, event_id="c"), policy_id="c"),
    )
    assert [(g.start, g.end, g.policy_number) for g in standing.gaps] == [
        (first.expires_at, second.effective_at, "A-1")
    ]


def test_a_verified_policy_that_starts_tomorrow_says_covered_from_then_and_when_it_ends() -> None:
    start = utc(2026, 6, 2, 7, 1)
    cancel_at = utc(2026, 7, 2, 7, 1)
    terms = make_terms(effective_at=start, expires_at=utc(2027, 6, 2, 7, 1))
    standing = standing_of(
        candidate(
            issued(terms),
            change("verified", NOW - timedelta(hours=1), "e-v"),
            change("cancelled", cancel_at, "e-c"),
        )
    )
    assert standing.headline == "starts"
    assert standing.starts_at == start
    assert (standing.ends_at, standing.end_cause) == (cancel_at, "cancellation")
    assert standing.starts_late is False
    assert standing.gaps == ()


def test_no_policy_and_not_required_is_not_required_with_nothing_to_do() -> None:
    standing = standing_of(required=False)
    assert standing.headline == "not_required"
    assert standing.next_steps == ()
    assert standing.comply_by is None


def test_the_standing_does_not_depend_on_the_order_of_policies() -> None:
    policies = [
        candidate(issued(make_terms(policy_number=f"P-{n}"), event_id=f"e{n}"), policy_id=f"p{n}")
        for n in range(4)
    ]
    shuffled = policies[:]
    random.Random(7).shuffle(shuffled)
    assert standing_of(*shuffled) == standing_of(*policies)


def test_the_compliance_status_reports_no_end_for_a_cancellation_reinstated_at_once() -> None:
    cancel_at = utc(2026, 7, 1, 7, 1)
    policies = [
        candidate(
            issued(),
            change("cancelled", cancel_at, "e-c"),
            change("reinstated", cancel_at, "e-r"),
        )
    ]
    status = compliance_status(
        "s-1",
        requirement(),
        RULES,
        policies,
        categories=["electronics"],
        legal_name=SELLER,
        now=NOW,
    )
    assert status.qualifying_policy is not None
    assert status.qualifying_policy.cancellation_effective_at is None


def test_a_lapse_in_effect_is_listed_as_stopping_the_policy_and_none_is_scheduled() -> None:
    lapse_at = utc(2026, 5, 20, 7, 1)
    standing = standing_of(candidate(issued(), change("lapsed", lapse_at, "e-l", "Unpaid")))
    assert [(e.cause, e.effective_at, e.reason) for e in standing.stopped] == [
        ("lapse", lapse_at, "Unpaid")
    ]
    assert standing.scheduled == ()
