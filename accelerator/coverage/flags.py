"""Insure-after-loss flags (DESIGN §3.2): a decision that rests on a fact first recorded after
the incident says so, for fraud review. Flags never change the decision (docs/audit.md).

Pure: the policy the decision relies on, as known when it was decided, and the incident in; the
facts it rests on that were recorded after the incident out, each with when and how long after.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Final

from accelerator.coverage.state import EventKind, PolicyEvent, PolicyState
from schemas import DecisionFlag, FlagFact, PolicySource

_TERMS: Final = (EventKind.ISSUED, EventKind.ENDORSED)
_STATUS: Final = (EventKind.CANCELLED, EventKind.LAPSED, EventKind.REINSTATED)
_VERIFICATION: Final = (EventKind.VERIFIED, EventKind.VERIFICATION_REJECTED)

_WORDS: Final[dict[FlagFact, str]] = {
    "bind": "bind",
    "submission": "submission",
    "verification": "verification",
    "endorsement": "endorsement in effect at the incident",
    "reinstatement": "reinstatement in effect at the incident",
    "renewal": "renewal that extends cover to the incident",
}


def recorded_after_incident(
    policy_id: str, source: PolicySource, state: PolicyState, incident_at: datetime
) -> list[DecisionFlag]:
    """A ``recorded_after_incident`` flag for each fact the cover at ``incident_at`` rests on
    that was recorded after it: the policy itself (its bind or submission), the verification
    that makes it count, the endorsement whose terms apply, the reinstatement that lifted a
    cancellation, a renewal without which the incident would lie outside the term."""
    # Every fact is one of the state's events: most policies were recorded long before any
    # incident checked against them, so this is the answer for nearly every decision.
    if all(event.recorded_at <= incident_at for event in state.events):
        return []
    number = state.terms.policy_number
    return [
        _flag(policy_id, number, fact, event, incident_at)
        for fact, event in _facts(source, state, incident_at)
        if event.recorded_at > incident_at
    ]


def _facts(
    source: PolicySource, state: PolicyState, incident_at: datetime
) -> Iterator[tuple[FlagFact, PolicyEvent]]:
    issued = next(e for e in state.events if e.kind == EventKind.ISSUED)
    yield ("bind" if source == PolicySource.BOUND else "submission"), issued
    verification = [e for e in state.events if e.kind in _VERIFICATION]
    # A bound policy's own verification is its bind, flagged already.
    deciding = verification[-1] if verification else None
    if (
        deciding is not None
        and deciding.kind == EventKind.VERIFIED
        and deciding.event_id != f"{issued.event_id}.verified"
    ):
        yield "verification", deciding
    in_effect = [e for e in state.events if e.kind in _TERMS and e.effective_at <= incident_at]
    if in_effect and in_effect[-1].kind == EventKind.ENDORSED:
        yield "endorsement", in_effect[-1]
    status = [e for e in state.events if e.kind in _STATUS and e.effective_at <= incident_at]
    if status and status[-1].kind == EventKind.REINSTATED:
        yield "reinstatement", status[-1]
    if issued.terms is not None and incident_at >= issued.terms.expires_at:
        for renewal in state.events:
            if renewal.kind == EventKind.RENEWED and renewal.effective_at <= incident_at:
                yield "renewal", renewal


def _flag(
    policy_id: str, number: str, fact: FlagFact, event: PolicyEvent, incident_at: datetime
) -> DecisionFlag:
    lag = int((event.recorded_at - incident_at).total_seconds())
    recorded = event.recorded_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return DecisionFlag(
        code="recorded_after_incident",
        fact=fact,
        policy_id=policy_id,
        event_id=event.event_id,
        recorded_at=event.recorded_at,
        lag_seconds=lag,
        message=(
            f"The {_WORDS[fact]} of policy {number} was first recorded at {recorded}, "
            f"{_duration(lag)} after the incident."
        ),
    )


def _duration(seconds: int) -> str:
    """``seconds`` in the two largest units people read: "3 days 4 hours", "5 minutes"."""
    parts: list[str] = []
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {unit}{'' if count == 1 else 's'}")
    return " ".join(parts[:2]) or "0 seconds"
