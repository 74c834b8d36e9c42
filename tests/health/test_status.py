"""``GET /health/status``: heartbeats (fresh, stale), the queues' backlog from the periodic
snapshot, every process's breakers; an admin's only. Readiness stays as it was."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from accelerator.auth.principal import Role
from accelerator.health.backlog import BacklogSnapshot
from accelerator.health.heartbeat import Heartbeat
from accelerator.health.models import WorkerHeartbeatRow
from accelerator.infra.database import Database
from accelerator.insurers.breaker import CircuitBreaker
from accelerator.notifications.models import EndpointRow, MessageRow
from accelerator.notifications.repository import NotificationRepository
from accelerator.settings import Settings
from accelerator.webhooks.repository import InboxRepository
from tests.api.conftest import key_for

__all__ = ["key_for"]

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Litestar]
Headers = dict[str, str]
#: Long enough for a loaded 2-core machine; the condition usually holds within milliseconds.
PATIENCE_SECONDS = 30.0


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # No in-process worker to drain what the tests queue; a snapshot every 50 ms.
    return msgspec.structs.replace(settings, inbox_worker="external", backlog_snapshot_seconds=0.05)


class FakePartner:
    """What a heartbeat reads of a partner: its breaker."""

    def __init__(self, breaker: CircuitBreaker) -> None:
        self.breaker = breaker


def open_breaker() -> CircuitBreaker:
    breaker = CircuitBreaker(failure_threshold=1, cooldown_seconds=3600)
    breaker.record_failure()
    return breaker


async def status_when(
    client: Client, headers: Headers, holds: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The status once ``holds`` is true of it (the snapshot and the beats are periodic)."""
    deadline = time.monotonic() + PATIENCE_SECONDS
    while True:
        response = await client.get("/health/status", headers=headers)
        assert response.status_code == 200, response.text
        status: dict[str, Any] = response.json()
        if holds(status) or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.05)


async def test_status_needs_an_admin_key(
    client: Client, key_for: Callable[..., Awaitable[Headers]]
) -> None:
    assert (await client.get("/health/status")).status_code == 401
    seller = await key_for(Role.SELLER, "s-1")
    refused = await client.get("/health/status", headers=seller)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "forbidden"
    # The probes still take no key.
    assert (await client.get("/health/ready")).status_code == 200


async def test_the_api_process_reports_a_fresh_heartbeat(
    client: Client, admin_headers: Headers
) -> None:
    status = await status_when(
        client, admin_headers, lambda s: any(p["role"] == "api" for p in s["processes"])
    )
    [api] = [p for p in status["processes"] if p["role"] == "api"]
    assert api["state"] == "alive"
    assert api["runs"] == ["api"]  # the inbox is left to `accelerator worker` here
    assert status["status"] == "ok"


async def test_a_worker_that_stopped_beating_is_stale_and_the_status_degraded(
    client: Client, admin_headers: Headers, database: Database
) -> None:
    long_ago = datetime.now(UTC) - timedelta(minutes=5)
    async with database.writing() as session:
        session.add(
            WorkerHeartbeatRow(
                id="worker-9:77:dead00",
                role="worker",
                host="worker-9",
                pid=77,
                runs=["inbox-worker", "delivery-worker"],
                breakers={"harbor": "closed"},
                interval_seconds=10.0,
                started_at=long_ago - timedelta(hours=1),
                beat_at=long_ago,
            )
        )
    status = await status_when(client, admin_headers, lambda s: len(s["processes"]) == 2)
    [dead] = [p for p in status["processes"] if p["id"] == "worker-9:77:dead00"]
    assert dead["state"] == "stale"
    assert status["status"] == "degraded"
    # A dead process's breakers are no one's view any more.
    assert all("worker-9:77:dead00" not in i["states"] for i in status["insurers"])


async def test_each_live_process_shows_its_own_breakers(
    client: Client, admin_headers: Headers, database: Database
) -> None:
    other = Heartbeat(
        database,
        "api-2:4242:feed01",
        "api",
        ["api"],
        {"harbor": FakePartner(open_breaker())},  # type: ignore[dict-item]
        interval_seconds=3600,
    )
    await other.beat()
    status = await status_when(
        client, admin_headers, lambda s: any(i["provider_id"] == "harbor" for i in s["insurers"])
    )
    [harbor] = status["insurers"]
    assert harbor["states"] == {"api-2:4242:feed01": "open"}
    assert harbor["open_in"] == 1
    assert status["status"] == "degraded"
    await other.forget()
    status = await status_when(client, admin_headers, lambda s: not s["insurers"])
    assert status["insurers"] == []


async def test_the_backlogs_are_the_latest_snapshot_of_inbox_and_outbox(
    client: Client, admin_headers: Headers, database: Database
) -> None:
    received = datetime.now(UTC) - timedelta(minutes=2)
    inbox = InboxRepository(database)
    try:
        for n in range(3):
            await inbox.store(
                provider_id="harbor",
                webhook_id=f"msg-{n}",
                headers={},
                body=b"{}",
                received_at=received + timedelta(seconds=n),
            )
    finally:
        await inbox.close()
    await queue_messages(database, pending=2, failed=1)

    def counted(status: dict[str, Any]) -> bool:
        queues = {b["queue"]: b for b in status["backlogs"]}
        return bool(queues["inbox"]["waiting"] == 3 and queues["outbox"]["waiting"] == 2)

    status = await status_when(client, admin_headers, counted)
    queues = {b["queue"]: b for b in status["backlogs"]}
    assert queues["inbox"]["by_status"]["received"] == 3
    assert queues["inbox"]["oldest_age_seconds"] >= 120
    assert queues["outbox"]["by_status"] == {"pending": 2, "sending": 0, "failed": 1}
    assert queues["outbox"]["oldest_age_seconds"] >= 60


async def queue_messages(database: Database, *, pending: int, failed: int) -> None:
    created = datetime.now(UTC) - timedelta(minutes=1)
    async with database.writing() as session:
        session.add(
            EndpointRow(
                id="ep-status",
                url="https://example.test/hooks",
                event_types=[],
                seller_id=None,
                marketplace=None,
                secrets=[],
                enabled=False,
                disabled_reason="switched off for the test",
                failing_since=None,
                created_at=created,
                updated_at=created,
            )
        )
        await session.flush()
        for n in range(pending + failed):
            session.add(
                MessageRow(
                    endpoint_id="ep-status",
                    event_id=f"evt-{n}",
                    event_type="quote_request.completed",
                    body=b"{}",
                    status="pending" if n < pending else "failed",
                    attempts=0,
                    next_attempt_at=created,
                    created_at=created,
                )
            )


async def test_a_snapshot_counts_each_queue_and_is_kept_until_the_next(database: Database) -> None:
    await queue_messages(database, pending=1, failed=0)
    inbox = InboxRepository(database)
    try:
        snapshot = BacklogSnapshot([inbox.backlog, NotificationRepository(database).backlog])
        taken = await snapshot.take()
    finally:
        await inbox.close()
    [in_queue, out_queue] = taken.backlogs
    assert (in_queue.queue, in_queue.waiting, in_queue.oldest_at) == ("inbox", 0, None)
    assert (out_queue.queue, out_queue.waiting) == ("outbox", 1)
    assert await snapshot.current() is taken  # read, not counted again
