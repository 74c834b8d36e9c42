"""Coverage checks: single checks against a raw-driver lookup and a bare endpoint, batch checks,
and the same check on a registry a hundred times larger.

1. A registry of 10,000 policies (5,000 sellers). The claims engine's key (a real, stored key)
   calls ``POST /v1/coverage/checks`` for sellers drawn at random; the baselines take the same
   bodies. Closed loop for throughput, then open loop at a third of the check's throughput
   (:func:`rate_for`) for latency. Batch checks of ``BATCH`` claims give decisions per second.
   What receipts cost: the check and the batch alternate with the same requests keeping no
   receipt (``bench/baselines.py``), ``_ROUNDS`` times; the median round's ratio counts.
2. Two fresh registries, of the small and the large size (1,000,000 policies; 100,000 in quick
   mode), in databases of their own. Both are served at once, each by a fresh server, and the
   same checks (for the large one, sellers drawn from the whole registry) run on each in turn
   at the same rate, ``_SCALE_ROUNDS`` times: the median round's latency ratio between the two
   sizes shows whether a check's cost grows with the registry.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import re
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # no stubs published

from accelerator.auth.principal import Role
from accelerator.coverage.repository import SELLERS_WITH_EVENTS
from accelerator.infra.lookups import asyncpg_dsn
from bench import databases, registry
from bench.context import RunContext, call, expect
from bench.keys import issue_key
from bench.loadgen import FixedRequests, http_request
from bench.results import Comparison, Measurement, S, in_turns, median_round

SCENARIO = "coverage"
SMALL_POLICIES = 10_000
BATCH = 100
_DISTINCT_REQUESTS = 1000
_CONNECTIONS = 64
_BATCH_CONNECTIONS = 8


def _requests(
    port: int, path: str, key: str, bodies: list[dict[str, Any]] | list[bytes]
) -> FixedRequests:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    host = f"127.0.0.1:{port}"
    return FixedRequests(
        tuple(
            http_request(
                "POST",
                path,
                host=host,
                headers=headers,
                body=b if isinstance(b, bytes) else json.dumps(b).encode(),
            )
            for b in bodies
        )
    )


def wrk_check(ctx: RunContext, port: int, path: str, connections: int) -> float | None:
    """The same closed-loop load from wrk, when it is installed: a check that our generator is
    not what limits the fastest endpoint (requests per second, or None without wrk)."""
    binary = shutil.which("wrk")
    if binary is None:
        return None
    command = [
        binary, "-t1", f"-c{connections}", f"-d{ctx.timing.duration_seconds:g}s",
        f"http://127.0.0.1:{port}{path}",
    ]  # fmt: skip
    if ctx.cores.load is not None and shutil.which("taskset"):
        command = ["taskset", "-c", ",".join(map(str, sorted(ctx.cores.load))), *command]
    finished = subprocess.run(  # noqa: S603 - wrk from PATH, our own arguments
        command, capture_output=True, text=True, timeout=600, check=False
    )
    found = re.search(r"Requests/sec:\s+([\d.]+)", finished.stdout)
    return float(found.group(1)) if found else None


def explain_check(url: str, seller: str) -> str:
    """``EXPLAIN (ANALYZE, BUFFERS)`` of the check's statement for one seller, run as the
    service runs it (a generic plan on a prepared statement, see accelerator.infra.lookups)."""

    async def explain() -> str:
        dsn = asyncpg_dsn(url)
        connection = await asyncpg.connect(
            dsn, server_settings={"plan_cache_mode": "force_generic_plan"}
        )
        try:
            statement = await connection.prepare(
                "EXPLAIN (ANALYZE, BUFFERS) " + SELLERS_WITH_EVENTS.compiled("postgresql").sql
            )
            return "\n".join(row[0] for row in await statement.fetch([seller]))
        finally:
            await connection.close()

    return asyncio.run(explain())


def rate_for(throughput: float) -> float:
    """A third of the capacity a closed loop measured, to two significant figures: the server
    is loaded but well short of saturation. (An open loop costs the server more per request
    than the closed loop did, fewer requests sharing each turn of the event loop: at half the
    capacity it ran at 90% of its core, where latency measures queueing, not the service.)"""
    third = max(20.0, throughput / 3)
    digits = len(str(int(third))) - 2
    return float(round(third, -digits)) if digits > 0 else float(round(third))


def _cpu_us(measurement: Measurement, answers_per_second: float) -> float:
    """The server's CPU per answer in µs over a measurement (NaN when nothing was answered)."""
    if not answers_per_second:
        return math.nan
    return measurement.extra.get("cpu_server", math.nan) / answers_per_second * 1e6


