"""How a plain statement writes an instant on SQLite (accelerator/infra/codec.py): exactly the
text SQLAlchemy's UtcDateTime column writes, for any aware instant in any offset, so that stored
instants compare as text and read back through the ORM unchanged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from accelerator.infra.codec import instant, stored_instant

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
