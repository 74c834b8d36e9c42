"""Quote fan-out: ten simulated insurers at 50 to 200 ms, the service against a bare aiohttp
fan-out of the same calls.

- Latency: open loop at the rate that keeps ten requests in flight on average (Little's law:
  10 / 0.2 s = 50 requests/s); each request's latency over the slowest insurer's, at p50 and
  p99. The overhead target is p50 within 10 ms of the slowest insurer.
- Throughput: closed loop with 50 concurrent requests, against the bare fan-out's; and the
  server's CPU per answered request there, against the bare fan-out's (issue 22: at most 2x).
- Latency at half the service's own capacity: open loop at half the closed-loop throughput just
  measured, the service and the bare fan-out at the same rate; the service's p50 overhead over
  the slowest insurer within twice the bare fan-out's overhead plus 5 ms (issue 22).

The service answers ``POST /v1/quote-requests?wait=true``: it stores the request and a row per
insurer, calls all ten, stores each outcome with its offers and captured exchange as it lands,
then ranks the offers into the answer. The baseline only sends the calls and decodes the answers.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from accelerator.auth.principal import Role
from bench import databases, processes
from bench.context import RunContext, call, expect
from bench.keys import issue_key
from bench.loadgen import FixedRequests, http_request
from bench.results import Comparison, Measurement
from bench.sellers import SELLER_ID, canonical_request, seller_facts
from bench.upstream import Insurer, provider_settings, spread, template_settings
from providers.harbor import HarborAdapter

SCENARIO = "fanout"
INSURERS = 10
FASTEST_MS, SLOWEST_MS = 50.0, 200.0
IN_FLIGHT = 10
# Also measured at two in flight: the overhead of one request when the server is not saturated.
LIGHT_IN_FLIGHT = 2
CONCURRENT = 50
# Issue 22's targets: CPU per request at most twice the bare fan-out's; the p50 overhead at two
# in flight within 5 ms; at half capacity within twice the bare fan-out's overhead plus 5 ms.
CPU_RATIO_TARGET = 2.0
LIGHT_OVERHEAD_TARGET_MS = 5.0
HALF_OVERHEAD_SLACK_MS = 5.0
SECRET = "whsec_YmVuY2gtY2FsbGJhY2stc2VjcmV0LTAxMjM0NTY3"  # noqa: S105 - a bench-only secret
DEADLINE_SECONDS = 5.0


def start_upstream(
    ctx: RunContext, latencies: list[float]
) -> tuple[processes.Child, list[Insurer]]:
    """The simulated insurers, on the upstream cores, once they answer."""
    insurers = [
        Insurer(f"ins{n:02d}", ms, processes.free_port()) for n, ms in enumerate(latencies, 1)
    ]
    child = processes.start(
        "upstream",
        processes.python("-m", "bench.upstream", *(f"{i.latency_ms}:{i.port}" for i in insurers)),
        logs=ctx.logs,
        cpus=ctx.cores.upstream,
    )
    for insurer in insurers:
        processes.wait_until_answers(child, f"http://127.0.0.1:{insurer.port}/")
    return child, insurers


def _bare_calls(database_url: str, insurers: list[Insurer], path: Path) -> Path:
    """The exact calls the service's adapter makes for this seller, for the bare program."""
    request = canonical_request(database_url, SELLER_ID, "bench-bare-fanout")
    calls = []
    for insurer in insurers:
        settings = template_settings(SECRET)
        adapter = HarborAdapter(insurer.provider_id, settings)
        made = adapter.quote_call(request, settings)
        calls.append(
            {
                "provider_id": insurer.provider_id,
                "url": insurer.base_url + made.path,
                "headers": {**made.headers, "Idempotency-Key": f"bench.{insurer.provider_id}"},
                "body": (made.body or b"").decode(),
            }
        )
    path.write_text(json.dumps(calls, indent=1))
    return path


