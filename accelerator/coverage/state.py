"""The state of one policy, derived from its append-only, bitemporal event log (DESIGN §3.2).

Every change is an event with ``effective_at`` (when it takes effect in the world) and
``recorded_at`` (when we learned it). :func:`derive_state` replays the events known at an
instant in the order they take effect, so the state never depends on the order they arrived in.
"""

import enum
from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from itertools import pairwise
from typing import Final, Literal
from zoneinfo import ZoneInfo

import msgspec

from schemas import PolicyTerms, PolicyVerification


class EventKind(enum.StrEnum):
    """What an event does to a policy (stored as its value in ``policy_events.kind``)."""

    ISSUED = "issued"
    ENDORSED = "endorsed"
    RENEWED = "renewed"
    CANCELLED = "cancelled"
    REINSTATED = "reinstated"
    LAPSED = "lapsed"
    VERIFIED = "verified"
    VERIFICATION_REJECTED = "verification_rejected"
    # An operator decided whose insurer events reach the policy (coverage.linking). Kept in the
    # log for the audit trail; they change nothing about cover.
    LINKED = "linked"
    UNLINKED = "unlinked"


#: The kinds that record operators' bookkeeping and change nothing about cover.
BOOKKEEPING_KINDS: Final = frozenset({EventKind.LINKED, EventKind.UNLINKED})

#: Each kind by its stored text: reading an event is a dict look-up, not an enum call.
EVENT_KINDS: Final[dict[str, EventKind]] = {kind.value: kind for kind in EventKind}

# The members derive_state compares every event with, as module constants: on Python 3.11
# reading a member off its enum class costs more than the comparison itself.
_ISSUED: Final = EventKind.ISSUED
_RENEWED: Final = EventKind.RENEWED
_REINSTATED: Final = EventKind.REINSTATED
_VERIFIED: Final = EventKind.VERIFIED
_VERIFICATION_REJECTED: Final = EventKind.VERIFICATION_REJECTED
_TERMS_KINDS: Final = (EventKind.ISSUED, EventKind.ENDORSED)
_STATUS_KINDS: Final = (EventKind.CANCELLED, EventKind.LAPSED, EventKind.REINSTATED)
_PENDING: Final = PolicyVerification.PENDING_VERIFICATION
NotInForce = Literal["policy_not_in_force", "policy_cancelled"]

#: Policy dates start and end at this local time of the marketplace's reference time zone.
POLICY_DAY_START: Final = time(0, 1)


