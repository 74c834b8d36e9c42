"""What a certificate's live link says of its policy now (pure: the state and the instant in)."""

from __future__ import annotations

from datetime import datetime

from accelerator.coverage.state import EventKind, PolicyState
from accelerator.rulesets.zones import local_date
from schemas import CertificateStatus, PolicySource, PolicyVerification

_STOPS = (EventKind.CANCELLED, EventKind.LAPSED)


def verification_of(source: PolicySource, state: PolicyState) -> PolicyVerification:
    """A policy bound here is verified (the insurer confirmed it) unless an operator rejected
    it; a submitted one as its events say (``coverage.views.render_policy`` judges the same)."""
    if source is PolicySource.BOUND and state.verification != PolicyVerification.REJECTED:
        return PolicyVerification.VERIFIED
    return state.verification


def certificate_status(
    source: PolicySource, state: PolicyState, now: datetime, timezone: str
) -> CertificateStatus:
    """The policy's status at ``now``, dates in ``timezone``.

    Promises: a cancellation or lapse in effect wins over everything but a rejection (a
    marketplace must see it the day it takes effect); a policy past its period is ``expired``;
    an unconfirmed one ``pending_verification``; one whose period has not begun
    ``not_yet_active``; otherwise ``active``, with ``cover_ends_on`` when a cancellation or
    lapse is already recorded to take effect later.
    """
    terms = state.terms_at(now)
    period = state.period
    verification = verification_of(source, state)
    stopped = state.cancelled_by(now)
    since = None
    ends_on = None
    if verification == PolicyVerification.REJECTED:
        status = "rejected"
    elif stopped is not None:
        status = "cancelled" if stopped.kind == EventKind.CANCELLED else "lapsed"
        since = local_date(stopped.effective_at, timezone)
    elif now >= period.start and not state.in_force_at(now)[0]:
        # Past the period, or between two terms (a renewal after a gap): ended with the last
        # term that ended.
        status = "expired"
        ended = max((i.end for i in state.intervals if i.end <= now), default=period.end)
        since = local_date(ended, timezone)
    elif verification == PolicyVerification.PENDING_VERIFICATION:
        status = "pending_verification"
    elif now < period.start:
        status = "not_yet_active"
    else:
        status = "active"
    if status in ("active", "not_yet_active", "pending_verification"):
        # The next change of status decides: a reinstatement recorded ahead cancels nothing.
        upcoming = [change for change in state.status_changes if change.effective_at > now]
        if upcoming and upcoming[0].kind in _STOPS and upcoming[0].effective_at < period.end:
            ends_on = local_date(upcoming[0].effective_at, timezone)
    return CertificateStatus(
        policy_number=terms.policy_number,
        insurer_name=terms.insurer_name,
        named_insured=terms.named_insured,
        status=status,  # type: ignore[arg-type]  # one of the literals, by construction
        status_since=since,
        cover_ends_on=ends_on,
        effective_date=local_date(period.start, timezone),
        expiry_date=local_date(period.end, timezone),
        timezone=timezone,
        checked_at=now,
    )
