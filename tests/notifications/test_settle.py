"""A worker records a batch's attempts at once (one statement on PostgreSQL, one transaction on
SQLite): what the endpoint's failure state becomes is what recording them one by one, in the
batch's order, would have made it, and every attempt is stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from accelerator.infra.database import Database
from accelerator.notifications.repository import Attempt, NotificationRepository, Settlement
from accelerator.notifications.sender import Outcome
from accelerator.notifications.worker import settlement
from tests.notifications.conftest import Client, Headers, register
from tests.notifications.test_workers import emit_many

pytestmark = pytest.mark.anyio

OK = Outcome(204, None, 1.0)
DOWN = Outcome(503, None, 1.0)


async def settle_in_order(
    database: Database, outcomes: list[Outcome], *, failing_since: datetime | None = None
) -> tuple[datetime, Any, list[str], int]:
    """Claim one message per outcome and settle them as one batch, the i-th attempted at
    t0 + i minutes (t0: a minute after the messages were written, so all are due); t0, the
    endpoint, the messages' statuses and how many attempts were stored."""
    repository = NotificationRepository(database)
    t0 = datetime.now(UTC) + timedelta(minutes=1)
    claimed = await repository.claim_due("w", timedelta(minutes=5), len(outcomes), t0)
    assert len(claimed) == len(outcomes)
    batch: list[tuple[Attempt, Settlement]] = []
    for n, (message, outcome) in enumerate(zip(claimed, outcomes, strict=True)):
        at = t0 + timedelta(minutes=n)
        attempt = Attempt(
            message.message_id, message.endpoint_id, at, outcome.status_code, None, 1.0
        )
        batch.append((attempt, settlement(message.attempts, outcome, at, failing_since)))
    held = await repository.settle_many("w", batch)
    assert held == [True] * len(outcomes)
    endpoint = await repository.endpoint(claimed[0].endpoint_id)
    statuses = []
    attempts = 0
    for message in claimed:
        row = await repository.message(message.endpoint_id, message.message_id)
        assert row is not None
        statuses.append(row.status)
        attempts += len(await repository.attempts_page(message.message_id, 10, 0))
    return t0, endpoint, statuses, attempts


@pytest.mark.parametrize(
    ("outcomes", "failing_from", "expected"),
    [
        # A failure after a success starts a new failing run, at that failure.
        ([DOWN, OK, DOWN], 2, ["pending", "delivered", "pending"]),
        # Failures after a success: the run starts at the first of them.
        ([OK, DOWN, DOWN], 1, ["delivered", "pending", "pending"]),
    ],
    ids=["failure-success-failure", "success-failure-failure"],
)
async def test_a_failing_run_starts_at_the_first_failure_after_the_last_success(
    client: Client,
    admin_headers: Headers,
    database: Database,
    outcomes: list[Outcome],
    failing_from: int,
    expected: list[str],
) -> None:
    await register(client, admin_headers, "http://127.0.0.1:9/hooks")
    await emit_many(database, len(outcomes))
    t0, endpoint, statuses, attempts = await settle_in_order(database, outcomes)
    assert endpoint.failing_since == t0 + timedelta(minutes=failing_from)
    assert statuses == expected
    assert attempts == len(outcomes)


async def test_a_success_last_in_the_batch_clears_the_failing_run(
    client: Client, admin_headers: Headers, database: Database
) -> None:
    await register(client, admin_headers, "http://127.0.0.1:9/hooks")
    await emit_many(database, 2)
    _, endpoint, statuses, _ = await settle_in_order(database, [DOWN, OK])
    assert endpoint.failing_since is None
    assert endpoint.enabled is True
    assert statuses == ["pending", "delivered"]
