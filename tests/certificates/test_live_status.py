"""What a certificate's live link says, from the policy's events (make_terms: 2026-01-01 to
2027-01-01, 00:01 Los Angeles time)."""

from __future__ import annotations

from datetime import date

import pytest

from accelerator.certificates.status import certificate_status
from accelerator.coverage.state import EventKind, PolicyEvent, derive_state
from schemas import CertificateStatus, PolicySource
from tests.compliance.factories import US_TZ, change, issued, utc


def status_of(
    *events: PolicyEvent, source: PolicySource = PolicySource.BOUND, at: tuple[int, ...]
) -> CertificateStatus:
    state = derive_state([issued(), *events])
    assert state is not None
    return certificate_status(source, state, utc(*at), US_TZ)


def test_a_bound_policy_in_its_period_is_active_with_its_local_dates() -> None:
    status = status_of(at=(2026, 6, 1))
    assert status.status == "active"
    assert (status.effective_date, status.expiry_date) == (date(2026, 1, 1), date(2027, 1, 1))
    assert status.cover_ends_on is None


def test_a_cancellation_shows_from_the_instant_it_takes_effect_with_its_local_date() -> None:
    # 2026-06-02 06:00 UTC is 23:00 on 1 June in Los Angeles.
    cancelled = change(EventKind.CANCELLED, utc(2026, 6, 2, 6))
    assert status_of(cancelled, at=(2026, 6, 2, 5, 59)).status == "active"
    after = status_of(cancelled, at=(2026, 6, 2, 6))
    assert (after.status, after.status_since) == ("cancelled", date(2026, 6, 1))


def test_a_cancellation_recorded_ahead_names_the_day_cover_ends() -> None:
    ahead = change(EventKind.CANCELLED, utc(2026, 7, 1, 7, 1), recorded_at=utc(2026, 6, 1))
    status = status_of(ahead, at=(2026, 6, 15))
    assert (status.status, status.cover_ends_on) == ("active", date(2026, 7, 1))


def test_a_reinstatement_recorded_ahead_of_a_cancellation_ends_nothing() -> None:
    lapse = change(EventKind.LAPSED, utc(2026, 5, 1))
    reinstated = change(EventKind.REINSTATED, utc(2026, 5, 3))
    assert status_of(lapse, reinstated, at=(2026, 5, 2)).status == "lapsed"
    assert status_of(lapse, reinstated, at=(2026, 5, 4)).status == "active"


@pytest.mark.parametrize(
    ("at", "expected"),
    [((2025, 12, 31), "not_yet_active"), ((2027, 1, 2), "expired")],
)
def test_before_and_after_its_period(at: tuple[int, ...], expected: str) -> None:
    assert status_of(at=at).status == expected


def test_a_submitted_policy_is_pending_until_verified_and_rejected_when_rejected() -> None:
    submitted = PolicySource.SUBMITTED
    assert status_of(source=submitted, at=(2026, 6, 1)).status == "pending_verification"
    verified = change(EventKind.VERIFIED, utc(2026, 2, 1))
    assert status_of(verified, source=submitted, at=(2026, 6, 1)).status == "active"
    rejected = change(EventKind.VERIFICATION_REJECTED, utc(2026, 2, 1), reason="forged")
    assert status_of(rejected, source=submitted, at=(2026, 6, 1)).status == "rejected"


def test_between_two_terms_the_policy_is_expired_since_the_first_ended() -> None:
    renewed = change(EventKind.RENEWED, utc(2027, 2, 1), expires_at=utc(2028, 2, 1))
    status = status_of(renewed, at=(2027, 1, 15))
    assert (status.status, status.status_since) == ("expired", date(2027, 1, 1))
    assert status_of(renewed, at=(2027, 3, 1)).status == "active"
