"""The registry reads the terms it stored without checking their constraints again, and reads
them exactly as the contract's own decoding would."""

from decimal import Decimal
from typing import Any

import msgspec
import pytest

from accelerator.coverage.events import decode_event
from accelerator.coverage.trusted import TrustedReader
from schemas import Money, PolicyTerms, reading_stored
from tests.compliance.factories import issued, make_terms, usd, utc

TERMS = TrustedReader(PolicyTerms)


@pytest.mark.parametrize(
    "terms",
    [
        make_terms(),
        make_terms(
            premium_total=usd("1234.5678"), deductible=Money(amount=Decimal("0"), currency="EUR")
        ),
        make_terms(
            additional_insureds=["Amazon.com Services LLC", "Bench Goods LLC"],
            territories=["US", "CA", "MX"],
            covered_categories=["electronics", "home/furniture"],
            coverage_type="umbrella",
            policy_form="claims_made",
            cancellation_notice_days=0,
        ),
    ],
    ids=["plain", "premium-and-zero-deductible", "lists-and-literals"],
)
def test_stored_terms_read_alike_with_and_without_their_constraints(terms: PolicyTerms) -> None:
    text = msgspec.json.encode(terms)
    checked = msgspec.json.decode(text, type=PolicyTerms)
    trusted = TERMS.decode(text)
    assert trusted == checked == terms
    assert type(trusted) is PolicyTerms
    assert type(trusted.per_occurrence_limit) is Money
    assert msgspec.json.encode(trusted) == text


def test_terms_stored_before_a_field_had_a_default_read_with_the_default() -> None:
    stored: dict[str, Any] = msgspec.to_builtins(make_terms())
    del stored["coverage_type"], stored["cancellation_notice_days"], stored["premium_total"]
    text = msgspec.json.encode(stored)
    assert TERMS.decode(text) == msgspec.json.decode(text, type=PolicyTerms)


def test_terms_stored_before_a_bound_existed_stay_readable_in_a_check() -> None:
    # Today's contract refuses a 250-character insurer name; a row written before that bound
    # must not make the seller's checks fail.
    stored: dict[str, Any] = msgspec.to_builtins(make_terms())
    stored["insurer_name"] = "Harbor Mutual " * 18
    text = msgspec.json.encode({"terms": stored}).decode()
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(text, type=dict[str, PolicyTerms])
    with reading_stored():
        event = decode_event("e-1", "issued", utc(2026, 1, 1), utc(2026, 1, 1), text)
    assert event.terms is not None
    assert event.terms.insurer_name == stored["insurer_name"]


def test_a_stored_row_of_the_wrong_shape_is_still_refused() -> None:
    stored: dict[str, Any] = msgspec.to_builtins(make_terms())
    stored["per_occurrence_limit"] = {"amount": "a million", "currency": "USD"}
    with pytest.raises(msgspec.ValidationError, match="per_occurrence_limit"):
        TERMS.decode(msgspec.json.encode(stored))


def test_the_reading_type_has_the_contracts_fields_and_defaults() -> None:
    def shape(struct: type[msgspec.Struct]) -> list[tuple[str, Any, Any, bool]]:
        return [
            (f.name, f.default, f.default_factory, f.required)
            for f in msgspec.structs.fields(struct)
        ]

    assert shape(TERMS.twin) == shape(PolicyTerms)


def test_an_issued_event_reads_the_same_terms_through_the_trusted_path() -> None:
    event = issued(terms=make_terms(premium_total=usd(900)))
    data = msgspec.json.encode({"terms": event.terms}).decode()
    with reading_stored():
        decoded = decode_event(
            event.event_id, "issued", event.effective_at, event.recorded_at, data
        )
    assert decoded == event
    assert type(decoded.terms) is PolicyTerms
