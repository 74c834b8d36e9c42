"""What the coverage page says first: is the seller covered now, until when, and why it ends.

Pure: the seller's policies (their derived states), the compliance status (which already judged
them against the marketplace's rules), the instant and the marketplace's reference time zone
in; a small view model out. The page never says "covered" without saying when and why the cover
ends when an end is on record (a cancellation or lapse scheduled, or an expiry soon).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final, Literal

from accelerator.compliance.standing import days_until
from accelerator.coverage.decision import PolicyCandidate
from accelerator.coverage.state import EventKind, PolicyEvent, PolicyState
from accelerator.rulesets.zones import local_date
from schemas import ComplianceStatus, PolicyStanding, PolicyVerification

Headline = Literal["covered", "ending", "starts", "not_covered", "not_required"]
EndCause = Literal["cancellation", "lapse", "expiry"]

_ENDING: Final = (EventKind.CANCELLED, EventKind.LAPSED)
# Only these gaps keep a policy that has not started yet from counting: it starts later.
_WAITING_ONLY: Final = frozenset({"policy_not_in_force"})


@dataclass(frozen=True)
class ScheduledEnd:
    """A cancellation or lapse on record that takes effect after now."""

    policy_id: str
    policy_number: str
    insurer_name: str
    cause: EndCause
    effective_at: datetime
    reason: str


@dataclass(frozen=True)
class CoverGap:
    """A period without any policy in force, since cover first began: ``end`` is None while it
    lasts; ``cause`` says what began it (the cancellation, lapse or expiry of a policy)."""

    start: datetime
    end: datetime | None
    cause: EndCause
    policy_number: str


@dataclass(frozen=True)
class NextStep:
    """One thing the seller can do: ``code`` is stable, ``href`` a page under /app or None."""

    code: str
    text: str
    href: str | None = None


@dataclass(frozen=True)
class CoverageStanding:
    """The seller's standing as the page shows it first.

    ``headline``: ``covered`` (qualifying cover, no end in sight), ``ending`` (qualifying cover
    now, ending on ``ends_at`` because of ``end_cause``), ``starts`` (a qualifying policy starts
    on ``starts_at``; ``starts_late`` when that is after the deadline), ``not_covered``
    (required and no qualifying cover) or ``not_required``.
    ``scheduled`` holds the cancellations and lapses still to come, ``stopped`` those in effect
    now within a policy's term. ``continued_by`` is the policy that will qualify from the
    moment the current cover expires (a renewal bought, say): there is no gap at ``ends_at``.
    Day counts are calendar days in the marketplace's time zone (0: today).
    """

    headline: Headline
    policy_id: str | None
    insurer_name: str | None
    policy_number: str | None
    starts_at: datetime | None
    ends_at: datetime | None
    end_cause: EndCause | None
    end_reason: str
    days_to_end: int | None
    comply_by: date | None
    days_to_deadline: int | None
    not_covered_since: datetime | None
    starts_late: bool
    scheduled: tuple[ScheduledEnd, ...]
    stopped: tuple[ScheduledEnd, ...]
    gaps: tuple[CoverGap, ...]
    next_steps: tuple[NextStep, ...]
    continued_by: PolicyStanding | None = None


def coverage_standing(
    policies: Sequence[PolicyCandidate],
    status: ComplianceStatus,
    *,
    now: datetime,
    timezone: str,
) -> CoverageStanding:
    """The seller's standing at ``now``.

    Promises: ``covered`` only when the status has a qualifying policy in force and neither a
    cancellation nor a lapse of it is on record for later, nor does it expire within the
    marketplace's proof period without another policy taking over (``status.expiring_soon``);
    otherwise that cover is ``ending``, with the first of those ends. A scheduled end is listed
    for every policy (a reinstatement recorded after it cancels it). Gaps are the periods since
    cover first began when no policy at all was in force, up to now. The result never depends
    on the order of ``policies``.
    """
    states = {c.policy_id: c.state for c in sorted(policies, key=lambda c: c.policy_id) if c.state}
    scheduled = tuple(
        sorted(
            (end for pid, state in states.items() if (end := _scheduled_end(pid, state, now))),
            key=lambda e: (e.effective_at, e.policy_id),
        )
    )
    gaps = _gaps(states, now)
    stopped = tuple(
        sorted(
            (end for pid, state in states.items() if (end := _stopped(pid, state, now))),
            key=lambda e: (e.effective_at, e.policy_id),
        )
    )
    requirement = status.requirement
    required = requirement.required
    comply_by = requirement.comply_by if required else None
    days_to_deadline = status.days_until_deadline if required else None
    qualifying = status.qualifying_policy

    def standing(**fields: Any) -> CoverageStanding:
        return CoverageStanding(
            comply_by=comply_by,
            days_to_deadline=days_to_deadline,
            scheduled=scheduled,
            stopped=stopped,
            gaps=gaps,
            **fields,
        )

    if qualifying is not None:
        state = states.get(qualifying.policy_id)
        cause: EndCause = "expiry"
        reason = ""
        if qualifying.cancellation_effective_at is not None and state is not None:
            change = _change_at(state, qualifying.cancellation_effective_at)
            cause = "lapse" if change and change.kind == EventKind.LAPSED else "cancellation"
            reason = change.reason if change else ""
        days_to_end = days_until(qualifying.expires_at, now, timezone)
        ending = qualifying.cancellation_effective_at is not None or status.expiring_soon
        continued_by = (
            successor(status.policies, qualifying.policy_id, qualifying.expires_at)
            if cause == "expiry"
            else None
        )
        headline: Headline = "ending" if ending else "covered"
        return standing(
            headline=headline,
            policy_id=qualifying.policy_id,
            insurer_name=qualifying.insurer_name,
            policy_number=qualifying.policy_number,
            starts_at=qualifying.effective_at,
            ends_at=qualifying.expires_at,
            end_cause=cause,
            end_reason=reason,
            days_to_end=days_to_end,
            not_covered_since=None,
            starts_late=False,
            next_steps=(
                (
                    NextStep(
                        "nothing_to_do",
                        "Nothing to do now: your renewal takes over when this policy ends.",
                    ),
                )
                if continued_by is not None
                else _steps_when_covered(headline, cause, qualifying.insurer_name, days_to_end)
            ),
            continued_by=continued_by,
        )

    upcoming = _upcoming(status.policies, now)
    if upcoming is not None:
        state = states.get(upcoming.policy_id)
        end = _scheduled_end(upcoming.policy_id, state, now) if state else None
        ends_at = end.effective_at if end else upcoming.expires_at
        cause = end.cause if end else "expiry"
        return standing(
            headline="starts",
            policy_id=upcoming.policy_id,
            insurer_name=upcoming.insurer_name,
            policy_number=upcoming.policy_number,
            starts_at=upcoming.effective_at,
            ends_at=ends_at,
            end_cause=cause,
            end_reason=end.reason if end else "",
            days_to_end=days_until(ends_at, now, timezone),
            not_covered_since=None,
            starts_late=comply_by is not None
            and local_date(upcoming.effective_at, timezone) > comply_by,
            next_steps=_steps_when_starting(end),
        )

    ongoing = next((g for g in gaps if g.end is None or g.end > now), None)
    return standing(
        headline="not_covered" if required else "not_required",
        policy_id=None,
        insurer_name=None,
        policy_number=None,
        starts_at=None,
        ends_at=None,
        end_cause=ongoing.cause if ongoing else None,
        end_reason="",
        days_to_end=None,
        not_covered_since=ongoing.start if ongoing else None,
        starts_late=False,
        next_steps=_steps_when_not_covered(status, required),
    )


def _change_at(state: PolicyState, instant: datetime) -> PolicyEvent | None:
    return next(
        (c for c in state.status_changes if c.effective_at == instant and c.kind in _ENDING),
        None,
    )


def _scheduled_end(policy_id: str, state: PolicyState, now: datetime) -> ScheduledEnd | None:
    """The first cancellation or lapse taking effect after ``now`` that is not undone by a
    reinstatement effective at or before it, within the policy's period."""
    for change in state.status_changes:
        if change.effective_at <= now or change.kind not in _ENDING:
            continue
        if change.effective_at >= state.period.end:
            return None
        if state.cancelled_by(change.effective_at) is None:
            continue  # reinstated with effect from the same instant
        terms = state.terms_at(change.effective_at)
        return ScheduledEnd(
            policy_id=policy_id,
            policy_number=terms.policy_number,
            insurer_name=terms.insurer_name,
            cause=_cause(change.kind),
            effective_at=change.effective_at,
            reason=change.reason,
        )
    return None


