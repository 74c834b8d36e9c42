"""Several inbox workers on PostgreSQL share a burst of deliveries: each is applied exactly once.

SQLite has one writer and the service's own in-process worker, so these run on PostgreSQL only.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from accelerator.infra.database import Database, open_database
from accelerator.server import runtime_of
from accelerator.settings import Settings
from accelerator.webhooks.models import InboxEvent
from accelerator.webhooks.worker import InboxWorker
from tests.webhooks.callbacks import bound, policy_change, signed_headers
from tests.webhooks.conftest import BIND_ID, policy_event_count

# PostgreSQL only (SQLite runs one in-process worker): the id keeps the CI count honest.
pytestmark = [
    pytest.mark.anyio,
    pytest.mark.parametrize(
        "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
    ),
]
Client = AsyncTestClient[Litestar]
URL = "/v1/webhooks/insurers/meridian"
BURST = 120


async def bound_policy_and_a_burst(client: Client, worker: InboxWorker) -> None:
    """A bound policy (applied now), then BURST changes to it stored and not yet applied."""
    body = bound(BIND_ID, occurred_at="2026-01-01T00:00:00Z", seq=1)
    await client.post(URL, content=body, headers=signed_headers(body))
    assert await worker.run_until_idle() == 1
    for n in range(BURST):
        kind = "policy.cancelled" if n % 2 == 0 else "policy.reinstated"
        body = policy_change(
            kind, f"2027-01-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d}:00Z",
            occurred_at="2026-12-01T00:00:00Z", seq=n + 2, reason="burst",
        )  # fmt: skip
        response = await client.post(URL, content=body, headers=signed_headers(body))
        assert response.status_code == 200


async def inbox_rows(db: Database) -> list[tuple[str, int]]:
    async with db.reading() as session:
        rows = await session.execute(select(InboxEvent.status, InboxEvent.attempts))
        return [(status, attempts) for status, attempts in rows.all()]


async def test_concurrent_workers_apply_a_burst_exactly_once(
    database_url: str,
    client: Client,
    app: Litestar,
    worker: InboxWorker,
    pending_bind: str,
) -> None:
    await bound_policy_and_a_burst(client, worker)
    # Four workers, each with its own connection pool, claiming small batches at once.
    databases = [open_database(database_url) for _ in range(4)]
    workers = [
        InboxWorker(db, runtime_of(app).services.partners, owner=f"w{i}", batch_size=3)
        for i, db in enumerate(databases)
    ]
    try:
        taken = await asyncio.gather(*(w.run_until_idle() for w in workers))
    finally:
        for db in databases:
            await db.dispose()

    assert sum(taken) == BURST
    assert sum(1 for n in taken if n) >= 2, taken  # the work really was shared
    rows = await inbox_rows(worker.db)
    assert rows == [("applied", 1)] * (BURST + 1)  # none claimed twice, none left
    assert await policy_event_count(worker.db) == 2 + BURST  # issued + verified + the burst


async def test_accelerator_worker_processes_share_a_burst(
    database_url: str,
    client: Client,
    settings: Settings,
    worker: InboxWorker,
    pending_bind: str,
) -> None:
    await bound_policy_and_a_burst(client, worker)
    env = {
        **os.environ,
        "ACCELERATOR_DATABASE_URL": database_url,
        "ACCELERATOR_PROVIDERS": msgspec.json.encode(settings.providers).decode(),
    }
    command = [sys.executable, "-m", "accelerator", "worker", "--until-idle", "--batch-size", "2"]
    processes = [
        await asyncio.create_subprocess_exec(
            *command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        for _ in range(2)
    ]
    outputs: list[Any] = await asyncio.gather(*(p.communicate() for p in processes))

    assert [p.returncode for p in processes] == [0, 0], outputs
    rows = await inbox_rows(worker.db)
    assert rows == [("applied", 1)] * (BURST + 1)
    assert await policy_event_count(worker.db) == 2 + BURST
