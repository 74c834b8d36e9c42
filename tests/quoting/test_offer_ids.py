"""Offer ids: random UUIDs (version 4), written as ``str(uuid.uuid4())`` writes them."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from accelerator.quoting.fanout import new_offer_ids


@given(st.integers(min_value=0, max_value=40))
def test_offer_ids_are_distinct_version_4_uuids_in_their_usual_text(count: int) -> None:
    ids = new_offer_ids(count)
    assert len(ids) == count
    assert len(set(ids)) == count
    for text in ids:
        parsed = uuid.UUID(text)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == text


def test_every_bit_of_an_offer_id_varies_but_the_version_and_variant() -> None:
    # Over many ids each of the 122 random bits takes both values; the six bits the version
    # (4) and the variant fix are the only ones that never change.
    seen_set, seen_clear = 0, 0
    for text in new_offer_ids(2000):
        bits = uuid.UUID(text).int
        seen_set |= bits
        seen_clear |= ~bits & ((1 << 128) - 1)
    varying = seen_set & seen_clear
    assert varying == ((1 << 128) - 1) ^ ((0xF << 76) | (0b11 << 62))
