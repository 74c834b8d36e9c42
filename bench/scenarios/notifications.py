"""Notification delivery: signed webhooks delivered per second by one ``accelerator worker``,
against a bare aiohttp loop sending the same signed POSTs in the same run.

Both send to one receiver process (``bench.notify_peers receive``, on the simulated insurers'
core) that answers 204 at once; both run on the server core. The baseline
(``bench.notify_peers send``) reads every message and its endpoint's secrets first and then
only signs and POSTs, 50 in flight; the service's worker claims each batch under its lease,
signs, sends, and records every attempt and the message's new status in the database. The
service's figure is the delivered messages over the span from its first attempt to its last
delivery (the process's start-up apart).

PostgreSQL only: on SQLite the delivery worker runs inside the API process.
"""

from __future__ import annotations

import asyncio
import json
import time

from sqlalchemy import func, select, text

from accelerator.infra.database import open_database
from accelerator.notifications.models import AttemptRow, MessageRow
from accelerator.notifications.service import new_secret
from bench import databases, processes
from bench.context import RunContext, expect
from bench.drills.notify_crash import messages_by_status, queue_events
from bench.results import Comparison

SCENARIO = "notifications"


def _received(port: int) -> int:
    import httpx

    answer = httpx.get(f"http://127.0.0.1:{port}/count", timeout=10)
    answer.raise_for_status()
    return int(answer.json()["received"])


def _span(url: str) -> tuple[int, float]:
    """(delivered, seconds from the first attempt to the last delivery)."""

    async def work() -> tuple[int, float]:
        db = open_database(url)
        try:
            async with db.reading() as session:
                first = await session.scalar(select(func.min(AttemptRow.attempted_at)))
                delivered, last = (
                    await session.execute(
                        select(func.count(), func.max(MessageRow.delivered_at)).where(
                            MessageRow.status == "delivered"
                        )
                    )
                ).one()
        finally:
            await db.dispose()
        expect(first is not None and last is not None, "nothing was delivered")
        return int(delivered), (last - first).total_seconds()

    found: tuple[int, float] = asyncio.run(work())
    return found


def _analyze(url: str) -> None:
    """Statistics for the queued messages, as an outbox in service has them: right after the
    queue is written the table still has an empty table's, under which PostgreSQL plans the
    claim as a sort of every due message rather than a walk of the due index (until autovacuum
    analyzes it, within a minute or so; docs/performance.md)."""

    async def work() -> None:
        db = open_database(url)
        try:
            async with db.writing() as session:
                await session.execute(text("ANALYZE notification_messages"))
        finally:
            await db.dispose()

    asyncio.run(work())


def _wait(child: processes.Child, timeout: float) -> None:
    child.process.wait(timeout=timeout)
    expect(child.process.returncode == 0, f"{child.name} failed:\n{child.tail()}")


def run(ctx: RunContext, database: str) -> None:
    if database != "postgresql":
        ctx.notes.append(
            f"{SCENARIO}/{database}: not measured (the delivery worker runs inside the API "
            "process on SQLite)"
        )
        return
    # A database of its own: the other scenarios' (and other runs') default one may be in use.
    name = f"{databases.PREFIX}_notifications"
    url = databases.fresh_postgres(name)
    count = 2_000 if ctx.quick else 10_000
    port = processes.free_port()
    receiver = processes.start(
        "notify-receiver",
        processes.python("-m", "bench.notify_peers", "receive", str(port)),
        logs=ctx.logs,
        cpus=ctx.cores.upstream,
    )
    try:
        processes.wait_until_answers(receiver, f"http://127.0.0.1:{port}/count")
        ids = asyncio.run(queue_events(url, f"http://127.0.0.1:{port}/hooks", new_secret(), count))
        _analyze(url)
        ctx.say(f"{SCENARIO}/{database}: {len(ids):,} messages queued")

        baseline = processes.start(
            "notify-baseline",
            processes.python("-m", "bench.notify_peers", "send", url),
            logs=ctx.logs,
            cpus=ctx.cores.server,
        )
        _wait(baseline, 600)
        sent = json.loads(baseline.log.read_text().strip().splitlines()[-1])
        expect(sent["sent"] == count, f"the baseline sent {sent['sent']} of {count}")
        baseline_rate = sent["sent"] / sent["seconds"]
        baseline_cpu = sent["cpu_seconds"] / sent["sent"]
        expect(_received(port) == count, "the receiver missed baseline deliveries")

        started = time.monotonic()
        worker = processes.start(
            "notify-worker",
            processes.python("-m", "accelerator", "worker", "--until-idle"),
            logs=ctx.logs,
            env={
                "ACCELERATOR_DATABASE_URL": url,
                "ACCELERATOR_INBOX_WORKER": "external",
                "ACCELERATOR_NOTIFICATIONS_ALLOW_PRIVATE_URLS": "true",
                "ACCELERATOR_SANDBOX_ENABLED": "false",
                "ACCELERATOR_LOG_LEVEL": "WARNING",
            },
            cpus=ctx.cores.server,
        )
        _wait(worker, 900)
        wall = time.monotonic() - started
        statuses = messages_by_status(url)
        expect(statuses == {"delivered": count}, f"not all delivered: {statuses}")
        expect(_received(port) >= 2 * count, "the receiver missed the worker's deliveries")
        delivered, seconds = _span(url)
        service_rate = delivered / seconds
    finally:
        receiver.stop()
        databases.drop_postgres(name)
    ctx.notes.append(
        f"{SCENARIO}/{database}: {delivered:,} messages delivered by one `accelerator worker "
        f"--until-idle` in {seconds:.2f} s of sending ({wall:.1f} s with the process's start); "
        f"the bare loop sent the same {count:,} in {sent['seconds']:.2f} s, "
        f"{baseline_cpu * 1e6:.0f} µs of its CPU each"
    )
    ctx.compare(
        Comparison(
            SCENARIO,
            database,
            "signed deliveries per second, each attempt recorded (one worker)",
            service_rate,
            "bare aiohttp loop, same signed POSTs, 50 in flight",
            baseline_rate,
            "deliveries/s",
            target="ratio >= 0.5",
        )
    )
