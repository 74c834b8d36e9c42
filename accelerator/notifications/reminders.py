"""Time-based reminders (pure): which threshold a sweep announces, and the events it builds.

A reminder counts calendar days in the marketplace's reference time zone, from today's local
date to the local date the reminder counts to (a policy's expiry, a comply-by date): "7 days
before" is the local day seven days before that date, whatever the hour and across daylight
saving changes, as the seller reads a date.

Each (kind, subject, threshold) is dealt with once ever (``notification_reminders``). A
threshold is *passed* when the days left are at most it (and the date is not past). A sweep that
finds several passed thresholds not yet dealt with (the service was down, or the subject was
recorded late) announces only the most urgent of them, the smallest, and marks the others as
skipped: a seller 20 days from the end hears "30 days" once, not "60" and "30" together.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final, Literal

from accelerator.coverage.state import PolicyState
from accelerator.notifications.outbox import new_event_id
from schemas import (
    ComplianceDeadline,
    ComplianceDeadlineNotification,
    PolicyExpiring,
    PolicyExpiringNotification,
    PolicyVerification,
)

POLICY_EXPIRING: Final = "policy.expiring"
COMPLIANCE_DEADLINE: Final = "compliance.deadline"
EXPIRY_THRESHOLDS: Final[tuple[Literal[60, 30, 7], ...]] = (60, 30, 7)
DEADLINE_THRESHOLDS: Final[tuple[Literal[30, 7], ...]] = (30, 7)


@dataclass(frozen=True)
class Due:
    """What a sweep does for one subject: announce ``announce`` (None: nothing) and mark every
    threshold in ``mark`` (``announce`` included) as dealt with."""

    announce: int | None
    mark: tuple[int, ...]


NOTHING: Final = Due(None, ())


def due_reminder(days_left: int, thresholds: Sequence[int], marked: Collection[int]) -> Due:
    """The reminder due when ``days_left`` calendar days remain, given the thresholds already
    ``marked``.

    Promises: nothing when the date is past (``days_left`` < 0) or no passed threshold is
    unmarked; otherwise every passed unmarked threshold is marked and the smallest of them is
    announced, unless a smaller one was already marked (a later reminder went out: an earlier
    one now would only confuse). So a subject swept any number of times, in any pattern of
    downtime, announces each threshold at most once and never a less urgent one after a more
    urgent one."""
    if days_left < 0:
        return NOTHING
    passed = sorted(t for t in thresholds if days_left <= t and t not in marked)
    if not passed:
        return NOTHING
    most_urgent = passed[0]
    announce = most_urgent if all(most_urgent < m for m in marked) else None
    return Due(announce, tuple(passed))


def policy_end(state: PolicyState, now: datetime) -> datetime | None:
    """When the policy's cover runs out by expiry, if it is still to come: the end of its last
    term (a ``renewed`` event moves it). None when it has already ended, or when a cancellation
    or lapse on record ends cover at or before then (that is announced as such, not as an
    expiry)."""
    end = state.period.end
    if end <= now or state.verification == PolicyVerification.REJECTED:
        return None
    if state.cancelled_by(end - timedelta(microseconds=1)) is not None:
        return None
    return end


def subject(key: str, day: date) -> str:
    """A reminder's subject: what it is about and the date it counts to."""
    return f"{key}@{day.isoformat()}"


def expiring_event(
    *,
    policy_id: str,
    seller_id: str,
    insurer_name: str,
    policy_number: str,
    expires_at: datetime,
    days_before: Literal[60, 30, 7],
    now: datetime,
    renewal_quote_request_id: str | None = None,
) -> PolicyExpiringNotification:
    return PolicyExpiringNotification(
        id=new_event_id(),
        timestamp=now,
        data=PolicyExpiring(
            policy_id=policy_id,
            seller_id=seller_id,
            insurer_name=insurer_name,
            policy_number=policy_number,
            expires_at=expires_at,
            days_before=days_before,
            renewal_quote_request_id=renewal_quote_request_id,
        ),
    )


def deadline_event(
    *, seller_id: str, marketplace: str, comply_by: date, days_before: Literal[30, 7], now: datetime
) -> ComplianceDeadlineNotification:
    return ComplianceDeadlineNotification(
        id=new_event_id(),
        timestamp=now,
        data=ComplianceDeadline(
            seller_id=seller_id,
            marketplace=marketplace,
            comply_by=comply_by,
            days_before=days_before,
        ),
    )


__all__ = [
    "COMPLIANCE_DEADLINE",
    "DEADLINE_THRESHOLDS",
    "EXPIRY_THRESHOLDS",
    "NOTHING",
    "POLICY_EXPIRING",
    "Due",
    "deadline_event",
    "due_reminder",
    "expiring_event",
    "policy_end",
    "subject",
]
