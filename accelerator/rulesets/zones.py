"""Wall-clock time in a marketplace's reference time zone, for every instant Python can hold.

What clients and insurers send lies between 1970 and 2200 (``schemas._bounds``), but a stored
value written before those bounds existed may lie in year 1 or 9999, where ``astimezone`` raises
OverflowError as soon as a zone's offset would carry it past ``datetime.min`` or ``max``. Every
read that turns a stored instant into a local date or time goes through here, so such a value
is shown and judged as the nearest instant that does not overflow, instead of failing the read.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

# No zone is more than a day off UTC.
_EARLIEST: Final = datetime.min.replace(tzinfo=UTC) + timedelta(days=1)
_LATEST: Final = datetime.max.replace(tzinfo=UTC) - timedelta(days=1)


def local_time(instant: datetime, timezone: str) -> datetime:
    """``instant`` on the wall clock of ``timezone`` (an aware datetime); total."""
    zone = ZoneInfo(timezone)
    try:
        return instant.astimezone(zone)
    except OverflowError:  # year 1 or 9999, never a value within the contract's bounds
        return min(max(instant, _EARLIEST), _LATEST).astimezone(zone)


def local_date(instant: datetime, timezone: str) -> date:
    """The calendar date at ``instant`` in ``timezone``; total."""
    return local_time(instant, timezone).date()
