"""When a policy's renewal opens and the day its cover starts (pure).

Days are calendar days in the marketplace's reference time zone, as the reminders count them
(``notifications.reminders``): a renewal opens on the local day 60 days before the one the
policy ends on, or at the first sweep after it (the service was down, the policy was recorded
late), up to the end itself.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Final

from accelerator.coverage.state import PolicyState, policy_period_from_dates
from accelerator.notifications.reminders import policy_end
from accelerator.rulesets.zones import local_date

#: How many days before a policy ends its renewal opens: the first expiry reminder's.
RENEWAL_DAYS: Final = 60


def renewal_due(state: PolicyState, timezone: str, now: datetime) -> datetime | None:
    """The end of the policy whose renewal is due at ``now``, or None.

    Promises: None unless the policy is in force at ``now`` (not cancelled, lapsed or before
    its start), its end is still to come and no cancellation or lapse on record ends it earlier
    (a policy scheduled to cancel is not renewed), and its end's local day is at most
    :data:`RENEWAL_DAYS` days away."""
    in_force, _ = state.in_force_at(now)
    end = policy_end(state, now)
    if not in_force or end is None:
        return None
    if (local_date(end, timezone) - local_date(now, timezone)).days > RENEWAL_DAYS:
        return None
    return end


def renewal_start(end: datetime, timezone: str) -> date:
    """The day a renewal's cover starts for a policy ending at ``end``: the local day of the
    end. Cover given as dates starts at 00:01 local time (DESIGN §3.2), which for a policy
    dated the same way is its end exactly; for an end earlier in the day than 00:01 it is the
    day before, so that the new cover never starts after the old one ends."""
    day = local_date(end, timezone)
    starts, _ = policy_period_from_dates(day, day + timedelta(days=1), timezone)
    return day if starts <= end else day - timedelta(days=1)


def renewal_opens(end: datetime, timezone: str) -> date:
    """The local day a renewal opens for a policy ending at ``end``."""
    return local_date(end, timezone) - timedelta(days=RENEWAL_DAYS)


__all__ = ["RENEWAL_DAYS", "renewal_due", "renewal_opens", "renewal_start"]
