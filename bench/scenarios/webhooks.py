"""Webhook ingest: verified and durably stored insurer events per second, against a minimal
endpoint in the same app that checks the signature and inserts the raw body with one statement.

Events are Harbor ``policy_verified`` callbacks for policies of a generated registry, each with
its own ``webhook-id``. The service verifies the Standard Webhooks signature, stores the delivery
(committed before the 2xx) and answers; applying it is the inbox worker's job. On PostgreSQL the
API runs with ``ACCELERATOR_INBOX_WORKER=external`` as in production, and one ``accelerator
worker`` drains the inbox afterwards (reported as applied events per second); on SQLite the
in-process worker applies events while they arrive, on the same core as the API.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select

from accelerator.infra.database import open_database
from accelerator.webhooks.models import InboxEvent
from bench import databases, processes, registry
from bench.baselines import RAW_STATUS
from bench.context import RunContext, call, expect
from bench.results import Comparison, Measurement
from bench.scenarios.coverage import rate_for
from bench.sources import SignedWebhooks
from bench.upstream import INSURER, Insurer, provider_settings
from providers import signature_headers

SCENARIO = "webhooks"
SECRET = "whsec_YmVuY2gtd2ViaG9vay1zZWNyZXQtMDEyMzQ1Njc4OQ=="  # noqa: S105 - bench-only
SELLERS = 1000
_CONNECTIONS = 64
_SERVICE_PATH = f"/v1/webhooks/insurers/{INSURER}"
_RAW_PATH = f"/bench/raw-webhook/{INSURER}"


def providers_json(secret: str = SECRET) -> str:
    """One partner, ``harbor``, whose callbacks are signed with ``secret`` (never called)."""
    partner = Insurer(INSURER, 0, 1)
    return json.dumps(provider_settings([partner], "http://127.0.0.1:1/v1/webhooks", secret))


def _source(port: int, path: str, numbers: tuple[str, ...]) -> SignedWebhooks:
    return SignedWebhooks(
        host=f"127.0.0.1:{port}",
        path=path,
        secret=SECRET,
        prefix=f"bench-{uuid.uuid4().hex[:12]}",
        policy_numbers=numbers,
    )


def inbox_counts(url: str) -> dict[str, int]:
    """Stored deliveries by status (the raw baseline's rows apart)."""

    async def count() -> dict[str, int]:
        db = open_database(url)
        try:
            async with db.reading() as session:
                rows = await session.execute(
                    select(InboxEvent.status, func.count()).group_by(InboxEvent.status)
                )
                return {status: int(n) for status, n in rows}
        finally:
            await db.dispose()

    return asyncio.run(count())


def _wait_until_applied(url: str, started: float) -> dict[str, int]:
    """Block until no delivery waits to be applied; the inbox's counts by status."""
    while True:
        counts = inbox_counts(url)
        if not any(counts.get(s, 0) for s in ("received", "processing", "retrying")):
            return counts
        expect(time.monotonic() - started < 900, f"inbox not drained: {counts}")
        time.sleep(0.5)


def _drain(ctx: RunContext, url: str, database: str) -> tuple[int, float]:
    """Wait until no delivery waits; returns (applied, applied per second while draining)."""
    started = time.monotonic()
    worker = None
    if database == "postgresql":
        worker = processes.start(
            "inbox-worker",
            processes.python("-m", "accelerator", "worker", "--until-idle", "--batch-size", "100"),
            logs=ctx.logs,
            env={"ACCELERATOR_DATABASE_URL": url, "ACCELERATOR_PROVIDERS": providers_json()},
            cpus=ctx.cores.upstream,
        )
    before = inbox_counts(url).get("applied", 0)
    try:
        counts = _wait_until_applied(url, started)
    finally:
        if worker is not None:
            worker.stop()
    applied = counts.get("applied", 0)
    return applied, (applied - before) / max(time.monotonic() - started, 1e-9)


def _sanity(port: int, numbers: tuple[str, ...]) -> None:
    event_id, body = _source(port, _SERVICE_PATH, numbers).body(0)
    headers = signature_headers([SECRET], event_id, int(time.time()), body)
    status, answer = call(port, "POST", _SERVICE_PATH, raw=body, headers=headers)
    expect(status == 200 and answer.get("duplicate") is False, f"webhook: {status} {answer}")
    status, answer = call(port, "POST", _RAW_PATH, raw=body, headers=headers)
    expect(status == 200, f"raw webhook: {status} {answer}")
    forged = {**headers, "webhook-signature": "v1,AAAA"}
    status, _ = call(port, "POST", _RAW_PATH, raw=body, headers=forged)
    expect(status == 401, f"the raw endpoint accepted a bad signature: {status}")


def run(ctx: RunContext, database: str) -> None:
    url = databases.fresh(database, ctx.out)
    registry.grow_registry(url, first_seller=0, sellers=SELLERS, now=datetime.now(UTC))
    numbers = tuple(f"BENCH-{n:07d}-1" for n in range(SELLERS))
    env = {
        "ACCELERATOR_DATABASE_URL": url,
        "ACCELERATOR_PROVIDERS": providers_json(),
        "ACCELERATOR_INBOX_WORKER": "external" if database == "postgresql" else "in_process",
    }
    with ctx.server(f"{SCENARIO}-{database}", env) as port:
        _sanity(port, numbers)

        def measure(label: str, path: str, rate: float | None = None) -> Measurement:
            source = _source(port, path, numbers)
            return ctx.measure(
                SCENARIO, database, label, port, source, rate=rate, connections=_CONNECTIONS
            )

        raw_max = measure("raw verify + insert", _RAW_PATH)
        service_max = measure("webhook receive", _SERVICE_PATH)
        rate = rate_for(service_max.throughput)
        if database == "sqlite":
            # The in-process worker is still applying what the last measurement stored; the
            # baseline's latency must not be measured against that work (it was, before).
            _wait_until_applied(url, time.monotonic())
        raw_at = measure("raw verify + insert", _RAW_PATH, rate)
        service_at = measure("webhook receive", _SERVICE_PATH, rate)
        counts = inbox_counts(url)
        stored = sum(n for status, n in counts.items() if status != RAW_STATUS)
        applied, applied_rate = _drain(ctx, url, database)
    expect(applied == stored, f"{stored} deliveries stored but {applied} applied: {counts}")
    by = (
        "one `accelerator worker`, after the load"
        if database == "postgresql"
        else ("the in-process worker, during and after the load")
    )
    ctx.notes.append(
        f"webhooks/{database}: every one of the {stored:,} stored deliveries was applied; "
        f"{applied_rate:,.0f} applied/s by {by}"
    )
    ctx.compare(
        Comparison(
            SCENARIO,
            database,
            f"verified and stored events per second ({_CONNECTIONS} conns)",
            service_max.throughput,
            "raw verify + one INSERT",
            raw_max.throughput,
            "events/s",
            target="ratio >= 0.5",
        )
    )
    for name in ("p50", "p99"):
        ctx.compare(
            Comparison(
                SCENARIO,
                database,
                f"receive {name} latency at {rate:g} events/s",
                getattr(service_at.latency_ms, name),
                "raw verify + one INSERT",
                getattr(raw_at.latency_ms, name),
                "ms",
            )
        )
