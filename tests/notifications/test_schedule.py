"""The pure decision of what becomes of a message after an attempt (notifications.worker)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from accelerator.notifications.sender import Outcome
from accelerator.notifications.worker import active_secrets, settlement
from schemas import MessageStatus

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
FAILED = Outcome(503, None, 12.0)


def test_failures_are_retried_after_5s_5min_30min_2h_5h_10h_10h_then_the_message_fails() -> None:
    delays = []
    for attempts in range(1, 8):
        step = settlement(attempts, FAILED, NOW, NOW)
        assert step.status is MessageStatus.PENDING
        delays.append(step.next_attempt_at - NOW)
    hours = [timedelta(hours=h) for h in (2, 5, 10, 10)]
    assert delays == [timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), *hours]
    assert settlement(8, FAILED, NOW, NOW).status is MessageStatus.FAILED


def test_a_success_clears_the_run_of_failures() -> None:
    step = settlement(3, Outcome(204, None, 3.0), NOW, NOW - timedelta(days=2))
    assert step.status is MessageStatus.DELIVERED
    assert step.clear_failing
    assert step.disable_reason is None


def test_a_network_error_is_a_failure_with_its_reason() -> None:
    step = settlement(1, Outcome(None, "ClientConnectorError: refused", 1.0), NOW, None)
    assert step.status is MessageStatus.PENDING
    assert step.error == "ClientConnectorError: refused"
    assert step.failing_since == NOW


def test_410_disables_at_once_and_five_days_of_failures_disable_too() -> None:
    gone = settlement(1, Outcome(410, None, 1.0), NOW, None)
    assert gone.status is MessageStatus.FAILED
    assert gone.disable_reason is not None
    assert "410" in gone.disable_reason
    assert settlement(2, FAILED, NOW, NOW - timedelta(days=4, hours=23)).disable_reason is None
    late = settlement(2, FAILED, NOW, NOW - timedelta(days=5))
    assert late.disable_reason is not None
    assert late.disable_reason.startswith("every delivery failed since")


def test_an_expired_previous_secret_stops_signing() -> None:
    secrets: list[dict[str, object]] = [
        {"secret": "whsec_new", "expires_at": None},
        {"secret": "whsec_old", "expires_at": (NOW + timedelta(hours=1)).isoformat()},
    ]
    assert active_secrets(secrets, NOW) == ["whsec_new", "whsec_old"]
    assert active_secrets(secrets, NOW + timedelta(hours=2)) == ["whsec_new"]