def _stopped(policy_id: str, state: PolicyState, now: datetime) -> ScheduledEnd | None:
    """The cancellation or lapse in effect at ``now``, while the policy's term would run."""
    change = state.cancelled_by(now)
    if change is None or not any(interval.contains(now) for interval in state.intervals):
        return None
    terms = state.terms_at(change.effective_at)
    return ScheduledEnd(
        policy_id=policy_id,
        policy_number=terms.policy_number,
        insurer_name=terms.insurer_name,
        cause=_cause(change.kind),
        effective_at=change.effective_at,
        reason=change.reason,
    )


def _cause(kind: str) -> EndCause:
    return "lapse" if kind == EventKind.LAPSED else "cancellation"


def _spans(state: PolicyState) -> list[tuple[datetime, datetime, EndCause]]:
    """The periods the policy is in force, each with what ends it."""
    spans: list[tuple[datetime, datetime, EndCause]] = []
    for interval in state.intervals:
        on_since = interval.start if state.cancelled_by(interval.start) is None else None
        for change in state.status_changes:
            if not interval.start < change.effective_at < interval.end:
                continue
            if change.kind in _ENDING:
                if on_since is not None:
                    spans.append((on_since, change.effective_at, _cause(change.kind)))
                    on_since = None
            elif on_since is None:  # reinstated
                on_since = change.effective_at
        if on_since is not None:
            spans.append((on_since, interval.end, "expiry"))
    return spans


