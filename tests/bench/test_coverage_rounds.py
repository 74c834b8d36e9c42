"""The coverage scenario's single-check figure: alternated rounds, each side first in turn, the
median round's ratio, and the same ratio per second of the server's CPU."""

from __future__ import annotations

import math

from bench.loadgen import FixedRequests
from bench.results import Measurement, median_round
from bench.scenarios.coverage import _per_cpu_second, _rounds
from bench.stats import LatencySummary


def measurement(label: str, throughput: float, server_busy: float | None) -> Measurement:
    nothing = LatencySummary.of([])
    return Measurement(
        scenario="coverage",
        database="sqlite",
        label=label,
        mode="closed",
        connections=64,
        offered_rate=None,
        duration_seconds=3.0,
        throughput=throughput,
        latency_ms=nothing,
        send_lag_ms=nothing,
        failures=0,
        statuses={200: int(throughput * 3)},
        errors={},
        samples=[],
        extra={} if server_busy is None else {"cpu_server": server_busy},
    )


def test_the_check_and_the_lookup_take_turns_going_first_and_the_median_round_counts() -> None:
    measured: list[str] = []

    # Round n: the check answers 100·n, the lookup 200·n except in round 2 (ratios 0.5, 0.2,
    # 0.5, 0.5, 0.5): a disturbed round does not count.
    def measure(label: str, _source: FixedRequests) -> Measurement:
        measured.append(label)
        number = int(label.split("round ")[1].split()[0])
        if label.startswith("check"):
            return measurement(label, 100.0 * number, 0.9)
        return measurement(label, 1000.0 if number == 2 else 200.0 * number, 0.9)

    requests = FixedRequests(())
    pairs = _rounds(measure, ("check", requests), ("lookup", requests), 5, swap_order=True)

    assert [label.split(" (")[0] for label in measured] == [
        "lookup", "check", "check", "lookup", "lookup", "check", "check", "lookup", "lookup",
        "check",
    ]  # fmt: skip
    check, lookup = median_round(pairs, lambda m: m.throughput)
    assert check.throughput / lookup.throughput == 0.5


def test_answers_per_cpu_second_do_not_depend_on_how_busy_the_server_was_let_be() -> None:
    # The same work per answer, the server given 0.4 or 0.9 of its core.
    starved, fed = measurement("a", 400.0, 0.4), measurement("b", 900.0, 0.9)
    assert _per_cpu_second(starved) == _per_cpu_second(fed) == 1000.0
    assert math.isnan(_per_cpu_second(measurement("c", 400.0, None)))
