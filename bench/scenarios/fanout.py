"""Quote fan-out: ten simulated insurers at 50 to 200 ms, the service against a bare aiohttp
fan-out of the same calls.

- Latency: open loop at the rate that keeps ten requests in flight on average (Little's law:
  10 / 0.2 s = 50 requests/s); each request's latency over the slowest insurer's, at p50 and
  p99. The overhead target is p50 within 10 ms of the slowest insurer. At two in flight
  (issue 22: within 5 ms), the median of ``ROUNDS`` measurements.
- Throughput: closed loop with 50 concurrent requests, against the bare fan-out's; and the
  server's CPU per answered request there, against the bare fan-out's (issue 22: at most 2x).
  The two alternate ``ROUNDS`` times, each first in turn; each ratio is the median round's.
- Latency at half the service's own capacity: open loop at half the closed-loop throughput just
  measured, the service and the bare fan-out at the same rate, alternated the same way; the
  service's p50 overhead over the slowest insurer within twice the bare fan-out's overhead plus
  5 ms (issue 22), in the round whose overhead is the median share of its bound.

The service answers ``POST /v1/quote-requests?wait=true``: it stores the request and a row per
insurer, calls all ten, stores each outcome with its offers and captured exchange as it lands,
then ranks the offers into the answer. The baseline only sends the calls and decodes the answers.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from accelerator.auth.principal import Role
from bench import databases, processes
from bench.context import RunContext, call, expect
from bench.keys import issue_key
from bench.loadgen import FixedRequests, http_request
from bench.results import Comparison, Measurement, in_turns, median_round
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
#: How many times each of issue 22's figures is measured (its median counts).
ROUNDS = 3
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


def half_overhead_bound(bare_overhead_ms: float) -> float:
    """The most the service's p50 overhead at half capacity may be, from the bare fan-out's
    overhead measured at the same rate: twice it plus ``HALF_OVERHEAD_SLACK_MS`` (a bare
    overhead below zero, answers faster than the slowest insurer's nominal latency, counts as
    zero)."""
    return 2 * max(0.0, bare_overhead_ms) + HALF_OVERHEAD_SLACK_MS


def half_overhead_target(bare_overhead_ms: float) -> str:
    """:func:`half_overhead_bound` as the comparison's target."""
    return f"value <= {half_overhead_bound(bare_overhead_ms):.2f}"


def _throughput(measurement: Measurement) -> float:
    return measurement.throughput


def _median_cpu_round(rounds: list[tuple[Measurement, Measurement]]) -> tuple[float, float]:
    """The service's and the bare fan-out's CPU per request in the round whose ratio of the
    two is the median."""
    pairs = [
        (cpu_ms_per_request(service, "server"), cpu_ms_per_request(bare, "bare"))
        for service, bare in rounds
    ]
    if any(math.isnan(figure) for pair in pairs for figure in pair):
        return math.nan, math.nan  # a round not measured: no median to pick (a missed target)
    return median_round(pairs, float)


def _median_half_round(
    rounds: list[tuple[Measurement, Measurement]],
) -> tuple[Measurement, Measurement]:
    """Of (service, bare) pairs at the same rate, the round whose service p50 overhead ÷ the
    bound its bare overhead sets (:func:`half_overhead_bound`) is the median."""

    def share_of_bound(pair: tuple[Measurement, Measurement]) -> float:
        service, bare = (m.latency_ms.p50 - SLOWEST_MS for m in pair)
        return service / half_overhead_bound(bare)

    return sorted(rounds, key=share_of_bound)[len(rounds) // 2]


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
            service = ("quote request ?wait=true", (port, quotes))
            baseline = ("bare aiohttp fan-out", (bare_port, fanouts))

            def measure(label: str, target: tuple[int, FixedRequests], **load: Any) -> Measurement:
                return ctx.measure(SCENARIO, database, label, target[0], target[1], **load)

            # Issue 22's figures are each the median of ROUNDS: one measurement of each, taken
            # minutes apart, moved by half between two runs of the same code (CPU ratio 2.15
            # and 3.06, overhead at half throughput 56.6 and 12.8 ms; docs/performance.md).
            light_rounds = [
                measure(f"{service[0]} (round {n} of {ROUNDS})", service[1], rate=light)
                for n in range(1, ROUNDS + 1)
            ]
            service_at = measure(service[0], service[1], rate=rate)
            bare_at = measure(baseline[0], baseline[1], rate=rate)

            def alternated(**load: Any) -> list[tuple[Measurement, Measurement]]:
                """The service and the bare fan-out in turns, each first in every other round."""
                return in_turns(
                    lambda label, target: measure(label, target, **load),
                    service,
                    baseline,
                    ROUNDS,
                    swap_order=True,
                )

            max_rounds = alternated(connections=CONCURRENT)
            service_max, bare_max = median_round(max_rounds, _throughput)
            half = half_rate(service_max.throughput)
            half_rounds = alternated(rate=half)
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
    service_light = sorted(light_rounds, key=lambda m: m.latency_ms.p50)[ROUNDS // 2]
    ctx.compare(
        Comparison(
            SCENARIO,
            database,
            f"p50 overhead over the slowest insurer at {light:g} req/s "
            f"(~{LIGHT_IN_FLIGHT} in flight, the median of {ROUNDS} measurements)",
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
            f"quote requests per second, {CONCURRENT} concurrent (the median of {ROUNDS} "
            "rounds' ratios)",
            service_max.throughput,
            "bare aiohttp fan-out",
            bare_max.throughput,
            "req/s",
            target="ratio >= 0.4",
        )
    )
    service_cpu, bare_cpu = _median_cpu_round(max_rounds)
    ctx.compare(
        Comparison(
            SCENARIO,
            database,
            f"server CPU per quote request, {CONCURRENT} concurrent (the median of {ROUNDS} "
            "rounds' ratios)",
            service_cpu,
            "bare fan-out's CPU per request",
            bare_cpu,
            "ms",
            target=f"ratio <= {CPU_RATIO_TARGET:g}",
        )
    )
    service_half, bare_half = _median_half_round(half_rounds)
    bare_half_overhead = bare_half.latency_ms.p50 - SLOWEST_MS
    ctx.compare(
        Comparison(
            SCENARIO,
            database,
            f"p50 overhead over the slowest insurer at {half:g} req/s "
            f"(half the closed-loop throughput; the median of {ROUNDS} rounds)",
            service_half.latency_ms.p50 - SLOWEST_MS,
            "bare fan-out's overhead at the same rate",
            bare_half_overhead,
            "ms",
            target=half_overhead_target(bare_half_overhead),
        )
    )
