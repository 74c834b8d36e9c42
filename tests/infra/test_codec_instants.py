"""Stored instants read back as aware UTC datetimes, however the driver hands them over; and a
plain statement writes an instant on SQLite exactly as SQLAlchemy's UtcDateTime column writes
it, for any aware instant in any offset, so that stored instants compare as text and read back
through the ORM unchanged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accelerator.infra.codec import instant, stored_instant


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        # SQLite: naive UTC text, as UtcDateTime writes it.
        ("2026-03-04 05:06:07.123456", datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)),
        ("2026-03-04 05:06:07", datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)),
        ("2026-03-04", datetime(2026, 3, 4, tzinfo=UTC)),
        # Text that names its offset keeps the instant it names.
        ("2026-03-04T05:06:07+02:00", datetime(2026, 3, 4, 3, 6, 7, tzinfo=UTC)),
        # asyncpg: aware datetimes, in UTC or another zone.
        (datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC), datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)),
        (
            datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone(timedelta(hours=-5))),
            datetime(2026, 3, 4, 10, 6, 7, tzinfo=UTC),
        ),
        (datetime(2026, 3, 4, 5, 6, 7), datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)),
    ],
)
def test_a_stored_instant_reads_back_as_the_same_instant_in_utc(
    stored: datetime | str, expected: datetime
) -> None:
    read = instant(stored)
    assert read == expected
    assert read.utcoffset() == timedelta(0)
    assert read.isoformat() == expected.isoformat()


def test_an_instant_written_for_sqlite_reads_back_unchanged() -> None:
    at = datetime(2026, 12, 7, 10, 0, 0, 1, tzinfo=UTC)
    assert instant(stored_instant(at, sqlite=True)) == at


_OFFSETS = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
# Instants whose UTC reading still has a four-digit year.
_INSTANTS = st.datetimes(
    min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=_OFFSETS | st.just(UTC)
)


@given(_INSTANTS)
def test_sqlite_text_is_naive_utc_with_microseconds(value: datetime) -> None:
    text = stored_instant(value, sqlite=True)
    assert text == value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    assert instant(text) == value


def test_postgresql_gets_the_instant_itself() -> None:
    value = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    assert stored_instant(value, sqlite=False) is value