def quote_requests(port: int, auth: dict[str, str]) -> FixedRequests:
    """The benchmark's quote request, ``?wait=true``, for the bench seller."""
    return FixedRequests(
        (
            http_request(
                "POST",
                "/v1/quote-requests?wait=true",
                host=f"127.0.0.1:{port}",
                headers={**auth, "Content-Type": "application/json"},
                body=json.dumps({"seller_id": SELLER_ID}).encode(),
            ),
        )
    )


def half_rate(throughput: float) -> float:
    """Half the closed loop's throughput, to two significant figures, at least one request a
    second (a run that answered nothing still measures something)."""
    half = max(1.0, throughput / 2)
    digits = len(str(int(half))) - 2
    return float(round(half, -digits)) if digits > 0 else float(round(half))


def half_overhead_target(bare_overhead_ms: float) -> str:
    """The target for the service's p50 overhead at half capacity, from the bare fan-out's
    overhead measured at the same rate: at most twice it plus ``HALF_OVERHEAD_SLACK_MS``
    (a bare overhead below zero, answers faster than the slowest insurer's nominal latency,
    counts as zero)."""
    bound = 2 * max(0.0, bare_overhead_ms) + HALF_OVERHEAD_SLACK_MS
    return f"value <= {bound:.2f}"


def cpu_ms_per_request(measurement: Measurement, process: str) -> float:
    """``process``'s CPU per answered request over a measurement, in ms (NaN when nothing was
    answered): the cores it kept busy divided by the requests answered each second."""
    if not measurement.throughput:
        return math.nan
    return measurement.extra.get(f"cpu_{process}", math.nan) / measurement.throughput * 1e3


