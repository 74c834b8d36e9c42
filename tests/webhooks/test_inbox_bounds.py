"""Insurer events and admin re-processing held to the contract's bounds (docs/architecture.md,
"Input bounds"). An authentic event out of bounds (a date in year 1, a number too long to store,
a NUL byte) is refused when the worker parses it: failed at once with the reason, not retried as
if the failure were passing, and nothing of it applied. Both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from accelerator.infra.database import Database
from accelerator.webhooks.models import InboxEvent
from accelerator.webhooks.worker import InboxWorker, printable
from tests.api.bounds import (
    AFTER_LAST_INSTANT,
    BEFORE_FIRST_INSTANT,
    FIRST_INSTANT,
    LAST_INSTANT,
    Case,
    assert_outcome,
    ids,
)
from tests.webhooks.callbacks import bound, policy_change, signed_headers
from tests.webhooks.conftest import BIND_ID, policy_event_count

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Litestar]
Headers = dict[str, str]
URL = "/v1/webhooks/insurers/meridian"
YEAR_1, YEAR_9999 = "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"
OCCURRED = "2026-12-01T00:00:00Z"


async def deliver(client: Client, body: bytes) -> None:
    response = await client.post(URL, content=body, headers=signed_headers(body))
    assert response.status_code == 200, response.text


async def last_delivery(database: Database) -> tuple[str, int, str | None]:
    async with database.reading() as session:
        row = (
            await session.execute(
                select(InboxEvent.status, InboxEvent.attempts, InboxEvent.error)
                .order_by(InboxEvent.id.desc())
                .limit(1)
            )
        ).one()
        return row.status, row.attempts, row.error


@pytest.fixture
async def bound_policy(client: Client, worker: InboxWorker, pending_bind: str) -> int:
    """Meridian's policy, bound by its callback; how many events it has."""
    await deliver(client, bound(BIND_ID, occurred_at="2026-11-26T18:10:00Z", seq=1))
    await worker.run_until_idle()
    return await policy_event_count(worker.db)


def cancellation(effective_at: str = "2027-03-01T08:01:00Z", **changes: Any) -> bytes:
    fields: dict[str, Any] = {"occurred_at": OCCURRED, "seq": 5, "reason": "non-payment"}
    fields.update(changes)
    return policy_change("policy.cancelled", effective_at, **fields)


# Each case: the delivery, and what becomes of it (the field its error names, if refused).
EVENT_CASES: list[tuple[str, bytes, str, str | None]] = [
    ("effective-year-1", cancellation(YEAR_1), "failed", "effective_at"),
    ("effective-year-9999", cancellation(YEAR_9999), "failed", "effective_at"),
    ("effective-before-1970", cancellation(BEFORE_FIRST_INSTANT), "failed", "effective_at"),
    ("effective-before-1970-by-offset", cancellation("1970-01-01T00:30:00+01:00"), "failed",
     "effective_at"),
    ("effective-first-instant", cancellation(FIRST_INSTANT), "applied", None),
    ("effective-last-instant", cancellation(LAST_INSTANT), "applied", None),
    ("effective-after-2200", cancellation(AFTER_LAST_INSTANT), "failed", "effective_at"),
    ("occurred-year-1", cancellation(occurred_at=YEAR_1), "failed", "occurred_at"),
    ("sequence-negative", cancellation(seq=-1), "failed", "sequence"),
    ("reason-2000-characters", cancellation(reason="r" * 2000), "applied", None),
    ("reason-2001-characters", cancellation(reason="r" * 2001), "failed", "reason"),
    ("reason-with-nul", cancellation(reason="non\x00payment"), "failed", "reason"),
    # Within bounds, a number no policy has waits for its policy; beyond them it is refused.
    ("number-100-characters", cancellation(number="N" * 100), "parked", None),
    ("number-101-characters", cancellation(number="N" * 101), "failed", "policy_number"),
    ("number-with-nul", cancellation(number="MSI\x00"), "failed", "policy_number"),
    (
        "renewed-to-last-instant",
        policy_change("policy.renewed", "2027-12-01T08:01:00Z", occurred_at=OCCURRED, seq=5,
                      expiresAt=LAST_INSTANT),
        "applied",
        None,
    ),
    (
        "renewed-past-2200",
        policy_change("policy.renewed", "2027-12-01T08:01:00Z", occurred_at=OCCURRED, seq=5,
                      expiresAt=AFTER_LAST_INSTANT),
        "failed",
        "expires_at",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "status", "field"), [c[1:] for c in EVENT_CASES], ids=[c[0] for c in EVENT_CASES]
)
async def test_an_insurer_event_out_of_bounds_fails_at_once_with_its_reason_and_applies_nothing(
    client: Client,
    worker: InboxWorker,
    bound_policy: int,
    body: bytes,
    status: str,
    field: str | None,
) -> None:
    await deliver(client, body)
    await worker.run_until_idle()

    found, attempts, error = await last_delivery(worker.db)
    assert found == status, error
    if field is None:
        expected = bound_policy + (found == "applied")
        assert await policy_event_count(worker.db) == expected
        return
    assert attempts == 1  # failed for good: not retried as if it were passing
    assert error is not None
    assert error.startswith("event refused:") or error.startswith("unreadable event:"), error
    assert f"`{field}`" in error or f".{field}`" in error, error
    assert "\x00" not in error
    assert await policy_event_count(worker.db) == bound_policy


