"""Settings that are durations or periods refuse values the service cannot run with: a start-up
error naming the setting both ways, rather than a worker failing every claim later."""

from __future__ import annotations

import pytest

from accelerator.settings import SettingsError, load_settings


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "0", "-1", "86401", "1e400"])
@pytest.mark.parametrize(
    "name", ["INBOX_LEASE_SECONDS", "QUOTE_DEADLINE_SECONDS", "HEARTBEAT_SECONDS"]
)
def test_a_duration_must_be_positive_finite_and_at_most_a_day(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({f"ACCELERATOR_{name}": value})
    assert f"{name.lower()} (ACCELERATOR_{name})" in str(raised.value)


@pytest.mark.parametrize("value", ["0", "36501", "999999999999"])
def test_a_retention_period_is_between_a_day_and_a_century(value: str) -> None:
    with pytest.raises(SettingsError, match="CAPTURE_RETENTION_DAYS"):
        load_settings({"ACCELERATOR_CAPTURE_RETENTION_DAYS": value})


def test_the_longest_allowed_values_are_accepted() -> None:
    settings = load_settings(
        {
            "ACCELERATOR_INBOX_LEASE_SECONDS": "86400",
            "ACCELERATOR_CAPTURE_RETENTION_DAYS": "36500",
            "ACCELERATOR_AUDIT_RETENTION_DAYS": "36500",
        }
    )
    assert (settings.inbox_lease_seconds, settings.capture_retention_days) == (86_400, 36_500)
