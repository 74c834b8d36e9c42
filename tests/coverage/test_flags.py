"""Insure-after-loss flags (docs/audit.md): each fact the cover at the incident rests on is
flagged when it was recorded after the incident, and only then."""

from datetime import timedelta

import msgspec

from accelerator.coverage.flags import recorded_after_incident
from accelerator.coverage.state import EventKind, PolicyEvent, derive_state
from schemas import PolicySource
from tests.compliance.factories import change, issued, make_terms, usd, utc

INCIDENT = utc(2026, 3, 1, 18, 30)
AFTER = INCIDENT + timedelta(days=3, hours=2)
BEFORE = INCIDENT - timedelta(days=30)


def flags(*events: PolicyEvent, source: PolicySource = PolicySource.BOUND) -> list[tuple[str, str]]:
    state = derive_state(events)
    assert state is not None
    return [
        (flag.fact, flag.event_id)
        for flag in recorded_after_incident("pol_1", source, state, INCIDENT)
    ]


def test_a_policy_recorded_before_the_incident_carries_no_flag() -> None:
    assert flags(issued(recorded_at=BEFORE)) == []


def test_a_bind_recorded_after_the_incident_is_flagged_with_its_instant_and_lag() -> None:
    state = derive_state([issued(recorded_at=AFTER)])
    assert state is not None
    [flag] = recorded_after_incident("pol_1", PolicySource.BOUND, state, INCIDENT)
    assert (flag.code, flag.fact, flag.event_id) == ("recorded_after_incident", "bind", "e-issued")
    assert flag.recorded_at == AFTER
    assert flag.lag_seconds == 3 * 86400 + 2 * 3600
    assert flag.message == (
        "The bind of policy GL-100 was first recorded at 2026-03-04T20:30:00Z, "
        "3 days 2 hours after the incident."
    )


def test_a_submission_verified_after_the_incident_is_flagged_for_the_verification() -> None:
    verified = change(EventKind.VERIFIED, AFTER, event_id="e-verified")
    submitted = issued(recorded_at=BEFORE)
    assert flags(submitted, verified, source=PolicySource.SUBMITTED) == [
        ("verification", "e-verified")
    ]


def test_a_bound_policys_own_confirmation_is_not_flagged_apart_from_its_bind() -> None:
    bind = issued(event_id="b", recorded_at=AFTER)
    confirmation = change(EventKind.VERIFIED, AFTER, event_id="b.verified")
    assert flags(bind, confirmation) == [("bind", "b")]


def test_the_endorsement_in_effect_at_the_incident_is_flagged_when_recorded_after_it() -> None:
    higher = make_terms(per_occurrence_limit=usd(2_000_000))
    endorsed = change(
        EventKind.ENDORSED, utc(2026, 2, 1), event_id="e-end", recorded_at=AFTER, terms=higher
    )
    later = change(
        EventKind.ENDORSED, utc(2026, 4, 1), event_id="e-later", recorded_at=AFTER, terms=higher
    )
    assert flags(issued(recorded_at=BEFORE), endorsed, later) == [("endorsement", "e-end")]


def test_a_reinstatement_lifting_a_cancellation_before_the_incident_is_flagged() -> None:
    cancelled = change(EventKind.CANCELLED, utc(2026, 2, 1), recorded_at=BEFORE)
    reinstated = change(
        EventKind.REINSTATED, utc(2026, 2, 10), event_id="e-back", recorded_at=AFTER
    )
    assert flags(issued(recorded_at=BEFORE), cancelled, reinstated) == [("reinstatement", "e-back")]


def test_a_renewal_is_flagged_only_when_the_incident_lies_beyond_the_original_term() -> None:
    short = make_terms(expires_at=utc(2026, 2, 1))
    renewal = change(
        EventKind.RENEWED,
        utc(2026, 2, 1),
        event_id="e-renewed",
        recorded_at=AFTER,
        expires_at=utc(2027, 2, 1),
    )
    assert flags(issued(short, recorded_at=BEFORE), renewal) == [("renewal", "e-renewed")]
    # Within the original term the renewal is not what the cover rests on.
    long = msgspec.structs.replace(short, expires_at=utc(2026, 6, 1))
    assert flags(issued(long, recorded_at=BEFORE), renewal) == []
