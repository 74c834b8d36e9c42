"""Scale-out: what a second process adds on this machine (issue 22), on PostgreSQL only (SQLite
takes one writer, so a second process there only queues behind the first).

The same loads as the coverage, fan-out and webhooks scenarios, each served by one API process
and then by two (``serve --workers 2``: uvicorn workers sharing the port), alternated round by
round so that the machine's drift cancels; the round whose ratio "2 processes ÷ 1 process" is
the median counts. A server is started for each round and stopped after it, so that the two
never hold PostgreSQL connections at once (41 per API process, against ``max_connections``).

- Coverage: single checks (closed loop, 64 connections) and batches of 100 (8 connections) on a
  registry of 10,000 policies.
- Fan-out: quote requests with ``?wait=true``, 50 concurrent, ten simulated insurers at 50 to
  200 ms (on the insurers' core throughout).
- Webhooks: verified and stored events (closed loop, 64 connections) with the inbox worker
  external; after each round's load, that many ``accelerator worker`` processes drain what it
  stored (applied events per second from the inbox's ``applied_at`` stamps: ``applied_rate``).

Cores: one process runs on the server's core, as in every other scenario; two run on every core
of the run, shared with the load generator, the insurers and PostgreSQL (``CorePlan.for_api``).
Each measurement's cores-busy figures (server's process tree, PostgreSQL, machine) say what
limited it, and the notes put them side by side.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import func, select

from accelerator.auth.principal import Role
from accelerator.infra.database import open_database
from accelerator.webhooks.models import InboxEvent
from bench import databases, processes, registry
from bench.context import RunContext, call, expect
from bench.keys import issue_key
from bench.loadgen import RequestSource
from bench.results import Comparison, Measurement, median_round
from bench.scenarios import coverage, fanout, webhooks
from bench.sellers import SELLER_ID, seller_facts
from bench.upstream import provider_settings, spread

SCENARIO = "scaleout"
#: How many times the one- and two-process measurements alternate.
ROUNDS = 3
_CHECK_CONNECTIONS = 64
_BATCH_CONNECTIONS = 8
#: The service as ``accelerator serve`` serves it: the baselines' pools (20 connections per
#: process, opened at start-up) would take two processes past PostgreSQL's default 100.
SERVICE_APP = "accelerator.server:create_app"

T = TypeVar("T")
#: One round's measurements, by name, for one process count.
Figures = dict[str, Measurement]


def api_label(count: int) -> str:
    return f"{count} API process" + ("" if count == 1 else "es")


def round_order(number: int) -> tuple[int, int]:
    """The process counts in round ``number`` (from 1): one first in odd rounds, two first in
    even ones, so that neither is always measured on a machine the other just warmed."""
    return (1, 2) if number % 2 else (2, 1)


def alternate(
    measure_with: Callable[[int, str], dict[str, T]],
    figure: Callable[[T], float],
    rounds: int = ROUNDS,
) -> dict[str, tuple[T, T]]:
    """Run ``measure_with(processes, suffix)`` for one and two processes, ``rounds`` times
    alternated; for each figure it returns, the median round's pair (two processes, one
    process), the round whose ratio ``figure(two) / figure(one)`` is the median."""
    pairs: dict[str, list[tuple[T, T]]] = {}
    for number in range(1, rounds + 1):
        suffix = f" (round {number} of {rounds})"
        got = {count: measure_with(count, suffix) for count in round_order(number)}
        for name, one in got[1].items():
            pairs.setdefault(name, []).append((got[2][name], one))
    return {name: median_round(measured, figure) for name, measured in pairs.items()}


def _throughput(measurement: Measurement) -> float:
    return measurement.throughput


def server_cpu_us(cores_busy: float, answers_per_second: float) -> float:
    """The server's CPU per answer in µs (NaN when nothing was answered)."""
    return cores_busy / answers_per_second * 1e6 if answers_per_second else math.nan


def _busy(measurement: Measurement) -> str:
    extra = measurement.extra
    return ", ".join(
        f"{name} {extra[key]:.2f}"
        for name, key in (
            ("server", "cpu_server"),
            ("insurers", "cpu_insurers"),
            ("PostgreSQL", "cpu_postgres"),
            ("machine", "cpu_machine"),
        )
        if key in extra
    )


