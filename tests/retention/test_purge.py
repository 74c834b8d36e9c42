"""The retention purge: captures and applied webhook bodies go after their period; what an
unfinished delivery needs, and the audit trail, stay whatever their age."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest
from click.testing import CliRunner
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from accelerator.audit.retention import RetentionService
from accelerator.cli import main
from accelerator.infra.database import Database
from accelerator.insurers.capture import AttemptCapture
from accelerator.quoting.fanout import InsurerResult
from accelerator.quoting.models import AttemptRow
from accelerator.quoting.repository import store_request, store_results
from accelerator.webhooks.models import InboxEvent
from accelerator.webhooks.repository import InboxRepository
from schemas import CapturedMessage, InboxStatus
from tests.quoting.fakes import make_request
from tests.retention.trail import audited_rows, build_trail

pytestmark = pytest.mark.anyio

Client = AsyncTestClient[Litestar]
RETENTION = timedelta(days=90)
OLD = timedelta(days=120)
YOUNG = timedelta(days=10)
#: How a line of the service's log starts (its text format: the time first).
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")


def capture(number: int) -> AttemptCapture:
    return AttemptCapture(
        number=number,
        method="POST",
        url="http://meridian.invalid/quotes",
        idempotency_key=f"key-{number}",
        started_at="2026-08-01T10:00:00+00:00",
        duration_ms=12.5,
        request=CapturedMessage({"content-type": "application/json"}, '{"seller": "Volt Goods"}'),
        response_status=200,
        response=CapturedMessage({"content-type": "application/json"}, '{"premium": "1200"}'),
    )


async def asked(database: Database, request_id: str, age: timedelta, attempts: int = 2) -> None:
    """A quote request created ``age`` ago whose insurer was attempted ``attempts`` times."""
    created = datetime.now(UTC) - age
    await store_request(
        database, make_request(request_id), {"meridian": "Meridian"}, created, created
    )
    result = InsurerResult(
        provider_id="meridian",
        insurer_name="Meridian",
        status="declined",
        reason_code="outside_appetite",
        attempts=[capture(n) for n in range(1, attempts + 1)],
    )
    await store_results(database, [(request_id, result)], completed=[request_id])


async def delivered(
    database: Database, webhook_id: str, status: InboxStatus, age: timedelta
) -> int:
    """A stored delivery received ``age`` ago, now ``status`` (applied then, if applied)."""
    received = datetime.now(UTC) - age
    async with database.writing() as session:
        row = InboxEvent(
            provider_id="meridian",
            webhook_id=webhook_id,
            headers={"webhook-id": webhook_id, "content-type": "application/json"},
            body=b'{"type": "quote.offered"}',
            status=status,
            attempts=1,
            error="insurer said no" if status == InboxStatus.FAILED else None,
            received_at=received,
            next_attempt_at=received,
            applied_at=received if status == InboxStatus.APPLIED else None,
        )
        session.add(row)
        await session.flush()
        return row.id


async def captures(database: Database) -> dict[str, list[dict[str, Any]]]:
    async with database.reading() as session:
        rows = await session.execute(
            select(AttemptRow.request_id, AttemptRow.capture).order_by(AttemptRow.id)
        )
        found: dict[str, list[dict[str, Any]]] = {}
        for request_id, stored in rows:
            found.setdefault(request_id, []).append(stored)
        return found


async def inbox(database: Database) -> dict[str, InboxEvent]:
    async with database.reading() as session:
        rows = await session.scalars(select(InboxEvent))
        return {row.webhook_id: row for row in rows}


@pytest.fixture
async def stored(database: Database) -> dict[str, int]:
    """An audit trail, old and young captures, and deliveries of every status, old and young."""
    await build_trail(database)
    await asked(database, "old-request", OLD)
    await asked(database, "young-request", YOUNG)
    ids = {
        "old-applied": await delivered(database, "old-applied", InboxStatus.APPLIED, OLD),
        "young-applied": await delivered(database, "young-applied", InboxStatus.APPLIED, YOUNG),
    }
    for status in (
        InboxStatus.RECEIVED,
        InboxStatus.RETRYING,
        InboxStatus.PARKED,
        InboxStatus.PROCESSING,
        InboxStatus.FAILED,
    ):
        ids[f"old-{status}"] = await delivered(database, f"old-{status}", status, OLD)
    return ids


async def test_purge_empties_old_captures_and_applied_bodies_and_keeps_the_rest(
    database: Database, stored: dict[str, int]
) -> None:
    trail_before = await audited_rows(database)
    now = datetime.now(UTC)

    report = await RetentionService(database, RETENTION).purge(now)

    assert (report.captures, report.webhook_bodies, report.dry_run) == (2, 1, False)
    after = await captures(database)
    for purged in after["old-request"]:
        assert purged["request"] == {"headers": {}}
        assert "response" not in purged
        assert datetime.fromisoformat(purged["purged_at"]) == now
        # What was attempted, when and how it ended stays.
        assert (purged["method"], purged["duration_ms"], purged["response_status"]) == (
            "POST",
            12.5,
            200,
        )
    assert all("purged_at" not in kept for kept in after["young-request"])
    assert after["young-request"][0]["response"]["body"] == '{"premium": "1200"}'

    rows = await inbox(database)
    assert rows["old-applied"].body == b""
    assert rows["old-applied"].headers == {"purged_at": now.isoformat()}
    assert rows["old-applied"].status == InboxStatus.APPLIED
    assert rows["young-applied"].body == b'{"type": "quote.offered"}'
    for status in ("received", "retrying", "parked", "processing", "failed"):
        row = rows[f"old-{status}"]
        assert row.body == b'{"type": "quote.offered"}', status
        assert row.headers["webhook-id"] == f"old-{status}"

    assert await audited_rows(database) == trail_before


async def test_a_second_purge_finds_nothing_left_and_batches_cover_a_backlog(
    database: Database, stored: dict[str, int]
) -> None:
    await asked(database, "old-request-2", OLD, attempts=3)
    for number in range(4):
        await delivered(database, f"old-applied-{number}", InboxStatus.APPLIED, OLD)
    # Batches of two: several transactions, each short, the same result.
    purge = RetentionService(database, RETENTION, batch_size=2)

    first = await purge.purge(datetime.now(UTC))
    again = await purge.purge(datetime.now(UTC))

    assert (first.captures, first.webhook_bodies) == (5, 5)
    assert (again.captures, again.webhook_bodies) == (0, 0)


async def test_a_dry_run_counts_what_would_go_and_changes_nothing(
    database: Database, stored: dict[str, int]
) -> None:
    captures_before, inbox_before = await captures(database), await inbox(database)
    trail_before = await audited_rows(database)

    report = await RetentionService(database, RETENTION).purge(datetime.now(UTC), dry_run=True)

    assert (report.captures, report.webhook_bodies, report.dry_run) == (2, 1, True)
    assert "would purge 2 insurer capture(s) and 1 webhook body(ies)" in report.describe()
    assert await captures(database) == captures_before
    inbox_after = await inbox(database)
    assert {k: (r.body, r.headers) for k, r in inbox_after.items()} == {
        k: (r.body, r.headers) for k, r in inbox_before.items()
    }
    assert await audited_rows(database) == trail_before


async def test_the_command_purges_and_its_dry_run_only_reports(
    database: Database, database_url: str, stored: dict[str, int]
) -> None:
    def run(*args: str) -> str:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("ACCELERATOR_")},
            "ACCELERATOR_DATABASE_URL": database_url,
            "ACCELERATOR_CAPTURE_RETENTION_DAYS": "90",
        }
        result = CliRunner().invoke(main, ["retention", "purge", *args], env=env)
        assert result.exit_code == 0, result.output
        # The report is the one line that is not a log line: the log's writer thread may
        # write its lines before or after it.
        (report,) = [line for line in result.output.splitlines() if not LOG_LINE.match(line)]
        return report

    # The command runs its own event loop: in a thread of its own.
    dry = await anyio.to_thread.run_sync(run, "--dry-run")
    assert dry.startswith("would purge 2 insurer capture(s) and 1 webhook body(ies)")
    # The audit trail is recent: the line says none of it would go.
    assert "; 0 receipt(s) with 0 mark(s), 0 policy event(s) and 0 policy(ies)" in dry
    assert (await inbox(database))["old-applied"].body != b""

    done = await anyio.to_thread.run_sync(run)
    assert done.startswith("purged 2 insurer capture(s) and 1 webhook body(ies)")
    assert (await inbox(database))["old-applied"].body == b""


async def test_admin_views_of_purged_attempts_and_deliveries_answer_and_say_so(
    client: Client, database: Database, admin_headers: dict[str, str], stored: dict[str, int]
) -> None:
    now = datetime.now(UTC)
    await RetentionService(database, RETENTION).purge(now)

    attempts = await client.get("/v1/quote-requests/old-request/attempts", headers=admin_headers)
    assert attempts.status_code == 200, attempts.text
    assert [a["number"] for a in attempts.json()] == [1, 2]
    assert all(a["request"] == {"headers": {}} and "response" not in a for a in attempts.json())
    assert all(a["purged_at"] for a in attempts.json())
    young = await client.get("/v1/quote-requests/young-request/attempts", headers=admin_headers)
    assert young.status_code == 200
    assert all("purged_at" not in a for a in young.json())

    entry = await client.get(
        f"/v1/admin/webhook-inbox/{stored['old-applied']}", headers=admin_headers
    )
    assert entry.status_code == 200, entry.text
    assert entry.json()["status"] == "applied"
    assert datetime.fromisoformat(entry.json()["purged_at"]) == now
    listed = await client.get("/v1/admin/webhook-inbox?status=applied", headers=admin_headers)
    assert listed.status_code == 200
    assert {e["webhook_id"]: e["purged_at"] is not None for e in listed.json()} == {
        "old-applied": True,
        "young-applied": False,
    }


async def test_a_purged_delivery_cannot_be_reprocessed_but_still_recognises_a_redelivery(
    client: Client, database: Database, admin_headers: dict[str, str], stored: dict[str, int]
) -> None:
    await RetentionService(database, RETENTION).purge(datetime.now(UTC))
    purged_id = stored["old-applied"]

    one = await client.post(f"/v1/admin/webhook-inbox/{purged_id}/reprocess", headers=admin_headers)
    assert one.status_code == 409
    assert one.json()["code"] == "delivery_purged"
    everything = await client.post(
        "/v1/admin/webhook-inbox/reprocess",
        json={
            "received_from": (datetime.now(UTC) - timedelta(days=365)).isoformat(),
            "received_to": datetime.now(UTC).isoformat(),
            "status": "applied",
        },
        headers=admin_headers,
    )
    assert everything.json() == {"requeued": 1}  # the young applied one only
    assert (await inbox(database))["old-applied"].status == InboxStatus.APPLIED

    repository = InboxRepository(database)
    try:
        again = await repository.store(
            provider_id="meridian",
            webhook_id="old-applied",
            headers={},
            body=b'{"type": "quote.offered"}',
            received_at=datetime.now(UTC),
        )
    finally:
        await repository.close()
    assert again is None  # recognised: acknowledged as a duplicate, not stored twice
