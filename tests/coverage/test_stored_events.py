"""Events as the registry's read path decodes them from the stored columns."""

from datetime import timedelta

import msgspec
import pytest

from accelerator.coverage.events import decode_event, to_event
from tests.compliance.factories import change, issued, utc


def test_an_issued_event_decodes_from_its_columns_with_its_terms() -> None:
    event = issued()
    data = msgspec.json.encode({"terms": event.terms}).decode()
    decoded = decode_event(event.event_id, "issued", event.effective_at, event.recorded_at, data)
    assert decoded == event


def test_a_renewal_and_a_reason_decode_and_an_empty_column_means_no_data() -> None:
    end = utc(2027, 1, 1)
    renewed = change("renewed", end, expires_at=end + timedelta(days=365))
    data = msgspec.json.encode({"expires_at": renewed.expires_at}).decode()
    args = (renewed.event_id, "renewed", renewed.effective_at, renewed.recorded_at)
    assert decode_event(*args, data) == renewed
    verified = decode_event("e-v", "verified", end, end, "{}")
    assert (verified.terms, verified.expires_at, verified.reason) == (None, None, "")
    rejected = decode_event("e-r", "verification_rejected", end, end, '{"reason": "forged"}')
    assert rejected.reason == "forged"


def test_a_stored_event_of_an_unknown_kind_is_refused_not_ignored() -> None:
    with pytest.raises(ValueError, match="unknown kind 'suspended'"):
        decode_event("e-1", "suspended", utc(2026, 1, 1), utc(2026, 1, 1), "{}")


def test_an_issued_event_without_terms_is_refused() -> None:
    with pytest.raises(ValueError, match="needs terms"):
        decode_event("e-1", "issued", utc(2026, 1, 1), utc(2026, 1, 1), None)


def test_the_orm_path_and_the_driver_path_read_one_stored_event_alike() -> None:
    event = issued()
    text = msgspec.json.encode({"terms": event.terms}).decode()
    columns = (event.event_id, "issued", event.effective_at, event.recorded_at)
    assert to_event(*columns, msgspec.json.decode(text)) == decode_event(*columns, text) == event
    with pytest.raises(ValueError, match="unknown kind"):
        to_event("e-1", "suspended", event.effective_at, event.recorded_at, {})