def _compare(
    ctx: RunContext,
    what: str,
    load: str,
    pair: tuple[Measurement, Measurement],
    answer: str,
    figure: Callable[[Measurement], float] = lambda m: m.throughput,
) -> None:
    """Two figures, 2 processes ÷ 1 process: the throughput, and the server's CPU per
    ``answer`` (its whole process tree's), which tells a second process that costs more work
    per answer from one that could not get a core on a busy machine."""
    two, one = pair
    metric = f"{what} per second ({load})"
    ctx.compare(
        Comparison(
            SCENARIO,
            "postgresql",
            f"{metric}, {api_label(2)}",
            figure(two),
            f"the same, {api_label(1)}",
            figure(one),
            f"{answer}s/s",
        )
    )
    ctx.compare(
        Comparison(
            SCENARIO,
            "postgresql",
            f"server CPU per {answer} ({what}, {load}), {api_label(2)}",
            server_cpu_us(two.extra.get("cpu_server", math.nan), figure(two)),
            f"the same, {api_label(1)}",
            server_cpu_us(one.extra.get("cpu_server", math.nan), figure(one)),
            "µs",
        )
    )
    ctx.notes.append(
        f"{SCENARIO}: {metric}, cores busy in the median round: {api_label(1)}: {_busy(one)}; "
        f"{api_label(2)}: {_busy(two)}"
    )


def _coverage(ctx: RunContext) -> None:
    now = datetime.now(UTC)
    url = databases.fresh("postgresql", ctx.out)
    sellers = coverage.SMALL_POLICIES // registry.POLICIES_PER_SELLER
    ctx.say(f"{SCENARIO}: generating {coverage.SMALL_POLICIES:,} policies")
    registry.grow_registry(url, first_seller=0, sellers=sellers, now=now)
    key = issue_key(url, Role.CLAIMS)
    check_bodies = coverage._check_bodies(sellers, now, seed=1)
    batch_bodies = coverage._batch_bodies(sellers, now, seed=2)

    def measure_with(count: int, suffix: str) -> Figures:
        env = {"ACCELERATOR_DATABASE_URL": url}
        with ctx.server(
            f"{SCENARIO}-coverage-{count}", env, workers=count, app=SERVICE_APP
        ) as port:
            checks = coverage._requests(port, "/v1/coverage/checks", key, check_bodies)
            batches = coverage._requests(port, "/v1/coverage/checks/batch", key, batch_bodies)
            label = f"{{}}, {api_label(count)}{suffix}"
            return {
                "checks": _measure(ctx, label.format("check"), port, checks, _CHECK_CONNECTIONS),
                "batches": _measure(
                    ctx,
                    label.format(f"batch of {coverage.BATCH} checks"),
                    port,
                    batches,
                    _BATCH_CONNECTIONS,
                    decisions=coverage.BATCH,
                ),
            }

    got = alternate(measure_with, _throughput)
    _compare(ctx, "single checks", f"{_CHECK_CONNECTIONS} conns", got["checks"], "request")
    _compare(
        ctx,
        "batch decisions",
        f"{coverage.BATCH} per request, {_BATCH_CONNECTIONS} conns",
        got["batches"],
        "decision",
        lambda m: m.extra["decisions_per_second"],
    )


def _fanout(ctx: RunContext) -> None:
    url = databases.fresh("postgresql", ctx.out)
    upstream, insurers = fanout.start_upstream(
        ctx, spread(fanout.INSURERS, fanout.FASTEST_MS, fanout.SLOWEST_MS)
    )
    ctx.watched["insurers"] = upstream.pid
    key = issue_key(url, Role.SELLER, SELLER_ID)
    auth = {"Authorization": f"Bearer {key}"}
    env = {
        "ACCELERATOR_DATABASE_URL": url,
        "ACCELERATOR_PROVIDERS": json.dumps(
            provider_settings(insurers, "http://127.0.0.1:1/v1/webhooks/insurers", fanout.SECRET)
        ),
        "ACCELERATOR_QUOTE_DEADLINE_SECONDS": str(fanout.DEADLINE_SECONDS),
        "ACCELERATOR_INSURER_TIMEOUT_SECONDS": str(fanout.DEADLINE_SECONDS),
    }

    def measure_with(count: int, suffix: str) -> Figures:
        with ctx.server(f"{SCENARIO}-fanout-{count}", env, workers=count, app=SERVICE_APP) as port:
            status, answer = call(
                port, "PUT", f"/v1/sellers/{SELLER_ID}/profile", seller_facts(), auth
            )
            expect(status == 200, f"seller profile: {status} {answer}")
            quotes = fanout.quote_requests(port, auth)
            label = f"quote request ?wait=true, {api_label(count)}{suffix}"
            return {"quotes": _measure(ctx, label, port, quotes, fanout.CONCURRENT)}

    try:
        got = alternate(measure_with, _throughput)
    finally:
        ctx.watched.pop("insurers", None)
        upstream.stop()
    _compare(ctx, "quote requests", f"{fanout.CONCURRENT} concurrent", got["quotes"], "request")


