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


async def test_a_failure_after_a_success_in_one_batch_starts_a_new_failing_run(
    client: Client, admin_headers: Headers, database: Database
) -> None:
    await register(client, admin_headers, "http://127.0.0.1:9/hooks")
    await emit_many(database, 3)
    t0, endpoint, statuses, attempts = await settle_in_order(database, [DOWN, OK, DOWN])
    assert endpoint.failing_since == t0 + timedelta(minutes=2)
    assert statuses == ["pending", "delivered", "pending"]
    assert attempts == 3


async def test_failures_after_a_success_keep_the_first_failure_as_the_start(
    client: Client, admin_headers: Headers, database: Database
) -> None:
    await register(client, admin_headers, "http://127.0.0.1:9/hooks")
    await emit_many(database, 3)
    t0, endpoint, statuses, attempts = await settle_in_order(database, [OK, DOWN, DOWN])
    assert endpoint.failing_since == t0 + timedelta(minutes=1)
    assert statuses == ["delivered", "pending", "pending"]
    assert attempts == 3


async def test_a_success_last_in_the_batch_clears_the_failing_run(
    client: Client, admin_headers: Headers, database: Database
) -> None:
    await register(client, admin_headers, "http://127.0.0.1:9/hooks")
    await emit_many(database, 2)
    _, endpoint, statuses, _ = await settle_in_order(database, [DOWN, OK])
    assert endpoint.failing_since is None
    assert endpoint.enabled is True
    assert statuses == ["pending", "delivered"]