def _check_bodies(sellers: int, now: datetime, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)  # noqa: S311 - a reproducible sample, not a secret
    return [registry.check_body(rng.randrange(sellers), now) for _ in range(_DISTINCT_REQUESTS)]


def _batch_bodies(sellers: int, now: datetime, seed: int) -> list[bytes]:
    rng = random.Random(seed)  # noqa: S311
    return [
        json.dumps(
            {"checks": [registry.check_body(rng.randrange(sellers), now) for _ in range(BATCH)]}
        ).encode()
        for _ in range(100)
    ]


#: How many times the with-receipts and without-receipts measurements alternate.
_ROUNDS = 3
#: How many times the check and the raw lookup alternate (issue 22's single-check figure).
_LOOKUP_ROUNDS = 5
#: How many times the check on the small and on the large registry alternate (issue 22's p99).
_SCALE_ROUNDS = 5


def _alternating(
    measure: Callable[[str, S], Measurement],
    served: tuple[str, S],
    baseline: tuple[str, S],
    rounds: int = _ROUNDS,
    *,
    swap_order: bool = False,
) -> tuple[Measurement, Measurement]:
    """:func:`in_turns`, then the pair of the round whose ratio is the median. A shared 2-core
    machine's speed drifts by tens of percent within minutes, so two measurements taken apart
    compare the drift as much as the endpoints; a ratio of neighbours, taken as the median of
    several, does not."""
    pairs = in_turns(measure, served, baseline, rounds, swap_order=swap_order)
    return median_round(pairs, lambda measurement: measurement.throughput)


def _per_cpu_second(measurement: Measurement) -> float:
    """Answers per second of the server's CPU (NaN when the server's CPU was not measured):
    what the throughput would be with the server's core to itself and nothing else limiting."""
    busy = measurement.extra.get("cpu_server", math.nan)
    return measurement.throughput / busy if busy else math.nan


def _each_round(pairs: list[tuple[Measurement, Measurement]]) -> str:
    """Every round's throughput ratio, CPU-based ratio and the server's busy share, for notes."""
    return "; ".join(
        f"{served.throughput / max(baseline.throughput, 1e-9):.2f} "
        f"(per CPU-second {_per_cpu_second(served) / _per_cpu_second(baseline):.2f}, "
        f"server busy {served.extra.get('cpu_server', math.nan):.2f} / "
        f"{baseline.extra.get('cpu_server', math.nan):.2f})"
        for served, baseline in pairs
    )


def _sanity(port: int, key: str, now: datetime) -> None:
    body = registry.check_body(1, now)
    status, answer = call(
        port, "POST", "/v1/coverage/checks", body, {"Authorization": f"Bearer {key}"}
    )
    expect(status == 200 and answer.get("decision") == "exempt", f"check: {status} {answer}")
    status, answer = call(port, "POST", "/bench/raw-lookup", body)
    expect(status == 200 and answer.get("events") == 4, f"raw lookup: {status} {answer}")
    status, answer = call(port, "POST", "/bench/check-without-key", body)
    expect(status == 200 and answer.get("decision") == "exempt", f"unkeyed: {status} {answer}")
    status, answer = call(
        port,
        "POST",
        "/v1/coverage/checks/batch",
        {"checks": [body, body]},
        {"Authorization": f"Bearer {key}"},
    )
    expect(status == 200 and len(answer["results"]) == 2, f"batch: {status} {answer}")


