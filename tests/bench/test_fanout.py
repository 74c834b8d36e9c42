"""The fan-out scenario's pure parts: the rate at half the service's capacity, the overhead
target at that rate, the CPU per request its CPU ratio divides, and which of several rounds
each figure takes."""

from __future__ import annotations

import math

from bench.results import Comparison, Measurement
from bench.scenarios.fanout import (
    _median_cpu_round,
    _median_half_round,
    cpu_ms_per_request,
    half_overhead_bound,
    half_overhead_target,
    half_rate,
)
from bench.stats import LatencySummary


def _closed_loop(throughput: float, **cpu: float) -> Measurement:
    return Measurement(
        scenario="fanout",
        database="postgresql",
        label="quote request ?wait=true",
        mode="closed",
        connections=50,
        offered_rate=None,
        duration_seconds=3.0,
        throughput=throughput,
        latency_ms=LatencySummary.of([0.25]),
        send_lag_ms=LatencySummary.of([]),
        failures=0,
        statuses={200: int(throughput * 3)},
        errors={},
        samples=[],
        extra=dict(cpu),
    )


def test_half_rate_is_half_the_closed_loops_throughput_to_two_figures() -> None:
    assert half_rate(187.0) == 94.0
    assert half_rate(1234.0) == 620.0
    assert half_rate(41.0) == 20.0


def test_half_rate_of_a_run_that_answered_nothing_still_offers_load() -> None:
    assert half_rate(0.0) == 1.0
    assert half_rate(1.5) == 1.0


def test_the_half_capacity_target_is_twice_the_bare_overhead_plus_five_ms() -> None:
    assert half_overhead_target(3.0) == "value <= 11.00"
    # The bare fan-out answering before the slowest insurer's nominal latency is no credit.
    assert half_overhead_target(-0.4) == "value <= 5.00"


def test_the_half_capacity_comparison_is_met_only_within_its_bound() -> None:
    def compare(service_overhead: float) -> bool | None:
        return Comparison(
            "fanout",
            "postgresql",
            "p50 overhead at half capacity",
            service_overhead,
            "bare fan-out's overhead at the same rate",
            3.0,
            "ms",
            target=half_overhead_target(3.0),
        ).met

    assert compare(10.9) is True
    assert compare(11.1) is False


def test_cpu_per_request_divides_the_cores_kept_busy_by_the_answers_a_second() -> None:
    # Half a core for 100 answers a second: 5 ms of CPU each.
    assert cpu_ms_per_request(_closed_loop(100.0, cpu_server=0.5), "server") == 5.0
    assert cpu_ms_per_request(_closed_loop(200.0, cpu_bare=0.3), "bare") == 1.5


def test_cpu_per_request_of_nothing_answered_or_not_sampled_is_not_a_figure() -> None:
    assert math.isnan(cpu_ms_per_request(_closed_loop(0.0, cpu_server=0.5), "server"))
    assert math.isnan(cpu_ms_per_request(_closed_loop(100.0), "server"))


def _open_loop(label: str, p50_ms: float) -> Measurement:
    return Measurement(
        scenario="fanout",
        database="postgresql",
        label=label,
        mode="open",
        connections=64,
        offered_rate=50.0,
        duration_seconds=3.0,
        throughput=50.0,
        latency_ms=LatencySummary.of([p50_ms / 1000]),
        send_lag_ms=LatencySummary.of([]),
        failures=0,
        statuses={200: 150},
        errors={},
        samples=[],
        extra={},
    )


def test_each_figure_counts_its_median_round_not_a_disturbed_one() -> None:
    # CPU ratios 3.0, 9.0 (the machine busy in round 2) and 2.5: the median round is the first.
    rounds = [
        (_closed_loop(100.0, cpu_server=0.6), _closed_loop(200.0, cpu_bare=0.4)),
        (_closed_loop(50.0, cpu_server=0.9), _closed_loop(200.0, cpu_bare=0.4)),
        (_closed_loop(100.0, cpu_server=0.5), _closed_loop(200.0, cpu_bare=0.4)),
    ]
    assert _median_cpu_round(rounds) == (6.0, 2.0)

    # At half capacity, overheads 8 ms against a bound of 2 × 4 + 5 = 13, 30 against 13 and
    # 4 against 2 × 3 + 5 = 11: the median share of its bound is the first round's.
    half = [
        (_open_loop("quote request", 208.0), _open_loop("bare", 204.0)),
        (_open_loop("quote request", 230.0), _open_loop("bare", 204.0)),
        (_open_loop("quote request", 204.0), _open_loop("bare", 203.0)),
    ]
    service, bare = _median_half_round(half)
    assert (service.latency_ms.p50, bare.latency_ms.p50) == (208.0, 204.0)
    assert half_overhead_bound(bare.latency_ms.p50 - 200.0) == 13.0
