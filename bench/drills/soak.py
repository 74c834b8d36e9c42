"""Soak drill: a steady mixed load for minutes; the API's memory stays flat and nothing fails.

The load (open loop, a fixed rate) takes turns between: a single coverage check, a batch of ten,
a quote request (answered 202, fanned out to the sandbox insurers, the asynchronous one calling
back through a signed webhook), a signed insurer webhook and the liveness probe. Every answer must
be 2xx. The API process's resident memory is sampled every second: after the first quarter
(imports, caches and pools warming up), its growth from the second quarter to the last must stay
under :func:`growth_limit_mb`. Afterwards every quote request completes and the inbox drains.

A soak shorter than :data:`MEMORY_VERDICT_MIN_MINUTES` reports memory without judging it: in
seconds, warm-up (page caches, pools, the first requests of each kind) cannot be told from a
leak, and a 9-second soak on a busy machine failed CI with "+5.8 MB over 11 samples" while every
answer was right. The tests run such a short soak for what it can show (every answer, every
request completed, the inbox drained); the benchmark's soak (minutes) judges memory.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from accelerator.auth.principal import Role
from bench import registry
from bench.drills import DrillResult
from bench.drills.crash import WAITING, inbox_by_status, requests_by_status
from bench.drills.stack import SECRET, Stack, wait_for
from bench.keys import issue_key
from bench.loadgen import FixedRequests, LoadSpec, http_request, run_load
from bench.sellers import SELLER_ID
from bench.sources import Rotation, SignedWebhooks

SELLERS = 500
#: The shortest soak whose memory is judged (shorter ones report it).
MEMORY_VERDICT_MIN_MINUTES = 2.0


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def growth_limit_mb(minutes: float) -> float:
    """5 MB, or 1 MB per minute of soak when longer: a leak of a few hundred bytes per request
    at the default rate exceeds it; allocator noise does not."""
    return max(5.0, minutes)


def _sources(stack: Stack, claims: str, seller: str) -> Rotation:
    host = f"127.0.0.1:{stack.api_port}"
    now = datetime.now(UTC)
    checks = [registry.check_body(n, now) for n in range(0, SELLERS, 5)]

    def post(path: str, key: str, body: object) -> bytes:
        return http_request(
            "POST",
            path,
            host=host,
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            body=json.dumps(body).encode(),
        )

    return Rotation(
        (
            FixedRequests(tuple(post("/v1/coverage/checks", claims, c) for c in checks)),
            FixedRequests(
                tuple(
                    post("/v1/coverage/checks/batch", claims, {"checks": checks[i : i + 10]})
                    for i in range(0, len(checks) - 10, 10)
                )
            ),
            FixedRequests((post("/v1/quote-requests", seller, {"seller_id": SELLER_ID}),)),
            SignedWebhooks(
                host=host,
                path="/v1/webhooks/insurers/harbor",
                secret=SECRET,
                prefix=f"soak-{uuid.uuid4().hex[:8]}",
                policy_numbers=tuple(f"BENCH-{n:07d}-1" for n in range(SELLERS)),
            ),
            FixedRequests((http_request("GET", "/health/live", host=host),)),
        )
    )


def run(database_url: str, logs: Path, *, minutes: float = 5.0, rate: float = 50.0) -> DrillResult:
    result = DrillResult("soak")
    registry.grow_registry(database_url, first_seller=0, sellers=SELLERS, now=datetime.now(UTC))
    with Stack(database_url, logs, deadline_seconds=2.0) as stack:
        stack.start()
        assert stack.server is not None
        seller = stack.seller_headers()
        stack.profile_seller(seller)
        claims = issue_key(database_url, Role.CLAIMS)
        source = _sources(stack, claims, seller["Authorization"].split()[1])
        samples: list[tuple[float, float]] = []
        done = threading.Event()

        def sample(pid: int) -> None:
            started = time.monotonic()
            while not done.is_set():
                rss = rss_mb(pid)
                if rss is not None:
                    samples.append((time.monotonic() - started, rss))
                done.wait(1.0)

        sampler = threading.Thread(target=sample, args=(stack.server.pid,), daemon=True)
        sampler.start()
        try:
            load = run_load(
                LoadSpec(
                    host="127.0.0.1",
                    port=stack.api_port,
                    source=source,
                    duration_seconds=minutes * 60,
                    warmup_seconds=0.0,
                    connections=32,
                    rate=rate,
                    timeout_seconds=30,
                )
            )
        finally:
            done.set()
            sampler.join()
        latency = load.latency()
        result.facts["load"] = (
            f"{load.completed:,} requests at {rate:g}/s for {minutes:g} min; "
            f"p50 {latency.p50:.1f} ms, p99 {latency.p99:.1f} ms, max {latency.max:.0f} ms"
        )
        result.facts["statuses"] = dict(sorted(load.statuses.items()))
        result.check(
            "every request answered 2xx (no error, no timeout)",
            load.failures == 0 and load.completed > 0,
            f"{load.failures} failures: {load.samples[:3]}",
        )
        growth, slope = _memory(samples)
        limit = growth_limit_mb(minutes)
        rss = [mb for _, mb in samples]
        result.facts["memory (RSS)"] = (
            f"{rss[0]:.1f} MB at start, {max(rss):.1f} MB at most, {rss[-1]:.1f} MB at the end; "
            f"{growth:+.1f} MB from the second quarter to the last, trend {slope:+.2f} MB/min"
            if rss
            else "no samples"
        )
        if minutes >= MEMORY_VERDICT_MIN_MINUTES:
            result.check(
                f"memory flat: growth after warm-up under {limit:g} MB",
                len(samples) >= 8 and growth < limit,
                f"{growth:+.1f} MB over {len(samples)} samples",
            )
        else:
            result.facts["memory verdict"] = (
                f"not judged: {minutes:g} min is too short to tell warm-up from a leak "
                f"(at least {MEMORY_VERDICT_MIN_MINUTES:g} min)"
            )
        finished = wait_for(lambda: requests_by_status(database_url).get("collecting", 0) == 0, 30)
        result.check(
            "every quote request completes",
            finished,
            str(requests_by_status(database_url)),
        )
        drained = wait_for(
            lambda: sum(inbox_by_status(database_url).get(s, 0) for s in WAITING) == 0, 60
        )
        result.check("the inbox drains", drained, str(inbox_by_status(database_url)))
    return result


def _memory(samples: list[tuple[float, float]]) -> tuple[float, float]:
    """(median of the last quarter minus median of the second quarter, MB/min slope after the
    first quarter)."""
    if len(samples) < 8:
        return 0.0, 0.0
    quarter = len(samples) // 4
    second = [mb for _, mb in samples[quarter : 2 * quarter]]
    last = [mb for _, mb in samples[-quarter:]]
    settled = samples[quarter:]
    times = [t for t, _ in settled]
    values = [mb for _, mb in settled]
    slope = statistics.linear_regression(times, values).slope * 60
    return statistics.median(last) - statistics.median(second), slope