def run(ctx: RunContext, database: str, large_policies: int) -> None:
    now = datetime.now(UTC)
    url = databases.fresh(database, ctx.out)
    small_sellers = SMALL_POLICIES // registry.POLICIES_PER_SELLER
    ctx.say(f"{SCENARIO}/{database}: generating {SMALL_POLICIES:,} policies")
    registry.grow_registry(url, first_seller=0, sellers=small_sellers, now=now)
    key = issue_key(url, Role.CLAIMS)
    env = {"ACCELERATOR_DATABASE_URL": url}

    def measure(label: str, port: int, source: FixedRequests, **options: Any) -> Measurement:
        return ctx.measure(SCENARIO, database, label, port, source, **options)

    small = f"{SMALL_POLICIES:,} policies"
    with ctx.server(f"{SCENARIO}-{database}-small", env) as port:
        _sanity(port, key, now)
        bodies = _check_bodies(small_sellers, now, seed=1)
        checks = _requests(port, "/v1/coverage/checks", key, bodies)
        raw = _requests(port, "/bench/raw-lookup", key, bodies)
        bare = FixedRequests((http_request("GET", "/bench/bare", host=f"127.0.0.1:{port}"),))
        bare_max = measure("bare JSON endpoint", port, bare, connections=_CONNECTIONS)
        wrk = wrk_check(ctx, port, "/bench/bare", _CONNECTIONS)
        if wrk is not None:
            ctx.notes.append(
                f"load generator check ({database}): the bare endpoint answered "
                f"{bare_max.throughput:,.0f} req/s to ours and {wrk:,.0f} req/s to wrk "
                f"(closed loop, {_CONNECTIONS} connections, same cores)"
            )
        # Issue 22's figure. Measured once each, one after the other, the ratio moved from 0.37
        # to 0.72 between runs of the same code: alternated rounds, each side measured first
        # in turn with the same warm-up, and the median round's ratio.
        lookup_rounds = in_turns(
            lambda label, source: measure(label, port, source, connections=_CONNECTIONS),
            (f"check ({small})", checks),
            (f"raw lookup ({small})", raw),
            _LOOKUP_ROUNDS,
            swap_order=True,
        )
        check_max, raw_max = median_round(lookup_rounds, lambda m: m.throughput)
        unreceipted = _requests(port, "/bench/check-without-receipt", key, bodies)
        receipted_max, unreceipted_max = _alternating(
            lambda label, source: measure(label, port, source, connections=_CONNECTIONS),
            (f"check ({small})", checks),
            (f"check keeping no receipt ({small})", unreceipted),
        )
        unkeyed = _requests(port, "/bench/check-without-key", key, bodies)
        unkeyed_max = measure(
            f"check without the API-key lookup ({small})", port, unkeyed, connections=_CONNECTIONS
        )
        rate = rate_for(check_max.throughput)
        bare_at = measure("bare JSON endpoint", port, bare, rate=rate, connections=_CONNECTIONS)
        raw_at = measure(f"raw lookup ({small})", port, raw, rate=rate, connections=_CONNECTIONS)
        check_at = measure(f"check ({small})", port, checks, rate=rate, connections=_CONNECTIONS)
        batch_bodies = _batch_bodies(small_sellers, now, seed=2)
        batches = _requests(port, "/v1/coverage/checks/batch", key, batch_bodies)
        unreceipted_batches = _requests(port, "/bench/batch-without-receipts", key, batch_bodies)
        batch, unreceipted_batch = _alternating(
            lambda label, source: measure(
                label, port, source, connections=_BATCH_CONNECTIONS, decisions=BATCH
            ),
            (f"batch of {BATCH} checks ({small})", batches),
            (f"batch of {BATCH} checks keeping no receipts ({small})", unreceipted_batches),
        )

    ctx.compare(
        Comparison(
            SCENARIO,
            database,
            f"single checks per second ({small}, {_CONNECTIONS} conns)",
            check_max.throughput,
            "raw driver lookup",
            raw_max.throughput,
            "req/s",
            target="ratio >= 0.6",  # issue 22 (it was 0.5)
        )
    )
    # Not a target: the same ratio per second of the server's CPU, the median of the rounds'.
    # It does not move with how much of its core the server got, which a busy machine changes
    # from one measurement to the next.
    ctx.notes.append(
        f"single checks ÷ raw lookup ({database}), the median of {_LOOKUP_ROUNDS} alternated "
        f"rounds counts; each round: {_each_round(lookup_rounds)}"
    )
    per_cpu = [(_per_cpu_second(s), _per_cpu_second(b)) for s, b in lookup_rounds]
    cpu_check, cpu_raw = median_round(per_cpu, float)
    ctx.compare(
        Comparison(
            SCENARIO,
            database,
            f"single checks per second of server CPU ({small}, {_CONNECTIONS} conns)",
            cpu_check,
            "raw driver lookups per second of server CPU",
            cpu_raw,
            "req/CPU-s",
        )
    )
    ctx.compare(
        Comparison(
            SCENARIO,
            database,
            f"single checks per second, each receipt kept ({small}, {_CONNECTIONS} conns)",
            receipted_max.throughput,
            "the same checks keeping no receipt",
            unreceipted_max.throughput,
            "req/s",
            target="ratio >= 0.9",
        )
    )
    ctx.compare(
        Comparison(
            SCENARIO,
            database,
            f"batch decisions per second, each receipt kept ({BATCH} per request)",
            batch.extra["decisions_per_second"],
            "the same batches keeping no receipts",
            unreceipted_batch.extra["decisions_per_second"],
            "decisions/s",
            target="ratio >= 0.9",
        )
    )
    # Not a target: how much of the gap to the raw lookup is the API-key lookup's.
    ctx.compare(
        Comparison(
            SCENARIO,
            database,
            f"single checks per second without the API-key lookup ({small})",
            unkeyed_max.throughput,
            "raw driver lookup",
            raw_max.throughput,
            "req/s",
        )
    )
    ctx.compare(
        Comparison(
            SCENARIO,
            database,
            f"single checks per second ({small}, {_CONNECTIONS} conns)",
            check_max.throughput,
            "bare JSON endpoint",
            bare_max.throughput,
            "req/s",
        )
    )
    for name in ("p50", "p99"):
        ctx.compare(
            Comparison(
                SCENARIO,
                database,
                f"single check {name} latency at {rate:g} req/s ({small})",
                getattr(check_at.latency_ms, name),
                "raw driver lookup",
                getattr(raw_at.latency_ms, name),
                "ms",
            )
        )
        ctx.compare(
            Comparison(
                SCENARIO,
                database,
                f"single check {name} latency at {rate:g} req/s ({small})",
                getattr(check_at.latency_ms, name),
                "bare JSON endpoint",
                getattr(bare_at.latency_ms, name),
                "ms",
            )
        )
    ctx.compare(
        Comparison(
            SCENARIO,
            database,
            f"batch decisions per second ({BATCH} per request, {_BATCH_CONNECTIONS} conns)",
            batch.extra["decisions_per_second"],
            "single checks (one decision each)",
            check_max.throughput,
            "decisions/s",
            target="value >= 20000" if database == "postgresql" else None,
        )
    )

    # Issue 22's figure: the server's CPU per batch decision against its CPU per raw lookup,
    # both from the same run (throughput moves with the machine's load; CPU per answer less).
    ctx.compare(
        Comparison(
            SCENARIO,
            database,
            f"server CPU per batch decision ({BATCH} per request, each receipt kept)",
            _cpu_us(batch, batch.extra["decisions_per_second"]),
            "the raw driver lookup's server CPU per request",
            _cpu_us(raw_max, raw_max.throughput),
            "µs",
            target="ratio <= 0.25",
        )
    )

    large = f"{large_policies:,} policies"
    ctx.say(f"{SCENARIO}/{database}: fresh registries of {small} and {large}")
    with (
        databases.beside(database, ctx.out, "small") as small_url,
        databases.beside(database, ctx.out, "large") as large_url,
    ):
        _scale(ctx, database, now, rate, (small_url, SMALL_POLICIES), (large_url, large_policies))