class PolicyEvent(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One change to a policy.

    ``issued`` (bound here or submitted by the seller) and ``endorsed`` carry the full
    ``terms``; ``renewed`` carries the new ``expires_at``; ``verification_rejected`` and
    ``cancelled`` may carry a ``reason``. ``occurred_at`` and ``sequence`` are the insurer's own
    account of when it happened (its event's time and per-subject number); a fact we learn first
    hand (an operator's, a seller's submission) occurred when we recorded it. Every instant must
    be timezone-aware.
    """

    event_id: str
    kind: EventKind
    effective_at: datetime
    recorded_at: datetime
    terms: PolicyTerms | None = None
    expires_at: datetime | None = None
    reason: str = ""
    occurred_at: datetime | None = None
    sequence: int | None = None

    def __post_init__(self) -> None:
        if self.effective_at.tzinfo is None or self.recorded_at.tzinfo is None:
            raise ValueError(f"event {self.event_id}: instants must be timezone-aware")
        if self.occurred_at is not None and self.occurred_at.tzinfo is None:
            raise ValueError(f"event {self.event_id}: instants must be timezone-aware")
        if self.kind in _TERMS_KINDS and self.terms is None:
            raise ValueError(f"event {self.event_id}: a {self.kind} event needs terms")
        if self.kind == _RENEWED and self.expires_at is None:
            raise ValueError(f"event {self.event_id}: a renewed event needs expires_at")


# Interval and PolicyState are structs, not frozen dataclasses: a check derives the state of
# every policy of every seller it names, and a frozen dataclass sets each field through
# object.__setattr__ (docs/performance.md, "Batch checks"). PolicyEvent and PolicyState are
# untracked by the cycle collector (gc=False): they hold immutable values and tuples of one
# another, never anything that could lead back to them, and a batch check holds thousands at
# once, each adding to the count that sets off a collection (docs/performance.md, "Batch
# decisions' CPU").
class Interval(msgspec.Struct, frozen=True):
    """A half-open span of cover, ``[start, end)``."""

    start: datetime
    end: datetime

    def contains(self, instant: datetime) -> bool:
        """True when ``start <= instant < end``."""
        return self.start <= instant < self.end


class PolicyState(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A policy as known at one instant: its terms over time, its cover and its verification.

    Built by :func:`derive_state`; every answer is about the world at the instant asked for.
    """

    events: tuple[PolicyEvent, ...]
    terms_timeline: tuple[tuple[datetime, PolicyTerms], ...]
    intervals: tuple[Interval, ...]
    status_changes: tuple[PolicyEvent, ...]
    verification: PolicyVerification
    rejection_reason: str

    @property
    def terms(self) -> PolicyTerms:
        """The terms last in effect (the latest endorsement, or the issued terms)."""
        return self.terms_timeline[-1][1]

    @property
    def period(self) -> Interval:
        """From the start of the first term to the end of the last (gaps between renewals
        included; see :meth:`in_force_at`)."""
        return Interval(self.intervals[0].start, self.intervals[-1].end)

    def terms_at(self, instant: datetime) -> PolicyTerms:
        """The terms in effect at ``instant``: the last endorsement effective at or before it,
        else the issued terms (also for instants before the policy starts)."""
        current = self.terms_timeline[0][1]
        for effective_at, terms in self.terms_timeline:
            if effective_at > instant:
                break
            current = terms
        return current

    def cancelled_by(self, instant: datetime) -> PolicyEvent | None:
        """The cancellation or lapse in effect at ``instant`` (effective at or before it and not
        reinstated since), or None."""
        latest: PolicyEvent | None = None
        for change in self.status_changes:
            if change.effective_at > instant:
                break
            latest = change
        if latest is None or latest.kind == _REINSTATED:
            return None
        return latest

    def in_force_at(self, instant: datetime) -> tuple[bool, NotInForce | None]:
        """Whether the policy covers an incident at ``instant``.

        ``(False, "policy_not_in_force")`` outside every term (a term is half-open: its end
        instant is not covered); ``(False, "policy_cancelled")`` within a term but cancelled or
        lapsed at or before ``instant`` and not reinstated since; else ``(True, None)``.
        """
        if not any(interval.contains(instant) for interval in self.intervals):
            return False, "policy_not_in_force"
        if self.cancelled_by(instant) is not None:
            return False, "policy_cancelled"
        return True, None


def policy_period_from_dates(effective: date, expiry: date, tz: str) -> tuple[datetime, datetime]:
    """The UTC instants of a policy given as calendar dates: 00:01 local time of ``tz`` on the
    effective date and on the expiry date (DESIGN §3.2). Raises ValueError when expiry is not
    after the effective date, ZoneInfoNotFoundError for an unknown zone."""
    if expiry <= effective:
        raise ValueError(f"expiry {expiry} must be after the effective date {effective}")
    zone = ZoneInfo(tz)
    return (
        datetime.combine(effective, POLICY_DAY_START, tzinfo=zone).astimezone(UTC),
        datetime.combine(expiry, POLICY_DAY_START, tzinfo=zone).astimezone(UTC),
    )


def derive_state(
    events: Iterable[PolicyEvent], *, known_at: datetime | None = None
) -> PolicyState | None:
    """The policy's state from its events, as known at ``known_at`` (everything when None).

    Promises: only events with ``recorded_at <= known_at`` count; events apply in the world's
    order (:func:`event_order`), never the wire's, so any arrival order of the same events gives
    the same state, ties included; an ``event_id`` seen twice applies once. None when no
    ``issued`` event is known.

    Semantics: the first ``issued`` event opens the term ``[terms.effective_at,
    terms.expires_at)``; a later ``issued`` or an ``endorsed`` event replaces the terms from its
    ``effective_at`` (endorsements do not move the period). ``renewed`` extends the last term
    to ``expires_at`` when it takes effect at or before the term's end (continuous cover), else
    opens a new term from its ``effective_at`` (a gap). ``cancelled``/``lapsed`` end cover
    from ``effective_at`` until a later ``reinstated``. The last ``verified`` or
    ``verification_rejected`` decides verification; without one a policy is
    ``pending_verification``.
    """
    if known_at is not None and known_at.tzinfo is None:
        raise ValueError("known_at must be timezone-aware")
    known = list(events) if known_at is None else [e for e in events if e.recorded_at <= known_at]
    if len({event.event_id for event in known}) == len(known):
        # No id told twice (nearly always): no two events tie on event_order, which ends with
        # the id, so sorting by it is the whole order. A check derives every policy of every
        # seller it names: 2.9 -> 2.0 µs a policy of two events without the steps below.
        return _replay(sorted(known, key=event_order))
    # Each event's place computed once.
    places = sorted([(event_order(e), i) for i, e in enumerate(known)])
    ordered = [known[i] for _, i in places]
    if any(a[0] == b[0] for a, b in pairwise(places)):
        # Different events reusing one id at one instant (a partner bug): break the tie by
        # their encoding, so even that cannot make the outcome depend on arrival order. Only
        # then: encoding every event of every check is costly, and ties are rare.
        ordered.sort(key=lambda e: (*event_order(e), msgspec.json.encode(e)))
    applied: list[PolicyEvent] = []
    seen: set[str] = set()
    for event in ordered:
        if event.event_id not in seen:
            seen.add(event.event_id)
            applied.append(event)
    return _replay(applied)


def over_before(events: Iterable[PolicyEvent], cutoff: datetime) -> bool:
    """Whether a policy was over before ``cutoff`` (the audit retention purge's test), from
    all its events: every one recorded before ``cutoff`` and its cover (:attr:`PolicyState.
    period`) ended before it. A policy never issued is over once all its events are old."""
    events = list(events)
    if any(event.recorded_at >= cutoff for event in events):
        return False
    state = derive_state(events)
    return state is None or state.period.end < cutoff


def event_order(event: PolicyEvent) -> tuple[datetime, datetime, int, str]:
    """Where an event stands in the world's order (DESIGN §3.2): when it takes effect, then when
    it occurred by the insurer's own account and its number in the insurer's sequence, then
    its id.

    Two events taking effect at one instant (a cancellation and a reinstatement "with no gap")
    are ordered by the insurer's clock, not by which webhook arrived first. For a fact learned
    first hand the occurrence is the recording, so there arrival is the order. Events tying on
    all of these are the insurer's one event told twice or a partner's bug; the stable id
    (derived from the partner's delivery id, not from when it came) keeps even them in one
    order whatever the arrival.
    """
    occurred = event.occurred_at or event.recorded_at
    return (event.effective_at, occurred, event.sequence or 0, event.event_id)


def _replay(events: list[PolicyEvent]) -> PolicyState | None:
    first = next((e for e in events if e.kind == _ISSUED), None)
    if first is None or first.terms is None:
        return None
    timeline: list[tuple[datetime, PolicyTerms]] = []
    intervals = [Interval(first.terms.effective_at, first.terms.expires_at)]
    status_changes: list[PolicyEvent] = []
    verification = _PENDING
    rejection_reason = ""
    for event in events:
        if event.kind in _TERMS_KINDS and event.terms is not None:
            timeline.append((event.effective_at, event.terms))
        elif event.kind == _RENEWED and event.expires_at is not None:
            last = intervals[-1]
            if event.effective_at <= last.end:
                intervals[-1] = Interval(last.start, max(last.end, event.expires_at))
            else:
                intervals.append(Interval(event.effective_at, event.expires_at))
        elif event.kind in _STATUS_KINDS:
            status_changes.append(event)
        elif event.kind == _VERIFIED:
            verification, rejection_reason = PolicyVerification.VERIFIED, ""
        elif event.kind == _VERIFICATION_REJECTED:
            verification, rejection_reason = PolicyVerification.REJECTED, event.reason
    return PolicyState(
        events=tuple(events),
        terms_timeline=tuple(timeline),
        intervals=tuple(intervals),
        status_changes=tuple(status_changes),
        verification=verification,
        rejection_reason=rejection_reason,
    )