def _gaps(states: dict[str, PolicyState], now: datetime) -> tuple[CoverGap, ...]:
    spans = sorted(
        (start, end, cause, state.terms_at(start).policy_number)
        for state in states.values()
        for start, end, cause in _spans(state)
    )
    if not spans or spans[0][0] >= now:
        return ()
    gaps: list[CoverGap] = []
    _, covered_until, cause, number = spans[0]
    for start, end, next_cause, next_number in spans[1:]:
        if start > covered_until and covered_until < now:
            gaps.append(CoverGap(start=covered_until, end=start, cause=cause, policy_number=number))
        if end > covered_until:
            covered_until, cause, number = end, next_cause, next_number
        if start >= now:
            break
    if covered_until <= now:
        gaps.append(CoverGap(start=covered_until, end=None, cause=cause, policy_number=number))
    return tuple(gaps)


def successor(
    policies: Sequence[PolicyStanding], policy_id: str, ends_at: datetime
) -> PolicyStanding | None:
    """The verified policy other than ``policy_id`` whose term covers the instant ``ends_at``
    (the first instant after a half-open term ending then) and that will qualify once it has
    started: the cover that continues without a gap."""
    return next(
        (
            p
            for p in policies
            if p.policy_id != policy_id
            and p.verification == PolicyVerification.VERIFIED
            and p.effective_at <= ends_at < p.expires_at
            and {g.code for g in p.gaps} <= _WAITING_ONLY
        ),
        None,
    )


def _upcoming(policies: Sequence[PolicyStanding], now: datetime) -> PolicyStanding | None:
    """The earliest policy that will qualify once its term begins: verified, starting later,
    and short only of having started."""
    waiting = [
        p
        for p in policies
        if p.effective_at > now
        and p.verification == PolicyVerification.VERIFIED
        and {g.code for g in p.gaps} <= _WAITING_ONLY
    ]
    return min(waiting, key=lambda p: (p.effective_at, p.policy_id), default=None)


_QUOTES: Final = "/app/quotes"
_CERTIFICATES: Final = "/app/certificates"


def _steps_when_covered(
    headline: Headline, cause: EndCause, insurer: str, days_to_end: int
) -> tuple[NextStep, ...]:
    if headline == "covered":
        return (
            NextStep(
                "nothing_to_do",
                "Nothing to do now. Come back before your policy ends to renew it.",
            ),
        )
    steps = []
    if cause == "expiry":
        steps.append(
            NextStep(
                "renew",
                f"Renew soon: your cover ends in {_days(days_to_end)}. Get quotes for a policy "
                "that starts when this one ends.",
                _QUOTES,
            )
        )
    else:
        steps.append(
            NextStep(
                "replace",
                "Get quotes and buy a policy that starts by the day your cover ends, so there "
                "is no gap.",
                _QUOTES,
            )
        )
        steps.append(
            NextStep(
                "ask_insurer",
                f"If you did not expect this {cause}, contact {insurer}: a {cause} can be "
                "reversed (reinstated) by the insurer.",
            )
        )
    return tuple(steps)


def _steps_when_starting(end: ScheduledEnd | None) -> tuple[NextStep, ...]:
    if end is not None:
        return (
            NextStep(
                "replace",
                "Get quotes and buy a policy that starts by the day this cover ends, so there "
                "is no gap.",
                _QUOTES,
            ),
        )
    return (NextStep("wait", "Nothing to do: your cover starts by itself."),)


def _steps_when_not_covered(status: ComplianceStatus, required: bool) -> tuple[NextStep, ...]:
    codes = {g.code for g in status.gaps}
    steps = []
    if "policy_unverified" in codes and all(
        p.verification == PolicyVerification.PENDING_VERIFICATION
        for p in status.policies
        if any(g.code == "policy_unverified" for g in p.gaps)
    ):
        steps.append(
            NextStep(
                "wait_verification",
                "A policy you sent us is waiting to be verified with its insurer; it counts "
                "once it is.",
            )
        )
    if required:
        steps.append(
            NextStep(
                "get_quotes",
                "Get quotes and buy a policy that meets the marketplace's requirements.",
                _QUOTES,
            )
        )
        steps.append(
            NextStep(
                "upload_proof",
                "Already insured elsewhere? Send us your certificate of insurance so it can be "
                "verified.",
                _CERTIFICATES,
            )
        )
    return tuple(steps)


def _days(count: int) -> str:
    return "1 day" if abs(count) == 1 else f"{abs(count)} days"