def _scale(
    ctx: RunContext,
    database: str,
    now: datetime,
    rate: float,
    small_registry: tuple[str, int],
    large_registry: tuple[str, int],
) -> None:
    """The same check on a fresh registry of each size (URL, policies), both served at once
    by fresh servers warmed the same way and measured in turns at the same rate.

    Fresh, both of them: the scenario's own database by now holds the receipts of every check
    measured on it and, on SQLite, a long write-ahead log; in a quick run its raw lookup's p99
    read 37 times the fresh large registry's. In turns: a p99 measured minutes apart from the
    other compared the machine's moments as much as the registries (in quick runs of the same
    code the large registry's p99 read 0.67 and 0.17 times the small one's on PostgreSQL, 1.73,
    2.63 and 0.34 on SQLite; docs/performance.md)."""
    names: dict[str, str] = {}
    # Where each size's checks and raw lookups go: its server's port and the requests.
    checks: dict[str, tuple[int, FixedRequests]] = {}
    lookups: dict[str, tuple[int, FixedRequests]] = {}
    with contextlib.ExitStack() as servers:
        for size, (url, policies) in (("small", small_registry), ("large", large_registry)):
            sellers = policies // registry.POLICIES_PER_SELLER
            registry.grow_registry(url, first_seller=0, sellers=sellers, now=now)
            key = issue_key(url, Role.CLAIMS)
            if database == "postgresql" and size == "large":
                _save_plan(ctx, url, registry.seller_id(sellers // 2), policies)
            env = {"ACCELERATOR_DATABASE_URL": url}
            port = servers.enter_context(ctx.server(f"{SCENARIO}-{database}-{size}", env))
            _sanity(port, key, now)
            bodies = _check_bodies(sellers, now, seed=1 if size == "small" else 3)
            names[size] = f"{policies:,} policies, fresh registry"
            checks[size] = (port, _requests(port, "/v1/coverage/checks", key, bodies))
            lookups[size] = (port, _requests(port, "/bench/raw-lookup", key, bodies))

        def measure(label: str, target: tuple[int, FixedRequests]) -> Measurement:
            port, requests = target
            measured = ctx.measure(
                SCENARIO, database, label, port, requests, rate=rate, connections=_CONNECTIONS
            )
            # Refusals (a database out of connections answers 503 at once) would shorten the
            # tail this figure compares.
            expect(measured.failures == 0, f"{label}: {measured.failures} requests failed")
            return measured

        for size in ("small", "large"):  # warmed as the first registry was, by a closed loop
            port, requests = checks[size]
            label = f"check ({names[size]}, warm-up)"
            ctx.measure(SCENARIO, database, label, port, requests, connections=_CONNECTIONS)
        scale_rounds = in_turns(
            measure,
            (f"check ({names['large']})", checks["large"]),
            (f"check ({names['small']})", checks["small"]),
            _SCALE_ROUNDS,
            swap_order=True,
        )
        # Not a target: the raw lookup on each, in turns once.
        [(raw_large, raw_small)] = in_turns(
            measure,
            (f"raw lookup ({names['large']})", lookups["large"]),
            (f"raw lookup ({names['small']})", lookups["small"]),
            1,
        )
    ctx.notes.append(
        f"check p99 at {rate:g} req/s, {names['large']} ÷ {names['small']} ({database}), the "
        f"median of {_SCALE_ROUNDS} rounds counts; each round: "
        + "; ".join(
            f"{big.latency_ms.p99:.2f} ÷ {little.latency_ms.p99:.2f} ms"
            for big, little in scale_rounds
        )
    )
    for name in ("p50", "p99"):
        check_large, check_small = median_round(
            scale_rounds, lambda m, name=name: float(getattr(m.latency_ms, name))
        )
        ctx.compare(
            Comparison(
                SCENARIO,
                database,
                f"single check {name} latency at {rate:g} req/s, {names['large']}",
                getattr(check_large.latency_ms, name),
                f"the same check, {names['small']} (the median of {_SCALE_ROUNDS} rounds' ratios)",
                getattr(check_small.latency_ms, name),
                "ms",
                target="ratio <= 1.5",
            )
        )
        ctx.compare(
            Comparison(
                SCENARIO,
                database,
                f"raw lookup {name} latency at {rate:g} req/s, {names['large']}",
                getattr(raw_large.latency_ms, name),
                f"the same lookup, {names['small']}",
                getattr(raw_small.latency_ms, name),
                "ms",
            )
        )


def _save_plan(ctx: RunContext, url: str, seller: str, policies: int) -> None:
    plan = explain_check(url, seller)
    (ctx.out / "coverage-plan-postgresql.txt").write_text(plan + "\n")
    ctx.notes.append(
        f"the check's PostgreSQL plan on {policies:,} policies: coverage-plan-postgresql.txt "
        f"({plan.splitlines()[-1].strip()})"
    )