def run(ctx: RunContext, database: str) -> None:
    url = databases.fresh(database, ctx.out)
    upstream, insurers = start_upstream(ctx, spread(INSURERS, FASTEST_MS, SLOWEST_MS))
    ctx.watched["insurers"] = upstream.pid
    bare = None
    try:
        key = issue_key(url, Role.SELLER, SELLER_ID)
        auth = {"Authorization": f"Bearer {key}"}
        env = {
            "ACCELERATOR_DATABASE_URL": url,
            "ACCELERATOR_PROVIDERS": json.dumps(
                provider_settings(insurers, "http://127.0.0.1:1/v1/webhooks/insurers", SECRET)
            ),
            "ACCELERATOR_QUOTE_DEADLINE_SECONDS": str(DEADLINE_SECONDS),
            "ACCELERATOR_INSURER_TIMEOUT_SECONDS": str(DEADLINE_SECONDS),
        }
        with ctx.server(f"{SCENARIO}-{database}", env) as port:
            status, answer = call(
                port, "PUT", f"/v1/sellers/{SELLER_ID}/profile", seller_facts(), auth
            )
            expect(status == 200, f"seller profile: {status} {answer}")
            status, answer = call(
                port, "POST", "/v1/quote-requests?wait=true", {"seller_id": SELLER_ID}, auth
            )
            outcomes = {o["provider_id"]: o["status"] for o in answer.get("outcomes", [])}
            expect(
                status == 200
                and set(outcomes.values()) == {"offered"}
                and len(outcomes) == INSURERS,
                f"quote request: {status} {outcomes or answer}",
            )
            bare_port = processes.free_port()
            bare = processes.start(
                "bare-fanout",
                processes.python(
                    "-m",
                    "bench.bare_fanout",
                    "--port",
                    str(bare_port),
                    "--calls",
                    str(_bare_calls(url, insurers, ctx.out / "bare-fanout-calls.json")),
                ),
                logs=ctx.logs,
                cpus=ctx.cores.server,
            )
            processes.wait_until_answers(bare, f"http://127.0.0.1:{bare_port}/health")
            ctx.watched["bare"] = bare.pid
            status, answer = call(bare_port, "POST", "/fanout", {})
            expect(
                status == 200 and {o["outcome"] for o in answer["outcomes"]} == {"quoted"},
                f"bare fan-out: {status} {answer}",
            )
            quotes = quote_requests(port, auth)
            fanouts = FixedRequests(
                (http_request("POST", "/fanout", host=f"127.0.0.1:{bare_port}", body=b"{}"),)
            )
            rate = IN_FLIGHT / (SLOWEST_MS / 1000)
            light = LIGHT_IN_FLIGHT / (SLOWEST_MS / 1000)
            service_light = ctx.measure(
                SCENARIO, database, "quote request ?wait=true", port, quotes, rate=light
            )
            service_at = ctx.measure(
                SCENARIO, database, "quote request ?wait=true", port, quotes, rate=rate
            )
            bare_at = ctx.measure(
                SCENARIO, database, "bare aiohttp fan-out", bare_port, fanouts, rate=rate
            )
            service_max = ctx.measure(
                SCENARIO, database, "quote request ?wait=true", port, quotes, connections=CONCURRENT
            )
            bare_max = ctx.measure(
                SCENARIO,
                database,
                "bare aiohttp fan-out",
                bare_port,
                fanouts,
                connections=CONCURRENT,
            )
            half = half_rate(service_max.throughput)
            service_half = ctx.measure(
                SCENARIO, database, "quote request ?wait=true", port, quotes, rate=half
            )
            bare_half = ctx.measure(
                SCENARIO, database, "bare aiohttp fan-out", bare_port, fanouts, rate=half
            )
    finally:
        ctx.watched.pop("bare", None)
        ctx.watched.pop("insurers", None)
        if bare is not None:
            bare.stop()
        upstream.stop()

    at = f"{rate:g} req/s (~{IN_FLIGHT} in flight)"
    for name in ("p50", "p99"):
        ctx.compare(
            Comparison(
                SCENARIO,
                database,
                f"quote request {name} latency at {at}",
                getattr(service_at.latency_ms, name),
                "slowest insurer's latency",
                SLOWEST_MS,
                "ms",
            )
        )
        ctx.compare(
            Comparison(
                SCENARIO,
                database,
                f"bare fan-out {name} latency at {at}",
                getattr(bare_at.latency_ms, name),
                "slowest insurer's latency",
                SLOWEST_MS,
                "ms",
            )
        )
    ctx.compare(
        Comparison(
            SCENARIO,
            database,
            f"p50 overhead over the slowest insurer at {light:g} req/s "
            f"(~{LIGHT_IN_FLIGHT} in flight)",
            service_light.latency_ms.p50 - SLOWEST_MS,
            "bare fan-out's overhead at ~10 in flight",
            bare_at.latency_ms.p50 - SLOWEST_MS,
            "ms",
            target=f"value <= {LIGHT_OVERHEAD_TARGET_MS:g}",
        )
    )
    ctx.compare(
        Comparison(
            SCENARIO,
            database,
            f"p50 overhead over the slowest insurer at {at}",
            service_at.latency_ms.p50 - SLOWEST_MS,
            "bare fan-out's overhead",
            bare_at.latency_ms.p50 - SLOWEST_MS,
            "ms",
            target="value <= 10",
        )
    )
    ctx.compare(
        Comparison(
            SCENARIO,
            database,
            f"quote requests per second, {CONCURRENT} concurrent",
            service_max.throughput,
            "bare aiohttp fan-out",
            bare_max.throughput,
            "req/s",
            target="ratio >= 0.4",
        )
    )
    ctx.compare(
        Comparison(
            SCENARIO,
            database,
            f"server CPU per quote request, {CONCURRENT} concurrent",
            cpu_ms_per_request(service_max, "server"),
            "bare fan-out's CPU per request",
            cpu_ms_per_request(bare_max, "bare"),
            "ms",
            target=f"ratio <= {CPU_RATIO_TARGET:g}",
        )
    )
    bare_half_overhead = bare_half.latency_ms.p50 - SLOWEST_MS
    ctx.compare(
        Comparison(
            SCENARIO,
            database,
            f"p50 overhead over the slowest insurer at {half:g} req/s "
            "(half the closed-loop throughput)",
            service_half.latency_ms.p50 - SLOWEST_MS,
            "bare fan-out's overhead at the same rate",
            bare_half_overhead,
            "ms",
            target=half_overhead_target(bare_half_overhead),
        )
    )