BIND_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("starts-in-year-1", {"effective_at": YEAR_1}, "effective_at"),
    ("ends-after-2200", {"expires_at": AFTER_LAST_INSTANT}, "expires_at"),
]


@pytest.mark.parametrize(
    ("changes", "field"), [c[1:] for c in BIND_CASES], ids=[c[0] for c in BIND_CASES]
)
async def test_a_bind_confirmation_out_of_bounds_registers_no_policy(
    client: Client,
    worker: InboxWorker,
    pending_bind: str,
    changes: dict[str, str],
    field: str,
) -> None:
    await deliver(client, bound(BIND_ID, occurred_at=OCCURRED, seq=1, **changes))
    await worker.run_until_idle()

    found, attempts, error = await last_delivery(worker.db)
    assert (found, attempts) == ("failed", 1), error
    assert error is not None
    assert f"`{field}`" in error, error
    assert await policy_event_count(worker.db) == 0


async def test_a_delivery_with_the_longest_webhook_id_applies_on_both_databases(
    client: Client, worker: InboxWorker, pending_bind: str
) -> None:
    # Its events' ids (provider:webhook-id:position) were longer than PostgreSQL stores: the
    # bind was retried there as if the failure would pass, and applied on SQLite.
    body = bound(BIND_ID, occurred_at=OCCURRED, seq=1)
    response = await client.post(URL, content=body, headers=signed_headers(body, msg_id="m" * 200))
    assert response.status_code == 200, response.text
    await worker.run_until_idle()

    assert (await last_delivery(worker.db))[:2] == ("applied", 1)
    assert await policy_event_count(worker.db) == 2  # issued, and verified by the bind


# --- POST /v1/admin/webhook-inbox/reprocess ------------------------------------------------------

NOW = datetime.now(UTC)
REPROCESS_CASES = [
    Case("from-naive", "received_from", "2026-01-01T00:00:00"),
    Case("to-naive", "received_to", "2226-01-01T00:00:00"),
    Case("from-year-1", "received_from", YEAR_1),
    Case("to-year-9999", "received_to", YEAR_9999),
    Case("from-before-1970", "received_from", BEFORE_FIRST_INSTANT),
    Case("to-after-2200", "received_to", AFTER_LAST_INSTANT),
    Case("unknown-field", "requeue_everything", True),
    Case("status-unknown", "status", "lost"),
    Case("whole-window", "received_from", FIRST_INSTANT, refused=None),
]


@pytest.mark.parametrize("case", REPROCESS_CASES, ids=ids(REPROCESS_CASES))
async def test_a_reprocess_range_out_of_bounds_is_refused_and_requeues_nothing(
    client: Client, admin_headers: Headers, worker: InboxWorker, case: Case
) -> None:
    await deliver(client, b'{"not": "a meridian envelope"}')
    await worker.run_until_idle()
    assert (await last_delivery(worker.db))[0] == "failed"
    body = {"received_from": (NOW - timedelta(days=1)).isoformat(), "received_to": LAST_INSTANT}
    response = await client.post(
        "/v1/admin/webhook-inbox/reprocess", json=case.applied_to(body), headers=admin_headers
    )

    assert_outcome(case, response, accepted=(202,))
    assert (await last_delivery(worker.db))[0] == ("failed" if case.refused else "received")


def test_a_kept_error_holds_no_control_character_a_database_could_refuse() -> None:
    # An adapter's message may quote what the partner sent; PostgreSQL cannot store a NUL.
    kept = printable("bad policy number 'MSI\x00' at\nline 2\tcolumn \x1b[31m")
    assert kept == "bad policy number 'MSI\\x00' at\nline 2\tcolumn \\x1b[31m"
