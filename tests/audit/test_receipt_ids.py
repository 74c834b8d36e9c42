"""Receipt ids (accelerator/audit/receipts.py): UUIDs version 7, which begin with the
millisecond they were made, so that a table of receipts grows at the end of its primary key."""

from __future__ import annotations

import time
import uuid

from accelerator.audit.receipts import new_receipt_ids


def test_receipt_ids_are_distinct_version_7_uuids_stamped_with_the_millisecond_made() -> None:
    before = time.time_ns() // 1_000_000
    ids = new_receipt_ids(500)
    after = time.time_ns() // 1_000_000

    assert len(set(ids)) == 500
    for receipt_id in ids:
        parsed = uuid.UUID(receipt_id)
        assert str(parsed) == receipt_id  # the canonical lower-case form
        assert parsed.version == 7
        assert parsed.variant == uuid.RFC_4122
        assert before <= parsed.int >> 80 <= after


def test_ids_made_later_sort_after_earlier_ones_made_a_millisecond_before() -> None:
    earlier = new_receipt_ids(50)
    deadline = (time.time_ns() // 1_000_000) + 1
    while time.time_ns() // 1_000_000 <= deadline:  # into a later millisecond, whatever the load
        pass
    later = new_receipt_ids(50)
    assert max(earlier) < min(later)