def applied_rate(batches: list[tuple[datetime, int]]) -> float:
    """Applied deliveries per second from the inbox's ``applied_at`` stamps, grouped and in
    order: the deliveries after the first stamp over the time from the first to the last.
    Stamps are per claimed batch, so the first batch's own duration is not in the span, nor
    are its deliveries counted; the workers' start-up (seconds of imports on a busy machine,
    against a drain of a few thousand deliveries) is out of the figure either way."""
    if len(batches) < 2:
        return math.nan
    span = (batches[-1][0] - batches[0][0]).total_seconds()
    return sum(n for _, n in batches[1:]) / span if span > 0 else math.nan


def _applied_since(url: str, since: datetime) -> list[tuple[datetime, int]]:
    async def fetch() -> list[tuple[datetime, int]]:
        db = open_database(url)
        try:
            async with db.reading() as session:
                rows = await session.execute(
                    select(InboxEvent.applied_at, func.count())
                    .where(InboxEvent.applied_at >= since)
                    .group_by(InboxEvent.applied_at)
                    .order_by(InboxEvent.applied_at)
                )
                return [(at, int(n)) for at, n in rows if at is not None]
        finally:
            await db.dispose()

    return asyncio.run(fetch())


def _drain(ctx: RunContext, url: str, count: int) -> float:
    """``count`` ``accelerator worker`` processes apply what waits: applied per second."""
    since = datetime.now(UTC)
    workers = [
        processes.start(
            f"{SCENARIO}-inbox-worker-{count}-{n}",
            processes.python("-m", "accelerator", "worker", "--until-idle", "--batch-size", "100"),
            logs=ctx.logs,
            env={
                "ACCELERATOR_DATABASE_URL": url,
                "ACCELERATOR_PROVIDERS": webhooks.providers_json(),
            },
            cpus=ctx.cores.for_api(count),
        )
        for n in range(1, count + 1)
    ]
    try:
        webhooks._wait_until_applied(url, time.monotonic())
    finally:
        for worker in workers:
            worker.stop()
    return applied_rate(_applied_since(url, since))


def _webhooks(ctx: RunContext) -> None:
    url = databases.fresh("postgresql", ctx.out)
    registry.grow_registry(url, first_seller=0, sellers=webhooks.SELLERS, now=datetime.now(UTC))
    numbers = tuple(f"BENCH-{n:07d}-1" for n in range(webhooks.SELLERS))
    env = {
        "ACCELERATOR_DATABASE_URL": url,
        "ACCELERATOR_PROVIDERS": webhooks.providers_json(),
        "ACCELERATOR_INBOX_WORKER": "external",
    }
    drained: list[tuple[float, float]] = []
    by_count: dict[int, float] = {}

    def measure_with(count: int, suffix: str) -> Figures:
        with ctx.server(
            f"{SCENARIO}-webhooks-{count}", env, workers=count, app=SERVICE_APP
        ) as port:
            source = webhooks._source(port, webhooks._SERVICE_PATH, numbers)
            label = f"webhook receive, {api_label(count)}{suffix}"
            received = _measure(ctx, label, port, source, webhooks._CONNECTIONS)
        by_count[count] = _drain(ctx, url, count)
        ctx.say(f"{SCENARIO}: {count} `accelerator worker`: {by_count[count]:,.0f} applied/s")
        if len(by_count) == 2:
            drained.append((by_count.pop(2), by_count.pop(1)))
        return {"received": received}

    got = alternate(measure_with, _throughput)
    _compare(
        ctx,
        "verified and stored events",
        f"{webhooks._CONNECTIONS} conns",
        got["received"],
        "event",
    )
    two, one = median_round(drained, lambda applied: applied)
    ctx.compare(
        Comparison(
            SCENARIO,
            "postgresql",
            "applied events per second, 2 `accelerator worker` processes (median of "
            f"{len(drained)} rounds)",
            two,
            "the same, 1 `accelerator worker` process",
            one,
            "events/s",
        )
    )


def _measure(
    ctx: RunContext,
    label: str,
    port: int,
    source: RequestSource,
    connections: int,
    **per_answer: float,
) -> Measurement:
    return ctx.measure(
        SCENARIO, "postgresql", label, port, source, connections=connections, **per_answer
    )


def run(ctx: RunContext, database: str) -> None:
    if database != "postgresql":
        ctx.say(f"{SCENARIO}/{database}: skipped (PostgreSQL only: SQLite takes one writer)")
        return
    _coverage(ctx)
    _fanout(ctx)
    _webhooks(ctx)
