"""Policy state from the bitemporal event log: periods, cancellations, renewals, replay."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from accelerator.coverage import PolicyEvent, derive_state, policy_period_from_dates
from accelerator.coverage.state import EventKind, PolicyState
from tests.compliance.factories import US_TZ, change, issued, make_terms, usd, utc

MINUTE = timedelta(minutes=1)
START, END = policy_period_from_dates(date(2026, 1, 1), date(2027, 1, 1), US_TZ)


def state_of(*events: PolicyEvent, known_at: datetime | None = None):  # type: ignore[no-untyped-def]
    state = derive_state(events, known_at=known_at)
    assert state is not None
    return state


def test_policy_dates_start_and_end_at_one_minute_past_midnight_local_time() -> None:
    assert policy_period_from_dates(date(2026, 1, 1), date(2026, 7, 1), US_TZ) == (
        utc(2026, 1, 1, 8, 1),  # PST, UTC-8
        utc(2026, 7, 1, 7, 1),  # PDT, UTC-7
    )
    assert policy_period_from_dates(date(2026, 1, 1), date(2027, 1, 1), "Asia/Tokyo")[0] == utc(
        2025, 12, 31, 15, 1
    )


def test_a_policy_expiring_today_covers_midnight_but_not_one_minute_past() -> None:
    state = state_of(issued())
    los_angeles = ZoneInfo(US_TZ)
    assert state.in_force_at(datetime(2027, 1, 1, 0, 0, tzinfo=los_angeles)) == (True, None)
    assert state.in_force_at(datetime(2027, 1, 1, 0, 1, tzinfo=los_angeles)) == (
        False,
        "policy_not_in_force",
    )


def test_a_policy_starting_tomorrow_is_not_in_force_today() -> None:
    state = state_of(issued())
    assert state.in_force_at(START - MINUTE) == (False, "policy_not_in_force")
    assert state.in_force_at(START) == (True, None)


def test_an_incident_one_minute_before_a_cancellation_is_covered_and_at_or_after_it_is_not() -> (
    None
):
    cancelled_at = utc(2026, 3, 1, 12)
    state = state_of(issued(), change("cancelled", cancelled_at))
    assert state.in_force_at(cancelled_at - MINUTE) == (True, None)
    assert state.in_force_at(cancelled_at) == (False, "policy_cancelled")
    assert state.in_force_at(cancelled_at + MINUTE) == (False, "policy_cancelled")


def test_a_lapse_ends_cover_like_a_cancellation() -> None:
    state = state_of(issued(), change("lapsed", utc(2026, 6, 1)))
    assert state.in_force_at(utc(2026, 6, 2)) == (False, "policy_cancelled")


def test_reinstatement_restores_cover_from_its_effective_time() -> None:
    state = state_of(
        issued(), change("cancelled", utc(2026, 3, 1)), change("reinstated", utc(2026, 3, 10))
    )
    assert state.in_force_at(utc(2026, 3, 5)) == (False, "policy_cancelled")
    assert state.in_force_at(utc(2026, 3, 10)) == (True, None)


def test_after_expiry_the_reason_is_not_in_force_even_if_cancelled() -> None:
    state = state_of(issued(), change("cancelled", utc(2026, 3, 1)))
    assert state.in_force_at(END + MINUTE) == (False, "policy_not_in_force")


def test_renewal_without_a_gap_keeps_cover_continuous() -> None:
    new_end = policy_period_from_dates(date(2027, 1, 1), date(2028, 1, 1), US_TZ)[1]
    state = state_of(issued(), change("renewed", END, expires_at=new_end))
    assert state.in_force_at(END - MINUTE) == (True, None)
    assert state.in_force_at(END) == (True, None)
    assert (state.period.start, state.period.end) == (START, new_end)
    assert state.in_force_at(new_end) == (False, "policy_not_in_force")


def test_renewal_after_a_gap_leaves_the_gap_uncovered() -> None:
    renewed_from = END + timedelta(days=10)
    state = state_of(
        issued(), change("renewed", renewed_from, expires_at=renewed_from + timedelta(days=365))
    )
    assert state.in_force_at(END + timedelta(days=5)) == (False, "policy_not_in_force")
    assert state.in_force_at(renewed_from) == (True, None)


def test_an_endorsement_changes_the_terms_from_its_effective_time() -> None:
    endorsed_at = utc(2026, 6, 1)
    higher = make_terms(per_occurrence_limit=usd(2_000_000))
    state = state_of(issued(), change("endorsed", endorsed_at, terms=higher))
    assert state.terms_at(endorsed_at - MINUTE).per_occurrence_limit == usd(1_000_000)
    assert state.terms_at(endorsed_at).per_occurrence_limit == usd(2_000_000)
    assert state.terms_at(START - timedelta(days=30)).per_occurrence_limit == usd(1_000_000)
    assert state.terms == higher


def test_known_at_ignores_events_recorded_later() -> None:
    backdated = change("cancelled", utc(2026, 3, 1), recorded_at=utc(2026, 3, 20))
    incident = utc(2026, 3, 5)
    assert state_of(issued(), backdated, known_at=utc(2026, 3, 10)).in_force_at(incident) == (
        True,
        None,
    )
    assert state_of(issued(), backdated, known_at=utc(2026, 3, 20)).in_force_at(incident) == (
        False,
        "policy_cancelled",
    )
    assert derive_state([issued()], known_at=utc(2025, 1, 1)) is None


def test_a_duplicated_event_is_applied_once() -> None:
    reinstated = change("reinstated", utc(2026, 3, 10))
    state = state_of(issued(), change("cancelled", utc(2026, 3, 1)), reinstated, reinstated)
    assert len(state.events) == 3


def test_two_different_events_reusing_one_id_at_one_instant_apply_alike_in_either_order() -> None:
    # A partner bug: a cancellation and a reinstatement sent under one id, for one instant.
    cancelled = change("cancelled", utc(2026, 3, 1), event_id="partner-7")
    reinstated = change("reinstated", utc(2026, 3, 1), event_id="partner-7")
    one_way = state_of(issued(), cancelled, reinstated)
    other_way = state_of(issued(), reinstated, cancelled)
    assert one_way == other_way
    assert len(one_way.events) == 2


def test_without_an_issued_event_there_is_no_policy() -> None:
    assert derive_state([change("cancelled", utc(2026, 3, 1))]) is None


def test_verification_follows_the_last_verification_event() -> None:
    assert state_of(issued()).verification == "pending_verification"
    assert state_of(issued(), change("verified", utc(2026, 1, 5))).verification == "verified"
    rejected = state_of(
        issued(),
        change("verified", utc(2026, 1, 5)),
        change("verification_rejected", utc(2026, 1, 6), reason="certificate forged"),
    )
    assert (rejected.verification, rejected.rejection_reason) == ("rejected", "certificate forged")


HISTORY = [
    issued(),
    change("endorsed", utc(2026, 5, 1), terms=make_terms(deductible=usd(5_000))),
    change("cancelled", utc(2026, 3, 1, 12), recorded_at=utc(2026, 4, 2)),
    change("reinstated", utc(2026, 3, 1, 12), recorded_at=utc(2026, 4, 3)),
    change("cancelled", utc(2026, 8, 1)),
    change("reinstated", utc(2026, 8, 15)),
    change("renewed", END, expires_at=END + timedelta(days=365)),
    change("verified", utc(2026, 1, 2)),
]
PROBES = [
    START - MINUTE,
    START,
    utc(2026, 3, 1, 11, 59),
    utc(2026, 3, 1, 12),
    utc(2026, 8, 10),
    END,
    END + timedelta(days=365),
]


@given(
    order=st.permutations(HISTORY),
    repeats=st.lists(st.sampled_from(HISTORY), max_size=4),
    known_at=st.sampled_from([None, utc(2026, 4, 2, 12), utc(2026, 1, 1)]),
)
def test_any_arrival_order_of_the_events_gives_the_same_state(
    order: list[PolicyEvent], repeats: list[PolicyEvent], known_at: datetime | None
) -> None:
    expected = derive_state(HISTORY, known_at=known_at)
    actual = derive_state([*order, *repeats], known_at=known_at)
    assert actual == expected
    assert actual is not None
    assert [actual.in_force_at(t) for t in PROBES] == [expected.in_force_at(t) for t in PROBES]  # type: ignore[union-attr]


# --- ties: events taking effect at one instant keep the insurer's order, not the wire's -----

NO_GAP = utc(2026, 3, 1, 12)


def arrived(events: list[PolicyEvent]) -> list[PolicyEvent]:
    """The events as recorded when they arrive in this order, an hour apart."""
    return [
        msgspec.structs.replace(event, recorded_at=utc(2026, 3, 2) + timedelta(hours=position))
        for position, event in enumerate(events)
    ]


def answers(state: PolicyState | None) -> list[object]:
    """What a coverage decision can read from a state, at every probe."""
    assert state is not None
    return [
        state.verification,
        *(state.in_force_at(t) for t in [*PROBES, NO_GAP, NO_GAP + MINUTE]),
        *(getattr(state.cancelled_by(t), "kind", None) for t in [NO_GAP, NO_GAP + MINUTE]),
    ]


def test_a_cancellation_and_a_reinstatement_with_no_gap_follow_the_insurer_not_the_arrival() -> (
    None
):
    cancelled = change(
        "cancelled", NO_GAP, event_id="harbor:msg-1:0", occurred_at=utc(2026, 2, 27), sequence=7
    )
    reinstated = change(
        "reinstated", NO_GAP, event_id="harbor:msg-2:0", occurred_at=utc(2026, 2, 28), sequence=8
    )
    for order in ([cancelled, reinstated], [reinstated, cancelled]):
        state = state_of(issued(), *arrived(order))
        assert state.in_force_at(NO_GAP) == (True, None)
        assert state.cancelled_by(NO_GAP + MINUTE) is None
    # The other way round in the insurer's account: reinstated first, then cancelled.
    earlier = msgspec.structs.replace(reinstated, occurred_at=utc(2026, 2, 26))
    for order in ([cancelled, earlier], [earlier, cancelled]):
        assert state_of(issued(), *arrived(order)).in_force_at(NO_GAP) == (
            False,
            "policy_cancelled",
        )


def test_at_one_occurrence_time_the_insurer_sequence_decides() -> None:
    at = utc(2026, 2, 27, 9)
    cancelled = change("cancelled", NO_GAP, event_id="z", occurred_at=at, sequence=2)
    reinstated = change("reinstated", NO_GAP, event_id="a", occurred_at=at, sequence=1)
    for order in ([cancelled, reinstated], [reinstated, cancelled]):
        assert state_of(issued(), *arrived(order)).in_force_at(NO_GAP)[1] == "policy_cancelled"


STATUS_KINDS: list[EventKind] = [
    EventKind.CANCELLED,
    EventKind.REINSTATED,
    EventKind.LAPSED,
    EventKind.VERIFIED,
    EventKind.VERIFICATION_REJECTED,
]
# Few values, so that the generated events tie on effective instant, on occurrence time and on
# sequence, alone and together.
SHARED_EFFECTIVE = [NO_GAP, utc(2026, 8, 1)]
SHARED_OCCURRENCE = [None, utc(2026, 2, 27), utc(2026, 2, 28)]
SHARED_SEQUENCE = [None, 1, 2]


@st.composite
def tied_events(draw: st.DrawFn) -> list[PolicyEvent]:
    specs = draw(
        st.lists(
            st.tuples(
                st.sampled_from(STATUS_KINDS),
                st.sampled_from(SHARED_EFFECTIVE),
                st.sampled_from(SHARED_OCCURRENCE),
                st.sampled_from(SHARED_SEQUENCE),
            ),
            min_size=2,
            max_size=6,
        )
    )
    return [
        change(
            kind,
            effective,
            event_id=f"harbor:msg-{index}:0",
            reason=f"reason {index}",
            occurred_at=occurred,
            sequence=sequence,
        )
        for index, (kind, effective, occurred, sequence) in enumerate(specs)
    ]


@given(events=tied_events(), data=st.data())
def test_every_arrival_order_of_events_sharing_an_effective_instant_gives_one_state(
    events: list[PolicyEvent], data: st.DataObject
) -> None:
    order = data.draw(st.permutations(events))
    # Recorded as they arrive; the ones with no insurer occurrence time keep theirs, since for
    # a fact learned first hand the recording is the occurrence.
    first_hand = {e.event_id: e for e in events if e.occurred_at is None}
    as_arrived = [
        first_hand.get(e.event_id, recorded)
        for e, recorded in zip(order, arrived(order), strict=True)
    ]
    expected = answers(derive_state([issued(), *events]))
    assert answers(derive_state([issued(), *as_arrived])) == expected
