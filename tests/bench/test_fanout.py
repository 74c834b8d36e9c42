"""The fan-out scenario's pure parts: the rate at half the service's capacity, the overhead
target at that rate, and the CPU per request its CPU ratio divides."""

from __future__ import annotations

import math

from bench.results import Comparison, Measurement
from bench.scenarios.fanout import cpu_ms_per_request, half_overhead_target, half_rate
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
